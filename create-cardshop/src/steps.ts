import { spawn, type ChildProcess } from 'node:child_process';
import type { Translate } from './messages.js';

export interface Step {
  title: string;
  /** What to check when this step fails. */
  hint?: string;
  run(): Promise<void>;
}

/** A failed step, with the end of what its command printed. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly output = '',
  ) {
    super(message);
  }
}

let running: ChildProcess | undefined;

/** Stops the command a step is running (Ctrl+C); the step then fails and the run cleans up. */
export function interrupt(): void {
  running?.kill('SIGINT');
}

/** Runs a command, keeping the last 40 lines of its output for when it fails. */
export function exec(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' });
    running = child;
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).split('\n').slice(-40).join('\n');
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('error', (err) => reject(new StepError(`${command}: ${err.message}`)));
    child.once('close', (code, signal) => {
      running = undefined;
      if (code === 0) resolve();
      else reject(new StepError(`${[command, ...args.slice(0, 2)].join(' ')} ${signal ? `was stopped (${signal})` : `exited with code ${code}`}`, output.trim()));
    });
  });
}

/**
 * Runs the steps in order, each announced as `[2/4] title` with its duration; on a terminal the
 * seconds tick while a step runs. Throws the failing step's error with the step attached.
 */
export async function runSteps(steps: Step[], t: Translate, out: NodeJS.WriteStream): Promise<void> {
  for (const [i, step] of steps.entries()) {
    out.write(`[${i + 1}/${steps.length}] ${step.title}\n`);
    const started = Date.now();
    const seconds = () => Math.round((Date.now() - started) / 1000);
    const ticker = out.isTTY ? setInterval(() => out.write(`\r      ${t('step.running', { s: seconds() })}\x1b[K`), 1000) : undefined;
    try {
      await step.run();
    } catch (err) {
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { step });
    } finally {
      clearInterval(ticker);
      if (ticker) out.write('\r\x1b[K');
    }
    out.write(`      ${t('step.done', { s: seconds() })}\n`);
  }
}
