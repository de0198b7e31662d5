/** A borrowed connection and the pool's record of each connection. */
import type { Connection } from "mysql2/promise";

export const IDLE = 0;
export const LEASED = 1;
export const VALIDATING = 2;
export const CLOSED = 3;
export type SlotState = typeof IDLE | typeof LEASED | typeof VALIDATING | typeof CLOSED;

export type Runner = (this: unknown, sql: unknown, values?: unknown) => Promise<unknown>;

const unset = (): never => {
  throw new Error("slot not initialised");
};

/** One connection the pool owns, and what the pool knows about it. */
export class Slot {
  state: SlotState = LEASED;
  /** performance.now() when last returned (or opened): idle time is measured from it. */
  lastUsed: number;
  /** Saw an 'error' or 'end' event, or a query error that ended the session: never handed out again. */
  dead = false;
  /** Index of the host (in the pool's list) this connection goes to. */
  host = 0;
  /** The connection's own query and execute, before the pool wrapped them to watch for errors. */
  runQuery: Runner = unset;
  runExecute: Runner = unset;
  /** then() callbacks of pool.query/execute, made once per connection so a query allocates no closures. */
  done: (result: unknown) => unknown = unset;
  failed: (err: unknown) => never = unset;

  constructor(
    readonly conn: Connection,
    /**
     * mysql2's core connection behind the promise wrapper. Its `state` leaves
     * "authenticated" once the connection saw a fatal error or was closed, which
     * mysql2 does not always announce with an event when a query was running.
     */
    readonly core: { readonly state: string } | undefined,
    /** performance.now() after which the connection is retired (max lifetime, jittered). */
    readonly expiresAt: number,
    now: number,
  ) {
    this.lastUsed = now;
  }

  /** Still usable: no error event, and mysql2 has not marked it failed or closed. */
  get healthy(): boolean {
    return !this.dead && (this.core === undefined || this.core.state === "authenticated");
  }
}

/** What a lease needs from its pool. */
export interface LeaseOwner {
  release(slot: Slot): void;
  destroy(slot: Slot): void;
}

const DONE: Promise<void> = Promise.resolve();

/**
 * A connection on loan. Give it back exactly once, in a `finally` or with
 * `await using lease = await pool.lease()`; a second `release()` (or a
 * `release()` after `destroy()`) does nothing, so it cannot return someone
 * else's connection.
 */
export class Lease implements AsyncDisposable, Disposable {
  /** The mysql2 promise connection; do not use it after release. */
  readonly conn: Connection;
  #owner: LeaseOwner;
  #slot: Slot;
  #done = false;

  /** @internal Leases come from `pool.lease()`. */
  constructor(owner: LeaseOwner, slot: Slot) {
    this.#owner = owner;
    this.#slot = slot;
    this.conn = slot.conn;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.#done;
  }

  /** Returns the connection to the pool (or closes it, if it saw a fatal error). */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.release(this.#slot);
  }

  /** Closes the connection instead of returning it: for one known to be broken or in a bad session state. */
  destroy(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.destroy(this.#slot);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return DONE;
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
