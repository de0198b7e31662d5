/** The pool's failures, each with a stable `code` (STYLE.md "Errors"). */

/** `lease()` on a closed pool, or a waiter still queued when the pool closed. */
export class PoolClosedError extends Error {
  readonly code = "pool_closed";
  constructor() {
    super("the connection pool is closed");
    this.name = "PoolClosedError";
  }
}

/** No connection became free within `connectionTimeout`. */
export class PoolTimeoutError extends Error {
  readonly code = "pool_timeout";
  constructor(
    /** The `connectionTimeout` that elapsed, in ms. */
    readonly timeoutMs: number,
    /** The pool's state when the waiter gave up, for the log line. */
    readonly state: { size: number; inUse: number; pending: number; waiting: number },
  ) {
    super(
      `no connection available within ${timeoutMs} ms ` +
        `(size=${state.size}, inUse=${state.inUse}, opening=${state.pending}, waiting=${state.waiting})`,
    );
    this.name = "PoolTimeoutError";
  }
}

/** What one host answered when the pool tried it during a failover. */
export interface HostAttempt {
  /** "host:port". */
  host: string;
  /** Why it was passed over: the driver's error, or its Galera state. */
  reason: string;
  /** The driver's error code, when it failed with one (ECONNREFUSED, ER_ACCESS_DENIED_ERROR, ...). */
  errorCode?: string;
}

/**
 * A host list where no host answered and was ready (Galera: `wsrep_ready`
 * ON and Synced). The message names every host tried and why it was passed
 * over; the requests that waited get this and may try again.
 */
export class HostsUnavailableError extends Error {
  readonly code = "hosts_unavailable";
  constructor(readonly tried: HostAttempt[]) {
    super(`no database host is ready: ${tried.map((t) => `${t.host} (${t.reason})`).join(", ")}`);
    this.name = "HostsUnavailableError";
  }
}
