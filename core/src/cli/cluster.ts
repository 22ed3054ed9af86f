import cluster, { type Worker } from 'node:cluster';

/**
 * `cardshop start` serves from child processes of this one (node:cluster, one listening port):
 * one by default, `--workers N` on MySQL, where many app processes share the database. The
 * children get a young generation big enough for a busy shop (V8's default promotes the objects of
 * every request still waiting for its batch, and the collector then costs a fifth of the time),
 * unless the operator chose a size already.
 *
 * One child: this process lives and dies with it (its exit code or its signal), so a supervisor
 * sees exactly what it would see without this layer. Several: a child that dies is started again
 * (at most RESTARTS a minute). A child exits when this process dies, even by SIGKILL (its IPC
 * channel closes). SIGINT and SIGTERM are passed on to every child, each time they arrive.
 */

const YOUNG_GENERATION = '--max-semi-space-size=64';
const RESTARTS = 10;

export function youngGenerationFlag(execArgv: string[], nodeOptions = ''): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size')) ? [] : [YOUNG_GENERATION];
}

export const isServingChild = () => cluster.isWorker;

export function supervise(workers: number, say: { restarting(pid: number, how: string): void; givingUp(pid: number, how: string): void }): Promise<number> {
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...youngGenerationFlag(process.execArgv, process.env.NODE_OPTIONS)] });
  let stopping = false;
  let failed = false;
  const restarts: number[] = [];
  return new Promise((resolve) => {
    const forward = (signal: NodeJS.Signals) => () => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    };
    process.on('SIGINT', forward('SIGINT'));
    process.on('SIGTERM', forward('SIGTERM'));
    cluster.on('exit', (worker: Worker, code: number | null, signal: NodeJS.Signals | null) => {
      const alive = Object.keys(cluster.workers ?? {}).length;
      if (workers === 1) {
        // Die as the child died, so whoever started us sees the same.
        if (signal) {
          process.removeAllListeners(signal);
          process.kill(process.pid, signal);
        }
        return resolve(code ?? 1);
      }
      if (stopping) {
        if (!alive) resolve(failed ? 1 : 0);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts[0]! < now - 60_000) restarts.shift();
      const how = String(signal ?? code);
      if (restarts.length > RESTARTS) {
        say.givingUp(worker.process.pid!, how);
        failed = true;
        forward('SIGTERM')();
        if (!alive) resolve(1);
        return;
      }
      say.restarting(worker.process.pid!, how);
      cluster.fork();
    });
    for (let i = 0; i < workers; i++) cluster.fork();
  });
}
