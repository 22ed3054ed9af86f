/**
 * Group commit: callers submit one item each; items that arrive while a batch is being committed
 * wait and go together into the next one. Under load this turns N transactions into N/batch,
 * which is what makes SQLite through an async driver fast; with no load a batch is one item and
 * nothing waits.
 *
 * `run` returns one outcome per item (a value or an Error for that item alone). If `run` throws,
 * the batch is split and each item is run alone, so one poisoned item cannot fail its neighbours,
 * unless `failsAll` says the error is no item's doing (the database is away): then the whole
 * batch fails with it at once, instead of every item waiting out the same error again.
 */
export type Outcome<R> = R | Error;

interface Waiter<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

export interface GroupCommitOptions {
  maxBatch: number;
  /** Batches committing at once: 1 for SQLite (one writer), more for MySQL. */
  concurrency: number;
  /** How long the first item of an idle queue waits for company. */
  waitMs: number;
  /** An error that would fail every item alone as well. */
  failsAll?: (err: unknown) => boolean;
}

export class GroupCommit<T, R> {
  private queue: Array<Waiter<T, R>> = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (items: T[]) => Promise<Array<Outcome<R>>>,
    private readonly opts: GroupCommitOptions,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting (for metrics and tests). */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once everything submitted so far is committed (for a graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.running || this.timer) await new Promise((r) => setTimeout(r, 5));
  }

  private schedule(): void {
    if (this.running >= this.opts.concurrency || !this.queue.length || this.timer) return;
    if (this.opts.waitMs > 0 && this.running === 0 && this.queue.length < this.opts.maxBatch) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.startBatch();
      }, this.opts.waitMs);
      return;
    }
    this.startBatch();
  }

  private startBatch(): void {
    if (this.running >= this.opts.concurrency || !this.queue.length) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.running++;
    void this.commit(batch).finally(() => {
      this.running--;
      this.schedule();
    });
    this.schedule();
  }

  private async commit(batch: Array<Waiter<T, R>>): Promise<void> {
    let outcomes: Array<Outcome<R>>;
    try {
      outcomes = await this.run(batch.map((w) => w.item));
    } catch (err) {
      if (batch.length === 1 || this.opts.failsAll?.(err)) return batch.forEach((w) => w.reject(err));
      // Run each alone: whatever broke the batch now fails only the item that carries it.
      await Promise.all(batch.map((w) => this.commit([w])));
      return;
    }
    batch.forEach((w, i) => {
      const o = outcomes[i];
      if (o instanceof Error) w.reject(o);
      else w.resolve(o as R);
    });
  }
}
