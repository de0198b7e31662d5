/**
 * The processes the lab starts, and only those.
 *
 * Every PID is appended to a registry file with its kernel start time the
 * moment it is known, so the supervisor can stop it even when the driver dies,
 * and a PID the kernel has since reused for somebody else's process is never
 * signalled. All lab namespaces share one PID namespace with the host: nothing
 * here ever looks processes up by name (`pidof nginx` would see every nginx).
 */
import { appendFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { timedOut, waitUntil } from "../../test/support/wait.ts";

export interface Recorded {
  pid: number;
  /** Field 22 of /proc/PID/stat: tells this process from a later one with the same PID. */
  start: string;
  label: string;
}

interface Stat {
  state: string;
  ppid: number;
  start: string;
}

/** Parses /proc/PID/stat (the name in parentheses may hold spaces and parentheses). */
export function procStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // no such process
  }
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "?", ppid: Number(rest[1]), start: rest[19] ?? "" };
}

/** True while the recorded process exists, is the same process, and is not a zombie. */
export function alive(p: Recorded): boolean {
  const s = procStat(p.pid);
  return !!s && s.start === p.start && s.state !== "Z" && s.state !== "X";
}

/** Append-only file of the PIDs this lab run started. */
export class PidRegistry {
  constructor(readonly file: string) {}

  /** Records a PID we just started; returns undefined when it already exited. */
  record(pid: number, label: string): Recorded | undefined {
    const s = procStat(pid);
    if (!s) return undefined;
    const r = { pid, start: s.start, label };
    appendFileSync(this.file, `${pid} ${s.start} ${label}\n`);
    return r;
  }

  list(): Recorded[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [pid, start, ...label] = line.split(" ");
        return { pid: Number(pid), start: start ?? "", label: label.join(" ") };
      });
  }

  /**
   * Records the live descendants of recorded processes (nginx workers,
   * keepalived's VRRP child, a check script in flight): they were started by
   * processes we started, and must die with them.
   */
  recordDescendants(of: Recorded[]): Recorded[] {
    const found: Recorded[] = [];
    for (const pid of descendants(new Set(of.filter(alive).map((p) => p.pid)))) {
      const parent = of.find((p) => p.pid === procStat(pid)?.ppid)?.label ?? "child";
      const r = this.record(pid, `${parent}/child`);
      if (r) found.push(r);
    }
    return found;
  }
}

/** Every process below `roots` in the process tree (by PPid), roots excluded. */
export function descendants(roots: Set<number>): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s) parentOf.set(Number(name), s.ppid);
  }
  const out: number[] = [];
  const inTree = new Set(roots);
  // Bounded: each pass adds at least one process or stops.
  for (let pass = 0; pass < 64; pass++) {
    let added = false;
    for (const [pid, ppid] of parentOf) {
      if (!inTree.has(pid) && inTree.has(ppid)) {
        inTree.add(pid);
        out.push(pid);
        added = true;
      }
    }
    if (!added) break;
  }
  return out;
}

function signal(p: Recorded, sig: NodeJS.Signals) {
  if (!alive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // It exited between the check and the signal: that is what we wanted.
  }
}

/**
 * Stops recorded processes: SIGTERM, up to `graceMs` for them to go, then
 * SIGKILL for the rest. Returns the labels of those that needed SIGKILL.
 */
export async function stopRecorded(procs: Recorded[], graceMs = 3_000): Promise<string[]> {
  const live = procs.filter(alive);
  for (const p of live) signal(p, "SIGTERM");
  await waitUntil("recorded processes gone after SIGTERM", () => !live.some(alive), graceMs).catch(timedOut);
  const stubborn = live.filter(alive);
  for (const p of stubborn) signal(p, "SIGKILL");
  await waitUntil("recorded processes gone after SIGKILL", () => !stubborn.some(alive), 2_000, { everyMs: 20 }).catch(timedOut);
  return stubborn.map((p) => `${p.label} (${p.pid})`);
}

/** SIGKILL at once, no grace: the crash the lab simulates. */
export function crash(procs: Recorded[]) {
  for (const p of procs) signal(p, "SIGKILL");
}
