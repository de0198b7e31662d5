/**
 * Process figures from /proc: resident memory and CPU time of a process we
 * started (or of MariaDB/Redis, by the pid their data directory records), and
 * the file-descriptor limit.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

const TICKS = 100; // USER_HZ: clock ticks per second on Linux

export interface ProcSample {
  /** CPU seconds (user + system) since the process started */
  cpuS: number;
  /** resident set size now, bytes */
  rss: number;
  /** peak resident set size, bytes */
  hwm: number;
  /** when the sample was taken, ms (performance.now) */
  at: number;
}

/** One sample of `pid`, or undefined when it is gone. */
export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces: take what follows the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { cpuS: (utime + stime) / TICKS, rss: kb("VmRSS"), hwm: kb("VmHWM"), at: performance.now() };
  } catch {
    return undefined;
  }
}

/** CPU use between two samples, percent of one core. */
export function cpuPercent(a: ProcSample | undefined, b: ProcSample | undefined): number {
  if (!a || !b || b.at <= a.at) return 0;
  return (100 * (b.cpuS - a.cpuS)) / ((b.at - a.at) / 1000);
}

/** This process's CPU seconds (user + system). */
export function selfCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The soft and hard limits on open files of this process. */
export function fdLimits(): { soft: number; hard: number } {
  const text = readFileSync("/proc/self/limits", "utf8");
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const n = (s: string | undefined) => (s === undefined || s === "unlimited" ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** A pid from a pid file, if that process is alive. */
export function pidFromFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && sample(pid) ? pid : undefined;
}

/** What the machine is, for the results. */
export function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const cores = navigator.hardwareConcurrency;
  let memGiB = 0;
  try {
    memGiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024 / 1024;
  } catch {}
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {}
  return { cpu: model, cores, memGiB: Math.round(memGiB * 10) / 10, kernel, bun: Bun.version };
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusyS(): number {
  try {
    const first = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const v = first.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return (total - idle) / TICKS;
  } catch {
    return 0;
  }
}

/** The 1-minute load average. */
export function loadAvg(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
}

/** CPU seconds of every process on the machine, by pid (with its command name). */
export function allProcs(): Map<number, { comm: string; cpuS: number }> {
  const out = new Map<number, { comm: string; cpuS: number }>();
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(p), { comm, cpuS: (Number(f[11]) + Number(f[12])) / TICKS });
    } catch {}
  }
  return out;
}

/** The processes (not in `exclude`) that used the most CPU between two allProcs() snapshots, % of one core. */
export function topOthers(
  a: Map<number, { comm: string; cpuS: number }>,
  b: Map<number, { comm: string; cpuS: number }>,
  seconds: number,
  exclude: Set<number>,
  n = 4,
): { pid: number; comm: string; cpuPct: number }[] {
  const rows: { pid: number; comm: string; cpuPct: number }[] = [];
  for (const [pid, x] of b) {
    if (exclude.has(pid)) continue;
    const d = x.cpuS - (a.get(pid)?.cpuS ?? 0);
    if (d > 0) rows.push({ pid, comm: x.comm, cpuPct: Math.round((100 * d) / seconds) });
  }
  return rows.sort((p, q) => q.cpuPct - p.cpuPct).slice(0, n).filter((r) => r.cpuPct > 0);
}
