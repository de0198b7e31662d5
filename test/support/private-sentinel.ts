/**
 * A Redis Sentinel set of a test's own: a primary, a replica and three
 * sentinels on free loopback ports, in a directory under .data/, with short
 * failure detection (`down-after-milliseconds`, `failover-timeout`) so a
 * failover takes seconds. It signals only the processes it started.
 */
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createClient } from "redis";
import { freePort } from "../../scripts/services.ts";
import { tailOf, waitUntil } from "./wait.ts";

export interface SentinelSetOptions {
  /** The name the sentinels monitor the primary under. Default "chat". */
  master?: string;
  /** requirepass (and masterauth, and the sentinels' auth-pass) of primary and replica. Default none. */
  password?: string;
  /** Sentinel's down-after-milliseconds. Default 1000. */
  downAfterMs?: number;
  /** Sentinel's failover-timeout. Default 5000. */
  failoverTimeoutMs?: number;
}

interface Server {
  name: string;
  port: number;
  proc?: Subprocess;
  log: string;
}

const DATA = resolve(import.meta.dir, "../../.data");
let made = 0;

/** The sentinel binary (Debian's redis-sentinel), or redis-server in sentinel mode when only that is installed. */
function sentinelCommand(conf: string): string[] {
  const bin = ["/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel"].find(existsSync);
  return bin ? [bin, conf] : ["redis-server", conf, "--sentinel"];
}

export class SentinelSet {
  readonly master: string;
  readonly password?: string;
  readonly dir = join(DATA, `sentinel-${process.pid}-${++made}`);
  readonly servers: Server[] = [];
  readonly sentinels: Server[] = [];
  readonly #opts: Required<Omit<SentinelSetOptions, "password">>;

  private constructor(opts: SentinelSetOptions) {
    this.#opts = { master: "chat", downAfterMs: 1000, failoverTimeoutMs: 5000, ...opts };
    this.master = this.#opts.master;
    this.password = opts.password;
  }

  /** `host:port,...` of the sentinels, as --redis-sentinels takes them. */
  get sentinelList(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(",");
  }

  /** Starts the primary and its replica, then the sentinels; resolves once the sentinels know both and each other. */
  static async start(opts: SentinelSetOptions = {}): Promise<SentinelSet> {
    const set = new SentinelSet(opts);
    try {
      await set.#start();
    } catch (e) {
      await set.close();
      throw e;
    }
    return set;
  }

  async #start() {
    mkdirSync(this.dir, { recursive: true });
    for (const name of ["redis-a", "redis-b"]) this.servers.push({ name, port: await freePort(), log: join(this.dir, `${name}.log`) });
    for (const name of ["sentinel-1", "sentinel-2", "sentinel-3"]) this.sentinels.push({ name, port: await freePort(), log: join(this.dir, `${name}.log`) });
    const [a, b] = this.servers as [Server, Server];
    await this.#startRedis(a);
    await this.#startRedis(b, a.port);
    await waitUntil("the replica in sync", async () => (await this.#info(b.port, "replication")).includes("master_link_status:up"), 10_000, { detail: () => tailOf(b.log) });
    const auth = this.password ? `sentinel auth-pass ${this.master} ${this.password}\n` : "";
    for (const s of this.sentinels) {
      const conf = join(this.dir, `${s.name}.conf`);
      // Sentinel rewrites its file as it learns the topology: one file each, writable.
      writeFileSync(
        conf,
        `port ${s.port}\nbind 127.0.0.1\ndaemonize no\ndir ${this.dir}\nlogfile ${s.log}\n` +
          `sentinel monitor ${this.master} 127.0.0.1 ${a.port} 2\n${auth}` +
          `sentinel down-after-milliseconds ${this.master} ${this.#opts.downAfterMs}\n` +
          `sentinel failover-timeout ${this.master} ${this.#opts.failoverTimeoutMs}\n` +
          `sentinel parallel-syncs ${this.master} 1\n`,
      );
      s.proc = Bun.spawn(sentinelCommand(conf), { stdout: "ignore", stderr: "ignore" });
    }
    // A failover needs a quorum of sentinels that know each other, and a replica they know of.
    await waitUntil(
      "the sentinels know the replica and each other",
      async () => {
        for (const s of this.sentinels) {
          const replicas = (await this.#ask(s.port, ["SENTINEL", "REPLICAS", this.master])) as unknown[] | undefined;
          const peers = (await this.#ask(s.port, ["SENTINEL", "SENTINELS", this.master])) as unknown[] | undefined;
          if (!replicas?.length || (peers?.length ?? 0) < this.sentinels.length - 1) return false;
        }
        return true;
      },
      20_000,
      { everyMs: 200, detail: () => this.sentinels.map((s) => tailOf(s.log, 10)).join("\n") },
    );
  }

  async #startRedis(s: Server, replicaOf?: number) {
    const auth = this.password ? ["--requirepass", this.password, "--masterauth", this.password] : [];
    const dir = join(this.dir, s.name);
    mkdirSync(dir, { recursive: true });
    s.proc = Bun.spawn(
      ["redis-server", "--port", String(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", s.log, ...auth,
        ...(replicaOf ? ["--replicaof", "127.0.0.1", String(replicaOf)] : [])],
      { stdout: "ignore", stderr: "ignore" },
    );
    await waitUntil(`${s.name} answering`, async () => (await this.#ask(s.port, ["PING"], this.password)) === "PONG", 10_000, { detail: () => tailOf(s.log) });
  }

  /** One command on a fresh connection; undefined when it fails (not up yet, or down). */
  async #ask(port: number, cmd: string[], password?: string): Promise<unknown> {
    const c = createClient({ socket: { host: "127.0.0.1", port, connectTimeout: 1000, reconnectStrategy: false }, password });
    c.on("error", () => {}); // the rejected command carries it
    try {
      await c.connect();
      return await c.sendCommand(cmd);
    } catch {
      return undefined;
    } finally {
      c.destroy();
    }
  }

  async #info(port: number, section: string): Promise<string> {
    return String((await this.#ask(port, ["INFO", section], this.password)) ?? "");
  }

  /** The Redis the sentinels name primary now (asked of the first sentinel that answers). */
  async primary(): Promise<Server | undefined> {
    for (const s of this.sentinels) {
      const r = (await this.#ask(s.port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", this.master])) as string[] | undefined;
      if (r) return this.servers.find((x) => x.port === Number(r[1]));
    }
    return undefined;
  }

  /** Whether `s` answers ROLE as a primary. */
  async isPrimary(s: Server): Promise<boolean> {
    const role = (await this.#ask(s.port, ["ROLE"], this.password)) as unknown[] | undefined;
    return role?.[0] === "master";
  }

  /** SIGKILLs the primary (a crash, not a stop) and waits for it to be gone; returns it. */
  async killPrimary(): Promise<Server> {
    const p = await this.primary();
    if (!p?.proc) throw new Error("no primary to kill: the sentinels name none of this set's servers");
    p.proc.kill("SIGKILL");
    await p.proc.exited;
    p.proc = undefined;
    return p;
  }

  /** Waits until the sentinels name another server primary than `old` and it answers as one; returns it. */
  async failedOver(old: Server, timeoutMs = 20_000): Promise<Server> {
    return waitUntil(
      "the sentinels promote the replica",
      async () => {
        const p = await this.primary();
        return p && p !== old && (await this.isPrimary(p)) ? p : undefined;
      },
      timeoutMs,
      { everyMs: 50, detail: () => this.sentinels.map((s) => tailOf(s.log, 10)).join("\n") },
    );
  }

  /** Stops every process this set started (SIGKILL: nothing here is worth saving) and removes its directory. */
  async close() {
    const procs = [...this.servers, ...this.sentinels].flatMap((s) => (s.proc ? [s.proc] : []));
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
