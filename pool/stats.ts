/** The pool's metrics: gauges and counters, and the lease-wait histogram. */

/** Upper bounds (ms) of the lease-wait histogram; leases served at once count as 0 ms. */
export const LEASE_WAIT_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface PoolStats {
  /** Connections open (idle or in use); `pending` more are being opened. */
  size: number;
  idle: number;
  /** Leased, or being validated for a lease. */
  inUse: number;
  /** Connections being opened. */
  pending: number;
  /** `lease()` calls waiting for a connection. */
  waiting: number;
  /** Connections opened since the pool was made. */
  created: number;
  /** Connections closed since the pool was made (dead, broken, idle, expired, pool closed). */
  destroyed: number;
  /** Failed connection attempts. */
  createErrors: number;
  /** Connections that failed the validation ping. */
  validationFailures: number;
  /** Leases that gave up with PoolTimeoutError. */
  timeouts: number;
  /** Times new connections moved to another host of the list (failovers and failbacks). */
  failovers: number;
  /** Leases granted. */
  leases: number;
  /** Sum of lease waits in ms (0 for a lease served at once). */
  leaseWaitMsTotal: number;
  /** Longest lease wait in ms. */
  leaseWaitMsMax: number;
  /** Cumulative histogram of lease waits, Prometheus style: [upper bound ms, leases that waited at most that]. */
  leaseWaitHistogram: Array<[le: number, count: number]>;
}

/** Lease waits: count, sum, max and a bucketed histogram, kept without allocating per lease. */
export class WaitHistogram {
  #leases = 0;
  #total = 0;
  #max = 0;
  /** Counts per bucket of LEASE_WAIT_BUCKETS_MS (not cumulative), plus one for +Inf. */
  readonly #counts = new Array<number>(LEASE_WAIT_BUCKETS_MS.length + 1).fill(0);

  /** A lease served at once: 0 ms. */
  immediate(): void {
    this.#leases++;
    this.#counts[0]!++;
  }

  record(ms: number): void {
    this.#leases++;
    this.#total += ms;
    if (ms > this.#max) this.#max = ms;
    let i = 0;
    while (i < LEASE_WAIT_BUCKETS_MS.length && ms > LEASE_WAIT_BUCKETS_MS[i]!) i++;
    this.#counts[i]!++;
  }

  snapshot(): Pick<PoolStats, "leases" | "leaseWaitMsTotal" | "leaseWaitMsMax" | "leaseWaitHistogram"> {
    const histogram: Array<[number, number]> = [];
    let cumulative = 0;
    for (let i = 0; i <= LEASE_WAIT_BUCKETS_MS.length; i++) {
      cumulative += this.#counts[i]!;
      histogram.push([LEASE_WAIT_BUCKETS_MS[i] ?? Infinity, cumulative]);
    }
    return { leases: this.#leases, leaseWaitMsTotal: this.#total, leaseWaitMsMax: this.#max, leaseWaitHistogram: histogram };
  }
}
