/**
 * The connection pool over mysql2 promise connections.
 *
 * Connections: `#idle` is a stack (LIFO: the most recently used connection is
 * handed out first, so the rest stay idle long enough for the reaper to close
 * them). Borrowers that find none wait in `#waiters`, served first come, first
 * served, each with the same `connectionTimeout`; so the queue is also ordered
 * by deadline and one timer (for the head) covers all of them. `#total` counts
 * connections open or being opened and never exceeds maxSize.
 *
 * A connection is handed out only if it is healthy: its 'error'/'end'
 * listeners take a dead idle connection out at once, a connection idle longer
 * than validationInterval is pinged first, and one that saw a fatal error is
 * closed when it comes back instead of going back to the stack.
 *
 * Several hosts (`#targets`): new connections go to `#current`. A failed
 * connect to it, or a connection to it that died, starts a failover: one at
 * a time (`#failover`; meanwhile no connection is opened and borrowers wait),
 * after a random head start, it tries the hosts in list order (failover.ts
 * probeOrder) with a connection of its own and moves `#current` to the first
 * that answers and is ready. Connections to any other host are closed as they
 * come back, so writes go to one host at a time. When no host is ready, the
 * waiting borrowers get a HostsUnavailableError naming each host tried.
 */
import type {
  Connection,
  ExecuteValues,
  FieldPacket,
  QueryResult,
  QueryValues,
  RowDataPacket,
} from "mysql2/promise";
import { type HostAttempt, HostsUnavailableError, PoolClosedError, PoolTimeoutError } from "./errors.ts";
import { checkReady, describeFailure, failoverDelay, type HostTarget, probeOrder } from "./failover.ts";
import { CLOSED, IDLE, LEASED, Lease, type LeaseOwner, type Runner, Slot, VALIDATING } from "./lease.ts";
import { endsConnection, lifetimeWithJitter } from "./health.ts";
import { resolvePoolOptions, type PoolOptions, type PoolSettings } from "./options.ts";
import { Queue } from "./queue.ts";
import { type PoolStats, WaitHistogram } from "./stats.ts";

export { Lease };

export interface Pool {
  /** Borrows a connection: waits up to connectionTimeout (PoolTimeoutError); PoolClosedError once closed. */
  lease(): Promise<Lease>;
  /** Runs one text query on a pooled connection: `[rows, fields]` as mysql2 returns them. */
  query<T extends QueryResult = RowDataPacket[]>(sql: string, params?: QueryValues): Promise<[T, FieldPacket[]]>;
  /** Runs one prepared statement (cached per connection by mysql2): `[rows, fields]`. */
  execute<T extends QueryResult = RowDataPacket[]>(sql: string, params?: ExecuteValues): Promise<[T, FieldPacket[]]>;
  /**
   * BEGIN, `fn(conn)`, COMMIT; ROLLBACK if anything throws (the error is
   * rethrown). A connection whose rollback fails is closed, not reused.
   */
  transaction<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  stats(): PoolStats;
  /** "host:port" new connections go to: the first of a host list until a failover moves them on. */
  readonly host: string;
  /**
   * Rejects every waiter and every later lease() with PoolClosedError, closes
   * idle connections and those being opened, and closes leased ones as they
   * come back. Resolves when everything but the leased connections is closed.
   */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Makes a pool. No connection opens and no timer starts until the first lease. */
export function createPool(options: PoolOptions = {}): Pool {
  return new ConnectionPool(options);
}

interface Waiter {
  resolve(slot: Slot): void;
  reject(err: unknown): void;
  /** performance.now() when it started waiting. */
  since: number;
  deadline: number;
}

class ConnectionPool implements Pool, LeaseOwner {
  readonly #s: PoolSettings;
  readonly #targets: HostTarget[];
  /** More than one host: failover applies. */
  readonly #multi: boolean;
  /** Index in #targets of the host new connections go to. */
  #current = 0;
  /** The failover under way, if any: only one at a time, and no connection opens meanwhile. */
  #failover: Promise<void> | undefined;
  /** The failback check under way, if any (it does not hold up new connections). */
  #failback: Promise<void> | undefined;
  #failovers = 0;
  readonly #idle: Slot[] = [];
  readonly #waiters = new Queue<Waiter>();
  /** Open plus being opened: the number held to maxSize. */
  #total = 0;
  #open = 0;
  #pending = 0;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #reaper: ReturnType<typeof setInterval> | undefined;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #waitTimerAt = Infinity;
  /** Connects, pings and closes under way, so close() can wait for them. */
  readonly #inflight = new Set<Promise<unknown>>();

  #created = 0;
  #destroyed = 0;
  #createErrors = 0;
  #validationFailures = 0;
  #timeouts = 0;
  readonly #waits = new WaitHistogram();

  constructor(options: PoolOptions) {
    const { settings, targets } = resolvePoolOptions(options);
    this.#s = settings;
    this.#targets = targets;
    this.#multi = targets.length > 1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get host(): string {
    return this.#targets[this.#current]!.label;
  }

  lease(): Promise<Lease> {
    const slot = this.#takeIdle();
    if (slot !== undefined) return Promise.resolve(new Lease(this, slot));
    return this.#wait().then(this.#toLease);
  }

  query<T extends QueryResult = RowDataPacket[]>(sql: string, params?: QueryValues): Promise<[T, FieldPacket[]]> {
    const slot = this.#takeIdle();
    if (slot !== undefined) return slot.runQuery.call(slot.conn, sql, params).then(slot.done, slot.failed) as Promise<[T, FieldPacket[]]>;
    return this.#wait().then((s) => s.runQuery.call(s.conn, sql, params).then(s.done, s.failed)) as Promise<[T, FieldPacket[]]>;
  }

  execute<T extends QueryResult = RowDataPacket[]>(sql: string, params?: ExecuteValues): Promise<[T, FieldPacket[]]> {
    const slot = this.#takeIdle();
    if (slot !== undefined) return slot.runExecute.call(slot.conn, sql, params).then(slot.done, slot.failed) as Promise<[T, FieldPacket[]]>;
    return this.#wait().then((s) => s.runExecute.call(s.conn, sql, params).then(s.done, s.failed)) as Promise<[T, FieldPacket[]]>;
  }

  /** The fast path: nobody is queued and the top idle connection was used recently. Marks it leased. */
  #takeIdle(): Slot | undefined {
    if (this.#waiters.length !== 0 || this.#closed) return undefined;
    const idle = this.#idle;
    const slot = idle[idle.length - 1];
    if (slot === undefined) return undefined;
    const now = performance.now();
    if (now - slot.lastUsed > this.#s.validationInterval || now >= slot.expiresAt) return undefined;
    idle.pop();
    slot.state = LEASED;
    this.#waits.immediate();
    return slot;
  }

  /** The slow path: queue, then get an idle connection (validated), a new one, or a returned one. */
  #wait(): Promise<Slot> {
    if (this.#closed) return Promise.reject(new PoolClosedError());
    return new Promise<Slot>((resolve, reject) => {
      const now = performance.now();
      this.#waiters.push({ resolve, reject, since: now, deadline: now + this.#s.connectionTimeout });
      if (!this.#started) this.#start();
      this.#dispatch();
      this.#fill();
      this.#armWaitTimer();
    });
  }

  readonly #toLease = (slot: Slot): Lease => new Lease(this, slot);

  async transaction<T>(fn: (conn: Connection) => Promise<T>): Promise<T> {
    const lease = await this.lease();
    const conn = lease.conn;
    try {
      await conn.query("BEGIN");
      try {
        const result = await fn(conn);
        await conn.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await conn.query("ROLLBACK");
        } catch {
          // The caller gets the error that aborted the transaction; the failed
          // rollback is dealt with by closing the connection, which makes the
          // server roll back, so the next borrower cannot inherit the transaction.
          lease.destroy();
        }
        throw err;
      }
    } finally {
      lease.release();
    }
  }

  stats(): PoolStats {
    return {
      size: this.#open,
      idle: this.#idle.length,
      inUse: this.#open - this.#idle.length,
      pending: this.#pending,
      waiting: this.#waiters.length,
      created: this.#created,
      destroyed: this.#destroyed,
      createErrors: this.#createErrors,
      validationFailures: this.#validationFailures,
      timeouts: this.#timeouts,
      failovers: this.#failovers,
      ...this.#waits.snapshot(),
    };
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    clearInterval(this.#reaper);
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    const err = new PoolClosedError();
    for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w.reject(err);
    for (const slot of this.#idle.splice(0)) this.#closeSlot(slot, true);
    this.#closing = this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    // Connections still being opened are closed as they arrive (#onCreated).
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  // ---- LeaseOwner: called by Lease ----

  release(slot: Slot): void {
    if (!slot.healthy) return this.destroy(slot);
    if (this.#closed) return this.#closeSlot(slot, true);
    const now = performance.now();
    // A connection to a host new connections no longer go to: one writer at a time.
    if (now >= slot.expiresAt || slot.host !== this.#current) {
      this.#closeSlot(slot, true);
      return this.#replenish();
    }
    slot.lastUsed = now;
    this.#handOut(slot, now);
  }

  /** A free connection goes to the first waiter, or back on the idle stack. */
  #handOut(slot: Slot, now: number) {
    const w = this.#waiters.shift();
    if (w === undefined) {
      slot.state = IDLE;
      this.#idle.push(slot);
    } else {
      this.#serve(slot, w, now);
    }
  }

  destroy(slot: Slot): void {
    this.#closeSlot(slot, false);
    if (!this.#closed) this.#replenish();
  }

  // ---- internals ----

  #start(): void {
    this.#started = true;
    this.#reaper = setInterval(() => this.#reap(), this.#s.reapInterval);
    this.#reaper.unref();
  }

  /** Hands idle connections to waiters, then opens connections for waiters nothing is coming for. */
  #dispatch(): void {
    const waiters = this.#waiters;
    const idle = this.#idle;
    while (waiters.length > 0 && idle.length > 0) {
      const slot = idle.pop()!;
      const now = performance.now();
      if (now >= slot.expiresAt) {
        this.#closeSlot(slot, true);
        continue;
      }
      const w = waiters.shift()!;
      if (now - slot.lastUsed > this.#s.validationInterval) this.#validate(slot, w);
      else this.#serve(slot, w, now);
    }
    this.#grow();
  }

  /** One connection being opened per waiter, up to maxSize; none while a failover looks for a host. */
  #grow(): void {
    if (this.#failover !== undefined) return;
    while (this.#waiters.length > this.#pending && this.#total < this.#s.maxSize) this.#create();
  }

  /** Keeps initSize connections once the pool is in use. Not called after a failed connect: no retry storm when the server is down. */
  #fill(): void {
    if (!this.#started || this.#closed || this.#failover !== undefined) return;
    while (this.#total < this.#s.initSize) this.#create();
  }

  /** After a connection closed: serve or replace it. */
  #replenish(): void {
    this.#dispatch();
    this.#fill();
  }

  #serve(slot: Slot, w: Waiter, now: number): void {
    slot.state = LEASED;
    this.#waits.record(now - w.since);
    w.resolve(slot);
  }

  #track(p: Promise<unknown>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #create(): void {
    this.#total++;
    this.#pending++;
    const host = this.#current;
    let p: Promise<Connection>;
    try {
      p = this.#s.createConnection({ ...this.#targets[host]!.connection });
    } catch (err) {
      p = Promise.reject(err);
    }
    this.#track(
      p.then(
        (conn) => this.#onCreated(conn, host),
        (err) => this.#onCreateFailed(err, host),
      ),
    );
  }

  #onCreated(conn: Connection, host: number): void {
    this.#pending--;
    this.#open++;
    this.#created++;
    const now = performance.now();
    // mysql2's core connection (behind the promise wrapper) and its `state`; a
    // driver without one (a fake, an older mysql2) is judged by its events alone.
    const core = (conn as unknown as { connection?: { state?: unknown } }).connection;
    const watched = typeof core?.state === "string" ? (core as { state: string }) : undefined;
    const slot = new Slot(conn, watched, now + lifetimeWithJitter(this.#s.maxLifetime), now);
    slot.host = host;
    // Always listening: mysql2 emits 'error' on a connection that dies between
    // queries, and an 'error' event without a listener would crash the process.
    conn.on("error", () => this.#onLost(slot));
    conn.on("end", () => this.#onLost(slot));
    this.#instrument(slot);
    if (this.#closed) return this.#closeSlot(slot, true);
    if (host !== this.#current) {
      // Opened to the host a failover has since moved away from.
      this.#closeSlot(slot, true);
      return this.#replenish();
    }
    this.#handOut(slot, now);
  }

  #onCreateFailed(err: unknown, host: number): void {
    this.#pending--;
    this.#total--;
    this.#createErrors++;
    if (this.#closed) return;
    if (this.#multi) {
      // The waiters wait for the failover (or get its HostsUnavailableError);
      // a connect to a host already left behind is simply made again on the current one.
      if (host === this.#current) this.#startFailover(false);
      else this.#grow();
      return;
    }
    // The driver's error goes to the longest waiter; the others get a connection
    // attempt of their own. With nobody waiting this was a background fill: the
    // failure is counted in stats().createErrors and the reaper tries again.
    const w = this.#waiters.shift();
    if (w === undefined) return;
    w.reject(err);
    this.#grow();
  }

  /**
   * Wraps the connection's query and execute (once, when it opens) so an error
   * that ended the session marks it dead, whoever ran the query, and release()
   * closes it; HikariCP's connection proxy does the same. Also makes the
   * callbacks pool.query/execute reuse for every query on this connection.
   */
  #instrument(slot: Slot): void {
    const conn = slot.conn as unknown as Record<"query" | "execute", Runner>;
    slot.runQuery = conn.query;
    slot.runExecute = conn.execute;
    const onError = (err: unknown): never => {
      if (endsConnection(err)) this.#died(slot);
      throw err;
    };
    conn.query = (sql, values) => slot.runQuery.call(conn, sql, values).then(undefined, onError);
    conn.execute = (sql, values) => slot.runExecute.call(conn, sql, values).then(undefined, onError);
    slot.done = (result) => {
      this.release(slot);
      return result;
    };
    slot.failed = (err) => {
      if (endsConnection(err)) this.#died(slot);
      this.release(slot);
      throw err;
    };
  }

  /** A connection turned out dead (an event, or a query error that ended its session). */
  #died(slot: Slot): void {
    slot.dead = true;
    // Before anything replaces it: the failover must hold up new connects to a host that may be gone.
    if (this.#multi && slot.state !== CLOSED && slot.host === this.#current && !this.#closed) this.#startFailover(true);
  }

  /** The connection's 'error' or 'end' event. */
  #onLost(slot: Slot): void {
    this.#died(slot);
    if (slot.state !== IDLE) return; // leased or validating: closed when it comes back; closed: nothing to do
    const i = this.#idle.indexOf(slot);
    if (i >= 0) this.#idle.splice(i, 1);
    this.destroy(slot);
  }

  #closeSlot(slot: Slot, graceful: boolean): void {
    if (slot.state === CLOSED) return;
    slot.state = CLOSED;
    this.#open--;
    this.#total--;
    this.#destroyed++;
    if (graceful && slot.healthy) {
      // end() sends COM_QUIT and never rejects in mysql2; a fake may, and a
      // connection we are discarding has nobody to report its failure to.
      this.#track(slot.conn.end().catch(() => slot.conn.destroy()));
    } else {
      slot.conn.destroy();
    }
  }

  #validate(slot: Slot, w: Waiter): void {
    slot.state = VALIDATING;
    let settled = false;
    // close() waits for this, not for the ping: a hung ping never settles.
    let done!: () => void;
    this.#track(new Promise<void>((resolve) => (done = resolve)));
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done();
      if (ok && slot.healthy && !this.#closed) return this.#serve(slot, w, performance.now());
      if (!ok) {
        this.#validationFailures++;
        this.#died(slot);
      }
      this.#closeSlot(slot, ok);
      if (this.#closed) return w.reject(new PoolClosedError());
      this.#requeue(w);
      this.#replenish();
      this.#armWaitTimer();
    };
    const timer = setTimeout(() => finish(false), this.#s.validationTimeout);
    slot.conn.ping().then(
      () => finish(true),
      () => finish(false), // a failed ping is the answer we asked for: the connection is dead
    );
  }

  /** A waiter whose connection failed validation goes back to the front: it has waited longest. */
  #requeue(w: Waiter): void {
    if (performance.now() >= w.deadline) return this.#timeOut(w);
    this.#waiters.unshift(w);
    if (w.deadline < this.#waitTimerAt) {
      // The timer is due later than this waiter's deadline: re-arm it for the new head.
      clearTimeout(this.#waitTimer);
      this.#waitTimer = undefined;
      this.#waitTimerAt = Infinity;
    }
  }

  #timeOut(w: Waiter): void {
    this.#timeouts++;
    w.reject(
      new PoolTimeoutError(this.#s.connectionTimeout, {
        size: this.#open,
        inUse: this.#open - this.#idle.length,
        pending: this.#pending,
        waiting: this.#waiters.length,
      }),
    );
  }

  /** One timer for the whole queue, due at the head's deadline (the earliest: FIFO, one timeout). */
  #armWaitTimer(): void {
    if (this.#waitTimer !== undefined || this.#closed) return;
    const head = this.#waiters.peek();
    if (head === undefined || head.deadline === Infinity) return;
    this.#waitTimerAt = head.deadline;
    this.#waitTimer = setTimeout(this.#onWaitTimer, Math.max(0, head.deadline - performance.now()));
    // While anyone waits, a connection is leased or being opened, and its socket
    // keeps the process alive; the timer must not, once the queue has emptied.
    this.#waitTimer.unref();
  }

  readonly #onWaitTimer = (): void => {
    this.#waitTimer = undefined;
    this.#waitTimerAt = Infinity;
    const now = performance.now();
    for (let head = this.#waiters.peek(); head !== undefined && head.deadline <= now; head = this.#waiters.peek()) {
      this.#waiters.shift();
      this.#timeOut(head);
    }
    this.#armWaitTimer();
  };

  // ---- several hosts ----

  /** Starts a failover unless one is under way (the callers then wait on that one). */
  #startFailover(currentFirst: boolean): void {
    if (this.#failover !== undefined || this.#closed) return;
    const order = probeOrder(this.#targets.length, this.#current, currentFirst);
    const run = this.#findHost(order, failoverDelay(this.#s.failoverJitter)).then((found) => {
      this.#failover = undefined;
      if (this.#closed) return;
      if (typeof found === "number") return this.#moveTo(found, "failover");
      // Nobody is served until a host is back: those waiting hear why now, not at their timeout.
      for (let w = this.#waiters.shift(); w !== undefined; w = this.#waiters.shift()) w.reject(found);
    });
    this.#failover = run;
    this.#track(run);
  }

  /**
   * Tries the hosts in `order`, one at a time, after `delay` ms; resolves to
   * the first that answers and is ready, or to the error naming every one tried.
   */
  async #findHost(order: number[], delay: number): Promise<number | HostsUnavailableError> {
    if (delay > 0) await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
    const tried: HostAttempt[] = [];
    for (const i of order) {
      if (this.#closed) break;
      const failed = await this.#probe(i);
      if (failed === undefined) return i;
      tried.push({ host: this.#targets[i]!.label, ...failed });
    }
    return new HostsUnavailableError(tried);
  }

  /**
   * Opens a connection of its own to host i and asks whether it is ready;
   * resolves to why not, or undefined. The probe is closed either way: it is
   * one connection beside maxSize, and only during a failover or failback.
   */
  async #probe(i: number): Promise<{ reason: string; errorCode?: string } | undefined> {
    let conn: Connection | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let answered = false;
    try {
      conn = await this.#s.createConnection({ ...this.#targets[i]!.connection });
      // A probe that dies is closed below all the same; without a listener its 'error' would crash the process.
      conn.on("error", () => {});
      const limit = this.#s.validationTimeout;
      const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer to the readiness check within ${limit} ms`), limit)));
      const reason = await Promise.race([checkReady(conn).then((r) => ((answered = true), r)), late]);
      return reason === undefined ? undefined : { reason };
    } catch (err) {
      return describeFailure(err);
    } finally {
      clearTimeout(timer);
      const c = conn;
      // A host that answered gets a proper goodbye; one that did not might never take it, and close() waits for what is tracked.
      if (c !== undefined && answered) this.#track(c.end().catch(() => c.destroy()));
      else c?.destroy();
    }
  }

  /** New connections go to host i from now on; idle connections to any other are closed. */
  #moveTo(i: number, kind: "failover" | "failback"): void {
    const from = this.#current;
    if (i !== from) {
      this.#current = i;
      this.#failovers++;
      for (let k = this.#idle.length - 1; k >= 0; k--) {
        const slot = this.#idle[k]!;
        if (slot.host === i) continue;
        this.#idle.splice(k, 1);
        this.#closeSlot(slot, true);
      }
      this.#s.onFailover?.({ from: this.#targets[from]!.label, to: this.#targets[i]!.label, kind });
    }
    this.#replenish();
    this.#armWaitTimer();
  }

  /** With failback on and past the first host: moves back to the earliest host before the current one that is ready. */
  #checkFailback(): void {
    if (!this.#s.failback || this.#current === 0 || this.#failback !== undefined || this.#failover !== undefined || this.#closed) return;
    const earlier = Array.from({ length: this.#current }, (_, k) => k);
    const run = this.#findHost(earlier, 0).then((found) => {
      this.#failback = undefined;
      // Not ready yet: stay, and look again at the next reaper run. A failover in between has the last word.
      if (typeof found === "number" && !this.#closed && this.#failover === undefined && found < this.#current) this.#moveTo(found, "failback");
    });
    this.#failback = run;
    this.#track(run);
  }

  /** Closes expired idle connections, and idle ones above initSize unused for maxIdleTime; refills to initSize. */
  #reap(): void {
    const now = performance.now();
    const idle = this.#idle;
    const maxIdle = this.#s.maxIdleTime;
    // The bottom of the stack has been idle longest.
    for (let i = 0; i < idle.length; ) {
      const slot = idle[i]!;
      const expired = now >= slot.expiresAt;
      const stale = maxIdle > 0 && now - slot.lastUsed > maxIdle && this.#total > this.#s.initSize;
      if (expired || stale) {
        idle.splice(i, 1);
        this.#closeSlot(slot, true);
      } else {
        i++;
      }
    }
    this.#replenish();
    if (this.#multi) this.#checkFailback();
  }
}

