/** Latency samples and percentiles: every sample kept (bounded), sorted once at the end. */

export class Samples {
  #data: Float64Array;
  #n = 0;
  /** samples that did not fit (counted, not kept) */
  dropped = 0;
  constructor(readonly max = 20_000_000) {
    this.#data = new Float64Array(Math.min(max, 65_536));
  }

  add(v: number) {
    if (this.#n === this.#data.length) {
      if (this.#n >= this.max) {
        this.dropped++;
        return;
      }
      const bigger = new Float64Array(Math.min(this.max, this.#data.length * 2));
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = v;
  }

  get count() {
    return this.#n;
  }

  /** p50/p90/p99/p99.9/max/mean, rounded to 0.01 ms; zeros when empty. */
  summary(): LatencySummary {
    const n = this.#n;
    if (n === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const s = this.#data.subarray(0, n).slice().sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += s[i]!;
    const at = (q: number) => r2(s[Math.min(n - 1, Math.ceil(q * n) - 1)]!);
    return { count: n, mean: r2(sum / n), p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: r2(s[n - 1]!) };
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Counts by key (error codes). */
export class Counter {
  readonly map = new Map<string, number>();
  add(key: string, n = 1) {
    this.map.set(key, (this.map.get(key) ?? 0) + n);
  }
  get total() {
    let t = 0;
    for (const v of this.map.values()) t += v;
    return t;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.map].sort((a, b) => b[1] - a[1]));
  }
}
