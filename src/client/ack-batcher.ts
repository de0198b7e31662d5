/**
 * Collects message ids to acknowledge and hands them over in batches: after
 * `delayMs` from the first id of a batch, or at once when `maxBatch` ids are
 * waiting. One `ack` request per batch instead of one per message.
 */

export interface AckBatcherOptions {
  /** how long the first id of a batch may wait, ms (default 10) */
  delayMs?: number;
  /** ids per `ack` request, at most 1000 by the protocol (default 1000) */
  maxBatch?: number;
}

export const ACK_DEFAULTS = { delayMs: 10, maxBatch: 1000 } satisfies Required<AckBatcherOptions>;

export class AckBatcher {
  readonly delayMs: number;
  readonly maxBatch: number;
  #mids: number[] = [];
  /** the ids in #mids, to skip a mid delivered twice within one batch */
  #inBatch = new Set<number>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** @param send called with each batch (1..maxBatch ids) */
  constructor(
    private readonly send: (mids: number[]) => void,
    options: AckBatcherOptions = {},
  ) {
    const o = { ...ACK_DEFAULTS, ...options };
    if (!(o.delayMs >= 0)) throw new TypeError("autoAck.delayMs must be >= 0");
    if (!(Number.isInteger(o.maxBatch) && o.maxBatch >= 1 && o.maxBatch <= 1000)) {
      throw new TypeError("autoAck.maxBatch must be an integer within 1..1000");
    }
    this.delayMs = o.delayMs;
    this.maxBatch = o.maxBatch;
  }

  /** Ids waiting for the next batch. */
  get pending(): number {
    return this.#mids.length;
  }

  add(mid: number): void {
    if (this.#inBatch.has(mid)) return;
    this.#inBatch.add(mid);
    this.#mids.push(mid);
    if (this.#mids.length >= this.maxBatch) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Sends what waits now. */
  flush(): void {
    this.#stopTimer();
    this.#inBatch.clear();
    while (this.#mids.length > 0) this.send(this.#mids.splice(0, this.maxBatch));
  }

  /** Forgets what waits (the connection that received those messages is gone). */
  clear(): void {
    this.#stopTimer();
    this.#mids = [];
    this.#inBatch.clear();
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
