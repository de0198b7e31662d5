/**
 * Group commit: callers submit items one at a time and each gets its own
 * result, but items that arrive while a batch is being written are written
 * together in the next one. One fsync then serves a whole batch, and the
 * caller's promise still settles only once its own item is committed.
 */
export interface GroupCommitOptions {
  /** Most items in one batch. Default 500. */
  maxBatch?: number;
  /** Batches written at once. Default 1, which keeps batches in submit order. */
  concurrency?: number;
  /** Called with each batch's size once it is written (metrics). */
  onBatch?: (size: number, ms: number) => void;
}

interface Entry<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<T, R> {
  readonly #write: (items: T[]) => Promise<R[]>;
  readonly #maxBatch: number;
  readonly #concurrency: number;
  readonly #onBatch?: (size: number, ms: number) => void;
  #queue: Entry<T, R>[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];

  /** `write` stores a batch and returns one result per item, in order; a throw fails the whole batch. */
  constructor(write: (items: T[]) => Promise<R[]>, options: GroupCommitOptions = {}) {
    this.#write = write;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#concurrency = options.concurrency ?? 1;
    this.#onBatch = options.onBatch;
    if (this.#maxBatch < 1 || this.#concurrency < 1) throw new TypeError("maxBatch and concurrency must be at least 1");
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Items waiting for a batch, and batches being written. */
  get backlog(): { queued: number; inFlight: number } {
    return { queued: this.#queue.length, inFlight: this.#inFlight };
  }

  /** Resolves once everything submitted so far is written (or failed). */
  drained(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #schedule() {
    if (this.#scheduled || this.#inFlight >= this.#concurrency) return;
    this.#scheduled = true;
    // Items submitted in the same tick join the first batch too.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush() {
    while (this.#queue.length > 0 && this.#inFlight < this.#concurrency) {
      const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
      this.#inFlight++;
      void this.#run(batch);
    }
  }

  async #run(batch: Entry<T, R>[]) {
    const started = performance.now();
    try {
      const results = await this.#write(batch.map((e) => e.item));
      this.#onBatch?.(batch.length, performance.now() - started);
      for (let i = 0; i < batch.length; i++) (batch[i] as Entry<T, R>).resolve(results[i] as R);
    } catch (e) {
      for (const entry of batch) entry.reject(e);
    } finally {
      this.#inFlight--;
      if (this.#queue.length > 0) this.#flush();
      else if (this.#inFlight === 0) for (const r of this.#idle.splice(0)) r();
    }
  }
}
