/**
 * A set that remembers only the last `capacity` values added: used to drop
 * messages delivered twice (delivery is at least once) without growing forever.
 */
export class RecentSet<T> {
  // A Set iterates in insertion order, so its first value is the oldest.
  #values = new Set<T>();

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new TypeError("capacity must be a positive integer");
  }

  has(value: T): boolean {
    return this.#values.has(value);
  }

  /** Adds `value`; returns false when it was already there. */
  add(value: T): boolean {
    if (this.#values.has(value)) return false;
    this.#values.add(value);
    if (this.#values.size > this.capacity) {
      const oldest = this.#values.values().next().value as T;
      this.#values.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.#values.size;
  }

  clear(): void {
    this.#values.clear();
  }
}
