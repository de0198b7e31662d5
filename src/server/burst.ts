/**
 * One kind of repeated event of one connection (bad frames, rate-limited
 * requests) as few log lines: the first event of a burst in full, then at
 * most one line per interval saying how many more came, and a last one when
 * the burst is over. A client that sends garbage as fast as it can costs the
 * log one line per interval, not one per frame.
 *
 * A burst is over after a quiet interval (noticed at the next event) or when
 * the connection closes (`end`). No timers: a connection that went quiet has
 * its last count reported when it next misbehaves or closes.
 */
export type BurstReport<T> =
  /** The first event of a burst, with what `hit` was given for it: log it in full. */
  | { first: true; detail: T }
  /** `count` more events in the `ms` since the previous line; `over` when the burst has ended. */
  | { first: false; count: number; ms: number; over: boolean };

export class Burst<T = undefined> {
  /** Events since the last line. */
  #pending = 0;
  #lineAt = 0;
  #lastAt = 0;
  #active = false;

  constructor(
    /** Least time between two lines of one burst, and the quiet time that ends it, ms. */
    readonly intervalMs: number,
    readonly report: (r: BurstReport<T>) => void,
  ) {}

  /** An event at `now` (ms, any monotonic origin); `detail` is reported if it starts a burst. */
  hit(now: number, detail: T) {
    if (this.#active && now - this.#lastAt >= this.intervalMs) this.end();
    this.#lastAt = now;
    if (!this.#active) {
      this.#active = true;
      this.#lineAt = now;
      this.report({ first: true, detail });
      return;
    }
    this.#pending++;
    if (now - this.#lineAt >= this.intervalMs) this.#summary(now, false);
  }

  /** The burst is over (the connection closed): reports the events not reported yet, if any. */
  end() {
    if (this.#active && this.#pending > 0) this.#summary(this.#lastAt, true);
    this.#active = false;
    this.#pending = 0;
  }

  #summary(now: number, over: boolean) {
    this.report({ first: false, count: this.#pending, ms: now - this.#lineAt, over });
    this.#pending = 0;
    this.#lineAt = now;
  }
}
