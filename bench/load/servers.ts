/**
 * Chat server processes for the benchmark: spawned through `sh -c "ulimit -n
 * ...; exec bun src/main.ts server ..."` so the server gets the raised
 * file-descriptor limit too, waited for on /healthz, sampled from /proc and
 * /metrics, and stopped by their own pid (SIGTERM, then SIGKILL).
 */
import type { Subprocess } from "bun";
import { mkdirSync, openSync, closeSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "../../scripts/services.ts";

const ROOT = resolve(import.meta.dir, "../..");

export interface ServerConfig {
  node: string;
  mysqlUrl: string;
  redisUrl?: string;
  /** file-descriptor limit asked for the server */
  nofile: number;
  /** write a .cpuprofile here on exit (bun --cpu-prof) */
  profileDir?: string;
  /** where stdout/stderr go */
  logDir: string;
  /** more server options (after the defaults, so they win) */
  extraArgs?: string[];
  /** checkout whose src/main.ts runs (default this one): compare a branch or a patched copy */
  root?: string;
  /** argon2id cost: cheap for benchmarks unless told otherwise */
  hashMemoryKiB: number;
  hashTime: number;
  poolMaxSize: number;
}

export interface ServerProc {
  node: string;
  port: number;
  adminPort: number;
  pid: number;
  logFile: string;
  profileFile?: string;
  /** the command line, for the results */
  argv: string[];
  exited: boolean;
  stop(): Promise<void>;
  metrics(): Promise<Map<string, number>>;
}

/** Every server this process started and has not seen exit: the exit hooks kill these, by pid. */
export const started = new Set<ServerProc>();

export async function spawnServer(cfg: ServerConfig): Promise<ServerProc> {
  const port = await freePort();
  let adminPort = await freePort();
  while (adminPort === port) adminPort = await freePort();
  mkdirSync(cfg.logDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const logFile = join(cfg.logDir, `server-${cfg.node}-${stamp}.log`);
  const profArgs: string[] = [];
  let profileFile: string | undefined;
  if (cfg.profileDir) {
    mkdirSync(cfg.profileDir, { recursive: true });
    const name = `server-${cfg.node}-${stamp}.cpuprofile`;
    profileFile = join(cfg.profileDir, name);
    profArgs.push("--cpu-prof", `--cpu-prof-dir=${cfg.profileDir}`, `--cpu-prof-name=${name}`);
  }
  const serverArgs = [
    "--host", "127.0.0.1",
    "--port", String(port),
    "--admin-port", String(adminPort),
    "--admin-host", "127.0.0.1",
    "--node", cfg.node,
    "--mysql", cfg.mysqlUrl,
    ...(cfg.redisUrl ? ["--redis", cfg.redisUrl] : []),
    "--hash-memory", String(cfg.hashMemoryKiB),
    "--hash-time", String(cfg.hashTime),
    "--rate-limit", "0",
    // The first run logs every user in before registering it (bad_credentials): from
    // a few loopback addresses that is hundreds of failures each, which the per-address
    // login throttle would hold back.
    "--login-ip-failures", "0",
    "--pool-max-size", String(cfg.poolMaxSize),
    "--log-level", "warn",
    ...(cfg.extraArgs ?? []),
  ];
  const root = cfg.root ?? ROOT;
  const argv = [process.execPath, ...profArgs, join(root, "src/main.ts"), "server", ...serverArgs];
  // `ulimit -n` in the shell that then becomes the server: the pid we get is the server's.
  const script = `ulimit -n ${cfg.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const fd = openSync(logFile, "a");
  let child: Subprocess;
  try {
    child = Bun.spawn(["sh", "-c", script, "sh", ...argv], { cwd: root, stdin: "ignore", stdout: fd, stderr: fd });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  const proc: ServerProc = {
    node: cfg.node,
    port,
    adminPort,
    pid,
    logFile,
    profileFile,
    argv: argv.map((a) => (a === cfg.mysqlUrl || a === cfg.redisUrl ? redact(a) : a)),
    exited: false,
    async stop() {
      if (proc.exited) return;
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
      // A clean stop writes the CPU profile; give it time, then cut.
      const done = await Promise.race([child.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
      if (!done) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
        await Promise.race([child.exited, Bun.sleep(5_000)]);
      }
    },
    async metrics() {
      return parseMetrics(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
    },
  };
  started.add(proc);
  void child.exited.then(() => {
    proc.exited = true;
    started.delete(proc);
  });

  // Ready when /healthz says the database answers.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exited) throw new Error(`server ${cfg.node} exited at start; its log (${logFile}):\n${tail(logFile)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`server ${cfg.node} not healthy within 60 s; its log (${logFile}):\n${tail(logFile)}`);
    }
    await Bun.sleep(100);
  }
  return proc;
}

/** Kills (SIGKILL) every server still running: for exits that cannot wait. */
export function killAllStarted() {
  for (const s of started) {
    try {
      process.kill(s.pid, "SIGKILL");
    } catch {}
  }
}

/** Prometheus text into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Differences of counters between two scrapes (new keys count from zero). */
export function metricsDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}
