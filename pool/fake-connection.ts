/**
 * A stand-in for mysql2 promise connections, for unit tests and the pool's
 * no-network benchmark: `createPool({ createConnection: driver.createConnection })`.
 * It behaves as mysql2 does where the pool cares: a fatal error or a close
 * moves `connection.state` off "authenticated", a server-side close emits
 * 'end' and 'error', and commands on a closed connection fail. Fake hosts
 * (FakeDriver.host) refuse connects when down and answer the pool's
 * readiness check with their Galera state, for the host-list tests.
 * Not part of the pool's public API (pool/index.ts does not export it).
 */
import { EventEmitter } from "node:events";
import type { Connection, ConnectionOptions } from "mysql2/promise";

export type FakeError = Error & { fatal?: boolean; code?: string };

export function fakeError(message: string, opts: { fatal?: boolean; code?: string } = {}): FakeError {
  return Object.assign(new Error(message), opts);
}

/** What a fake host does. */
export interface FakeHost {
  /** Refuses connects (ECONNREFUSED). */
  down: boolean;
  /** Its Galera state; undefined for a plain MariaDB (wsrep_on OFF). */
  wsrep?: { ready: boolean; state: string };
  /** Accepts connections but answers no query (a frozen server). */
  silent?: boolean;
}

/** "host:port" of the connection options, as the pool labels hosts. */
export function hostOf(options: ConnectionOptions): string {
  if (typeof options.uri === "string") {
    const u = new URL(options.uri);
    return `${u.hostname}:${u.port || 3306}`;
  }
  return `${options.host ?? "localhost"}:${options.port ?? 3306}`;
}

let nextThreadId = 1;
const RESULT: [unknown, unknown[]] = [[], []];

export class FakeConnection extends EventEmitter {
  readonly threadId = nextThreadId++;
  /** Like mysql2's core connection behind the promise wrapper. */
  readonly connection = { state: "authenticated" };
  /** SQL received, in order (if `record`). */
  readonly queries: string[] = [];
  /** Keep `queries`; off for benchmarks, where it would grow without bound. */
  record = true;
  /** Errors the next queries fail with, in order; a fatal one breaks the connection. */
  readonly failures: FakeError[] = [];
  pings = 0;
  /** What the next pings do. */
  pingMode: "ok" | "fail" | "hang" = "ok";
  ended = false;
  destroyed = false;
  /** "host:port" it is connected to. */
  readonly host: string;
  /** Answers some statements itself (the readiness check); others get the empty result. */
  answer: ((sql: string) => [unknown, unknown[]] | undefined) | undefined;
  /** Settles when end() or destroy() is called. */
  readonly closed: Promise<"end" | "destroy">;
  #onClosed!: (how: "end" | "destroy") => void;

  constructor(readonly options: ConnectionOptions) {
    super();
    this.host = hostOf(options);
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
  }

  get usable(): boolean {
    return this.connection.state === "authenticated";
  }

  query(sql: string, _params?: unknown): Promise<[unknown, unknown[]]> {
    return this.#run(sql);
  }

  execute(sql: string, _params?: unknown): Promise<[unknown, unknown[]]> {
    return this.#run(sql);
  }

  /** Whether queries go unanswered (its fake host is silent). */
  silent: () => boolean = () => false;

  #run(sql: string): Promise<[unknown, unknown[]]> {
    if (this.silent()) return new Promise(() => {});
    if (!this.usable) return Promise.reject(fakeError("Can't add new command when connection is in closed state", { fatal: true }));
    const err = this.failures.shift();
    if (err !== undefined) {
      if (err.fatal) this.connection.state = "error";
      return Promise.reject(err);
    }
    if (this.record) this.queries.push(sql);
    return Promise.resolve(this.answer?.(sql) ?? RESULT);
  }

  ping(): Promise<void> {
    this.pings++;
    if (this.pingMode === "hang") return new Promise(() => {});
    if (this.pingMode === "fail" || !this.usable)
      return Promise.reject(fakeError("Connection lost: The server closed the connection.", { fatal: true, code: "PROTOCOL_CONNECTION_LOST" }));
    return Promise.resolve();
  }

  end(): Promise<void> {
    this.ended = true;
    this.connection.state = "disconnected";
    this.#onClosed("end");
    return Promise.resolve();
  }

  destroy(): void {
    this.destroyed = true;
    this.connection.state = "disconnected";
    this.#onClosed("destroy");
  }

  /** The server closes the connection (KILL, wait_timeout): mysql2 emits 'end', then 'error'. */
  serverClose(): void {
    this.connection.state = "error";
    this.emit("end");
    this.emit("error", fakeError("Connection lost: The server closed the connection.", { fatal: true, code: "PROTOCOL_CONNECTION_LOST" }));
  }

  asConnection(): Connection {
    return this as unknown as Connection;
  }
}

interface HeldConnect {
  options: ConnectionOptions;
  resolve(conn: Connection): void;
  reject(err: unknown): void;
}

/** Hands out FakeConnections; records attempts; can hold or refuse connects. */
export class FakeDriver {
  readonly connections: FakeConnection[] = [];
  attempts = 0;
  /** The host of every connect attempted, in order (the pool's probes too). */
  readonly connects: string[] = [];
  readonly #hosts = new Map<string, FakeHost>();
  /** When true, a connect waits until `completeConnect()` or `failConnect()`. */
  manual = false;
  /** Errors the next connects fail with, in order. */
  readonly refusals: unknown[] = [];
  readonly #held: HeldConnect[] = [];
  readonly #attemptWaiters: Array<{ n: number; resolve(): void }> = [];

  /** @param record whether connections keep the SQL they receive (off for benchmarks) */
  constructor(readonly record = true) {}

  /** The fake host "host:port" (up and plain until told otherwise). */
  host(label: string): FakeHost {
    let h = this.#hosts.get(label);
    if (!h) this.#hosts.set(label, (h = { down: false }));
    return h;
  }

  /** The host's machine dies: it refuses connects and its open connections are closed under their users. */
  killHost(label: string): void {
    this.host(label).down = true;
    for (const c of this.connections) if (c.host === label && c.usable && !c.ended && !c.destroyed) c.serverClose();
  }

  /** Open connections (neither ended nor destroyed nor broken) to `label`. */
  openOn(label: string): FakeConnection[] {
    return this.connections.filter((c) => c.host === label && c.usable);
  }

  readonly createConnection = (options: ConnectionOptions): Promise<Connection> => {
    this.attempts++;
    const label = hostOf(options);
    this.connects.push(label);
    for (const w of this.#attemptWaiters.filter((w) => this.attempts >= w.n)) {
      this.#attemptWaiters.splice(this.#attemptWaiters.indexOf(w), 1);
      w.resolve();
    }
    if (this.manual) return new Promise((resolve, reject) => this.#held.push({ options, resolve, reject }));
    if (this.refusals.length > 0) return Promise.reject(this.refusals.shift());
    if (this.host(label).down)
      return Promise.reject(fakeError(`connect ECONNREFUSED ${label}`, { code: "ECONNREFUSED", fatal: true }));
    return Promise.resolve(this.#open(options).asConnection());
  };

  /** Connects waiting in manual mode. */
  get held(): number {
    return this.#held.length;
  }

  /** Settles when at least `n` connects have been attempted. */
  attempted(n: number): Promise<void> {
    if (this.attempts >= n) return Promise.resolve();
    return new Promise((resolve) => this.#attemptWaiters.push({ n, resolve }));
  }

  /** Lets the oldest held connect succeed. */
  completeConnect(): FakeConnection {
    const h = this.#held.shift();
    if (!h) throw new Error("no connect is being held");
    const conn = this.#open(h.options);
    h.resolve(conn.asConnection());
    return conn;
  }

  /** Makes the oldest held connect fail. */
  failConnect(err: unknown): void {
    const h = this.#held.shift();
    if (!h) throw new Error("no connect is being held");
    h.reject(err);
  }

  #open(options: ConnectionOptions): FakeConnection {
    const conn = new FakeConnection(options);
    conn.record = this.record;
    const host = this.host(conn.host);
    conn.silent = () => host.silent === true;
    // The pool's readiness check (failover.ts READINESS_SQL): what a Galera node, or a plain MariaDB, answers.
    conn.answer = (sql) => {
      if (!sql.includes("information_schema.GLOBAL_STATUS")) return undefined;
      if (!host.wsrep) return [[{ k: "WSREP_ON", v: "OFF" }, { k: "WSREP_READY", v: "OFF" }], []];
      const w = host.wsrep;
      return [[{ k: "WSREP_ON", v: "ON" }, { k: "WSREP_READY", v: w.ready ? "ON" : "OFF" }, { k: "WSREP_LOCAL_STATE_COMMENT", v: w.state }], []];
    };
    this.connections.push(conn);
    return conn;
  }
}

/** Lets pending promise callbacks and I/O callbacks run (one macrotask turn). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
