/**
 * Crash points, for tests that prove a restart loses nothing: with `CARDSHOP_CRASH_AT=<point>` in
 * its environment, the process kills itself with SIGKILL when it reaches that point, as a power
 * cut or `kill -9` would (no `finally`, no shutdown). Without the variable every point is a no-op.
 *
 * - `checkout.committed`: a wallet checkout's batch is committed, the buyer not answered yet;
 * - `notify.paid`: a gateway's notify marked its order paid (and wrote its delivery job), the
 *   gateway not answered yet, so it will send the notify again;
 * - `delivery.claimed`: a worker holds delivery jobs' leases and has run none of them;
 * - `supplier.placed`: a supplier accepted an order (a top-up) and its answer is not recorded yet.
 */
export type CrashPoint = 'checkout.committed' | 'notify.paid' | 'delivery.claimed' | 'supplier.placed';

const armed = process.env.CARDSHOP_CRASH_AT;

export function crashPoint(point: CrashPoint): void {
  if (armed === point) process.kill(process.pid, 'SIGKILL');
}
