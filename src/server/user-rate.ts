/**
 * A per-user rate: a token bucket per user of `perMinute` tokens, refilled
 * continuously. It keeps ids from being walked (friend requests to 1..N) on
 * one node; memory is bounded by forgetting users whose bucket is full again.
 */
export class UserRate {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #buckets = new Map<number, { tokens: number; at: number }>();

  /** `perMinute` 0 turns the limit off. */
  constructor(perMinute: number, now: () => number = () => performance.now()) {
    if (!(perMinute >= 0)) throw new TypeError("perMinute must be 0 or more");
    this.#perMs = perMinute / 60_000;
    this.#burst = perMinute;
    this.#now = now;
  }

  /** Takes a token for `user`; false when the user is over the rate. */
  take(user: number): boolean {
    if (this.#burst === 0) return true;
    const now = this.#now();
    const b = this.#buckets.get(user);
    const tokens = b ? Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs) : this.#burst;
    if (tokens < 1) return false;
    if (this.#buckets.size >= 10_000 && !b) this.#sweep(now);
    this.#buckets.set(user, { tokens: tokens - 1, at: now });
    return true;
  }

  /** Forgets the users whose buckets have filled up again: they start full anyway. */
  #sweep(now: number) {
    for (const [u, b] of this.#buckets) if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(u);
  }
}
