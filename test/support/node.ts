/**
 * Chat nodes as child processes, for the tests that kill them or run several,
 * the load benchmark and the HA lab: one way to start `chat server`, tell when
 * it is ready, read its log, and stop it by its own pid. What differs between
 * them is passed in: a command prefix (the benchmark's `ulimit` shell), a
 * whole command line (the lab runs what systemd would), or a launcher (the lab
 * starts everything inside its namespaces and records every pid).
 */
import type { Subprocess } from "bun";
import { closeSync, openSync } from "node:fs";
import { resolve } from "node:path";
import { freePort } from "../../scripts/services.ts";
import { scrapeMetrics } from "./probes.ts";
import { tailOf, waitUntil, WaitTimeoutError } from "./wait.ts";
import { Wire, type WireOptions } from "./wire.ts";

/** argon2id at its cheapest: tests log in thousands of times. */
export const CHEAP_HASH = { memoryCost: 64, timeCost: 1 };

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

/** How a node counts as started. */
export type Readiness =
  /** its log says it is ready (or shows `readyLine`): needs the log in memory */
  | "log"
  /** its /healthz answers 200: the database answers too */
  | "healthz"
  /** its chat port sends a hello naming it (all the lab can see from its client namespace) */
  | "hello";

export interface NodeOptions {
  /** The node's name (--node), which its hello carries. */
  node: string;
  /** MariaDB (--mysql). Required unless `argv` is given. */
  mysqlUrl?: string;
  /** Redis (--redis); without it a single node. */
  redisUrl?: string;
  /** Listen address (--host). Default "127.0.0.1". */
  host?: string;
  /** Chat port. Default: a free one. */
  port?: number;
  /** Admin HTTP port; 0 for none. Default: a free one. */
  adminPort?: number;
  /** Web port (the web client and /ws); 0 for none. Default: a free one. */
  webPort?: number;
  /** argon2id cost. Default CHEAP_HASH. */
  hash?: { memoryCost: number; timeCost: number };
  /** More server flags, after the ones above so they win. */
  args?: string[];
  /** What runs `chat`, before `server` and its flags. Default this Bun and this checkout's src/main.ts. */
  command?: string[];
  /** The whole command line instead of command, `server` and the flags above. */
  argv?: string[];
  /** Words before the command line: a shell that raises limits and then `exec "$@"`s, so the pid is the server's. */
  prefix?: string[];
  /** Starts the process instead of Bun.spawn (and then owns its output; tell where it went with `logFile`). */
  launch?: (argv: string[]) => Launched | Promise<Launched>;
  /** Called as soon as the process exists, before it is ready: exit hooks that must kill it by pid register it here. */
  onStart?: (proc: Subprocess) => void;
  /** Where stdout and stderr go. Default: stderr kept in memory (log()), stdout dropped. */
  logFile?: string;
  /** Working directory. Default this process's. */
  cwd?: string;
  /** Environment. Default this process's without CHAT_MYSQL_URL and CHAT_REDIS_URL: a node gets what its flags say. */
  env?: Record<string, string | undefined>;
  /** TLS for the hello readiness check and connect(), for a node that serves TLS (--tls-cert, or its argv). Default: plain TCP. */
  tls?: WireOptions["tls"];
  /** When it counts as started. Default "log" with the log in memory, "healthz" with a log file, "hello" with `argv`. */
  ready?: Readiness;
  /** How long it may take to start, in ms. Default 20000. */
  startTimeoutMs?: number;
  /** For ready "log": the log text that counts as started. Default the `ready` line (every port open, the cluster joined). */
  readyLine?: string;
}

/** What a launcher hands back: the process, and where its output goes when it decided that. */
export interface Launched {
  proc: Subprocess;
  logFile?: string;
}

export interface NodeProcess {
  node: string;
  host: string;
  port: number;
  /** 0 when the node has no admin port. */
  adminPort: number;
  /** 0 when the node has no web port. */
  webPort: number;
  proc: Subprocess;
  pid: number;
  /** The command line it runs (before any prefix). */
  argv: string[];
  logFile?: string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Its log: what it wrote to stderr, or the tail of its log file. */
  log(): string;
  /** A protocol connection to it. */
  connect(opts?: WireOptions): Promise<Wire>;
  health(): Promise<{ status: number; body: any }>;
  metrics(): Promise<Map<string, number>>;
  /** Sends `signal` (unless it already exited) and resolves with the exit code. */
  kill(signal?: NodeJS.Signals): Promise<number>;
  /** SIGTERM, up to `graceMs` for a clean exit (it writes a CPU profile then), then SIGKILL. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a chat node and resolves once it is ready; rejects (and kills it) when it exits or is not ready in time. */
export async function spawnNode(opts: NodeOptions): Promise<NodeProcess> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort());
  let adminPort = opts.adminPort ?? (await freePort());
  while (opts.adminPort === undefined && adminPort === port) adminPort = await freePort();
  let webPort = opts.webPort ?? (await freePort());
  while (opts.webPort === undefined && (webPort === port || webPort === adminPort)) webPort = await freePort();
  const ready: Readiness = opts.ready ?? (opts.argv ? "hello" : opts.logFile || opts.launch ? "healthz" : "log");
  if (ready === "log" && (opts.logFile || opts.launch)) throw new TypeError("spawnNode: ready \"log\" reads the log from memory; it cannot with a logFile or a launcher");
  if (ready === "healthz" && adminPort === 0) throw new TypeError("spawnNode: ready \"healthz\" needs an admin port");
  if (!opts.argv && !opts.mysqlUrl) throw new TypeError("spawnNode: mysqlUrl is required (or a whole argv)");

  const argv = opts.argv ?? [
    ...(opts.command ?? [process.execPath, MAIN]),
    "server",
    "--host", host,
    "--port", String(port),
    "--admin-port", String(adminPort),
    "--web-port", String(webPort),
    "--node", opts.node,
    "--mysql", opts.mysqlUrl as string,
    "--hash-memory", String((opts.hash ?? CHEAP_HASH).memoryCost),
    "--hash-time", String((opts.hash ?? CHEAP_HASH).timeCost),
    ...(opts.redisUrl ? ["--redis", opts.redisUrl] : []),
    ...(opts.args ?? []),
  ];
  const full = [...(opts.prefix ?? []), ...argv];

  const readyLine = opts.readyLine ?? "INFO ready ";
  let proc: Subprocess;
  let logFile = opts.logFile;
  let text = "";
  let sawReadyLine!: () => void;
  /** Resolves once the whole of stderr has been read (after the process exits): its last words too. */
  let logRead: Promise<void> = Promise.resolve();
  const readyInLog = new Promise<void>((r) => (sawReadyLine = r));
  if (opts.launch) {
    const launched = await opts.launch(full);
    proc = launched.proc;
    logFile ??= launched.logFile;
  } else {
    const env = opts.env ?? withoutServiceUrls(process.env);
    if (logFile) {
      const fd = openSync(logFile, "a");
      try {
        proc = Bun.spawn(full, { cwd: opts.cwd, env, stdin: "ignore", stdout: fd, stderr: fd });
      } finally {
        closeSync(fd);
      }
    } else {
      proc = Bun.spawn(full, { cwd: opts.cwd, env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      logRead = (async () => {
        const dec = new TextDecoder();
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
          text += dec.decode(chunk, { stream: true });
          if (text.includes(readyLine)) sawReadyLine();
        }
      })();
    }
  }

  opts.onStart?.(proc);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const log = () => (logFile ? tailOf(logFile, 40) : text);
  const node: NodeProcess = {
    node: opts.node,
    host,
    port,
    adminPort,
    webPort,
    proc,
    pid: proc.pid,
    argv,
    logFile,
    get exited() {
      return exited;
    },
    log,
    connect: (o = {}) => Wire.connect(port, { host, tls: opts.tls, ...o }),
    async health() {
      const r = await fetch(`http://${host}:${adminPort}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return { status: r.status, body: await r.json() };
    },
    metrics: () => scrapeMetrics(adminPort, host),
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return proc.exited;
    },
    async stop(graceMs = 20_000) {
      if (exited) return;
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
      if (!done && !exited) proc.kill("SIGKILL");
      await proc.exited;
    },
  };

  const startMs = opts.startTimeoutMs ?? 20_000;
  const failure = () => new Error(`chat node ${opts.node} exited with ${proc.exitCode ?? proc.signalCode} while starting:\n${log()}`);
  try {
    if (ready === "log") {
      // The log is ours to read as it arrives: wait for the line itself.
      let timer: Timer | undefined;
      await Promise.race([
        readyInLog,
        proc.exited.then(() => logRead).then(() => Promise.reject(failure())),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new WaitTimeoutError(`chat node ${opts.node}: no "${readyLine}" within ${startMs} ms\n${log()}`)), startMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } else {
      // /healthz and the hello can only be asked for.
      const isReady = async (): Promise<boolean> => {
        if (exited) throw failure();
        if (ready === "healthz") return node.health().then((h) => h.status === 200, () => false);
        const w = await Wire.connect(port, { host, tls: opts.tls, timeoutMs: 1_000, keep: false }).catch(() => undefined);
        w?.abort();
        return w?.hello?.node === opts.node;
      };
      await waitUntil(`chat node ${opts.node} ready (${ready})`, isReady, startMs, { everyMs: 50, detail: log });
    }
  } catch (e) {
    await node.stop(2_000);
    throw e;
  }
  return node;
}

/** The environment without the URLs a node would otherwise take its services from. */
function withoutServiceUrls(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  delete out.CHAT_MYSQL_URL;
  delete out.CHAT_REDIS_URL;
  return out;
}
