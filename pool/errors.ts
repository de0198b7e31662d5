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
