import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';

/** Ctrl+C or the end of input while a question waits. */
export class Aborted extends Error {}

export interface Choice<T extends string> {
  value: T;
  label: string;
}

/**
 * Questions on a terminal, with node:readline. Each answer is checked by `parse`, which returns
 * the value or an error message; a bad answer shows the message and asks again.
 */
export class Prompter {
  private rl: Interface;
  private muted = false;
  private lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  private ended = false;
  private fail: ((err: Error) => void) | undefined;

  /** @param choose what to call the answer to a list ("number") */
  constructor(
    input: NodeJS.ReadableStream,
    private out: NodeJS.WritableStream,
    private choose = '#',
  ) {
    // Typed characters echo through this stream, so a password can be hidden by muting it.
    const echo = new Writable({
      write: (chunk, _enc, done) => {
        if (!this.muted) out.write(chunk);
        done();
      },
    });
    this.rl = createInterface({ input, output: echo, terminal: (input as { isTTY?: boolean }).isTTY === true });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else this.lines.push(line);
    });
    const abort = () => {
      this.ended = true;
      this.fail?.(new Aborted());
    };
    this.rl.on('SIGINT', abort);
    this.rl.on('close', abort);
  }

  private readLine(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Aborted());
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.fail = reject;
    });
  }

  /** Asks until `parse` accepts the answer; an empty answer means `fallback`. */
  async ask<T>(question: string, fallback: string, parse: (answer: string) => Promise<T | { error: string }> | T | { error: string }, secret = false): Promise<T> {
    for (;;) {
      // Through readline, so that line editing redraws the question with the answer.
      this.rl.setPrompt(`? ${question}${fallback && !secret ? ` (${fallback})` : ''}: `);
      this.rl.prompt();
      this.muted = secret;
      let line: string;
      try {
        line = (await this.readLine()).trim();
      } finally {
        if (secret) this.out.write('\n');
        this.muted = false;
      }
      const result = await parse(line || fallback);
      if (result && typeof result === 'object' && 'error' in result) this.out.write(`  ${result.error}\n`);
      else return result as T;
    }
  }

  /** One of `choices`, by number or by value. */
  select<T extends string>(question: string, choices: Choice<T>[], fallback: T): Promise<T> {
    this.out.write(`? ${question}\n${choices.map((c, i) => `  ${i + 1}) ${c.label}`).join('\n')}\n`);
    return this.ask(this.choose, String(choices.findIndex((c) => c.value === fallback) + 1), (answer) => {
      const picked = choices[Number(answer) - 1] ?? choices.find((c) => c.value === answer);
      return picked ? picked.value : { error: choices.map((c, i) => `${i + 1}=${c.value}`).join(' ') };
    });
  }

  /** Any of `choices`, by numbers or values separated by commas or spaces; empty for none. */
  multiSelect<T extends string>(question: string, choices: Choice<T>[], parse: (answer: string) => T[] | { error: string }): Promise<T[]> {
    this.out.write(`? ${question}\n${choices.map((c, i) => `  ${i + 1}) ${c.label}`).join('\n')}\n`);
    return this.ask(this.choose, '', (answer) =>
      parse(
        answer
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((a) => choices[Number(a) - 1]?.value ?? a)
          .join(','),
      ),
    );
  }

  close(): void {
    this.rl.removeAllListeners('close');
    this.rl.close();
  }
}
