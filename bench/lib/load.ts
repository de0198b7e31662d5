/**
 * Closed-loop load: `concurrency` workers, each running one operation after
 * another, so exactly that many operations are in flight. Every operation's
 * latency is recorded; throughput is operations over wall time.
 */

export interface LoadOptions {
  concurrency: number;
  /** Run (unrecorded) this long first: connections open, statements prepared, JIT warm. */
  warmupMs: number;
  /** Then record for this long. */
  durationMs: number;
}

export interface LoadResult {
  ops: number;
  /** Wall time of the recorded phase, seconds (until the last operation finished). */
  seconds: number;
  /** Per-operation latencies in ms, unsorted. */
  latencies: Float64Array;
  /** This process's CPU time (user + system) during the recorded phase, ms: the client-side cost. */
  cpuMs: number;
}

/** Runs `op(worker, i)` in a closed loop; an operation that throws aborts the run. */
export async function closedLoop(op: (worker: number) => Promise<unknown>, opts: LoadOptions): Promise<LoadResult> {
  const warmEnd = performance.now() + opts.warmupMs;
  let recordFrom = 0;
  let stopAt = Infinity;
  const lat: number[] = [];
  let ops = 0;
  let failure: unknown;

  const worker = async (w: number) => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= stopAt || failure !== undefined) return;
      try {
        await op(w);
      } catch (err) {
        failure ??= err;
        return;
      }
      if (t0 >= recordFrom && recordFrom > 0) {
        lat.push(performance.now() - t0);
        ops++;
      }
    }
  };

  // The switch from warm-up to recording happens on a timer while the workers keep going.
  let cpuFrom = process.cpuUsage();
  const phases = (async () => {
    await Bun.sleep(Math.max(0, warmEnd - performance.now()));
    recordFrom = performance.now();
    cpuFrom = process.cpuUsage();
    await Bun.sleep(opts.durationMs);
    stopAt = performance.now();
  })();
  await Promise.all([phases, ...Array.from({ length: opts.concurrency }, (_, w) => worker(w))]);
  if (failure !== undefined) throw failure;
  const ended = performance.now();
  const cpu = process.cpuUsage(cpuFrom);
  return { ops, seconds: (ended - recordFrom) / 1000, latencies: Float64Array.from(lat), cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The q-quantile (0..1) of unsorted values, nearest-rank. */
export function quantile(values: Float64Array, q: number): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Concatenates latency arrays. */
export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
