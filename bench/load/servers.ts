/**
 * Chat server processes for the benchmark, on the shared spawnNode
 * (test/support/node.ts): run through `sh -c "ulimit -n ...; exec bun
 * src/main.ts server ..."` so the server gets the raised file-descriptor limit
 * too, output to a log file, ready when /healthz answers, stopped by their own
 * pid (SIGTERM, then SIGKILL), and sampled from /proc and /metrics.
 */
import type { Subprocess } from "bun";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type NodeProcess, spawnNode } from "../../test/support/node.ts";

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

export interface ServerProc extends NodeProcess {
  logFile: string;
  profileFile?: string;
}

/** Every server this process started (from the moment it exists) and has not seen exit: the exit hooks kill these, by pid. */
const started = new Set<Subprocess>();

export async function spawnServer(cfg: ServerConfig): Promise<ServerProc> {
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
  const root = cfg.root ?? ROOT;
  const node = await spawnNode({
    node: cfg.node,
    mysqlUrl: cfg.mysqlUrl,
    redisUrl: cfg.redisUrl,
    hash: { memoryCost: cfg.hashMemoryKiB, timeCost: cfg.hashTime },
    command: [process.execPath, ...profArgs, join(root, "src/main.ts")],
    // The first run logs every user in before registering it (bad_credentials): from a few
    // loopback addresses that is hundreds of failures each, which the per-address throttle would hold back.
    args: ["--admin-host", "127.0.0.1", "--rate-limit", "0", "--login-ip-failures", "0", "--pool-max-size", String(cfg.poolMaxSize), "--log-level", "warn", ...(cfg.extraArgs ?? [])],
    // `ulimit -n` in the shell that then becomes the server: the pid we get is the server's.
    prefix: ["sh", "-c", `ulimit -n ${cfg.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, "sh"],
    cwd: root,
    logFile,
    ready: "healthz",
    startTimeoutMs: 60_000,
    onStart: (p) => {
      started.add(p);
      void p.exited.then(() => started.delete(p));
    },
  });
  const proc: ServerProc = Object.assign(node, {
    logFile,
    profileFile,
    argv: node.argv.map((a) => (a === cfg.mysqlUrl || a === cfg.redisUrl ? redact(a) : a)),
  });
  return proc;
}

/** Kills (SIGKILL) every server still running: for exits that cannot wait. */
export function killAllStarted() {
  for (const s of started) {
    try {
      process.kill(s.pid, "SIGKILL");
    } catch {
      // It exited between the exit hook and the signal: that is what we wanted.
    }
  }
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

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}
