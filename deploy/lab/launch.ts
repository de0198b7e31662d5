/**
 * Starts programs inside the lab's namespaces, and nowhere else.
 *
 * Every program goes through `ip netns exec <ns>`, which enters the namespace
 * before it executes the program (and executes nothing when it cannot), after
 * checking that the namespace is one of this run's and exists. The PID is
 * recorded at once; then the process's network namespace is compared with the
 * target's, and a process found anywhere else is killed on the spot.
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { timedOut, waitUntil } from "../../test/support/wait.ts";
import { nsExists, nsInode, procNetns, type Member, type Topology } from "./netns.ts";
import { PidRegistry, crash, type Recorded } from "./procs.ts";

export interface Started {
  proc: Subprocess;
  rec: Recorded;
  log: string;
  member: Member;
}

export class Launcher {
  constructor(
    readonly topo: Topology,
    readonly reg: PidRegistry,
    readonly logDir: string,
  ) {}

  /** The namespace of a lab member, after checking it is ours and exists. */
  ns(member: Member): string {
    const ns = this.topo.ns[member];
    if (!ns || !ns.startsWith("chlab") || !nsExists(ns))
      throw new Error(`refusing to start anything: lab namespace for ${member} (${ns}) does not exist`);
    return ns;
  }

  /** Starts a long-running program in a member namespace, output to `<logDir>/<label>.log`. */
  async spawn(member: Member, argv: string[], label: string, opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Started> {
    const ns = this.ns(member);
    const log = join(this.logDir, `${label}.log`);
    const fd = openSync(log, "a");
    let proc: Subprocess;
    try {
      proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], {
        stdin: "ignore",
        stdout: fd,
        stderr: fd,
        cwd: opts.cwd,
        env: opts.env ?? (process.env as Record<string, string>),
      });
    } finally {
      closeSync(fd);
    }
    const rec = this.reg.record(proc.pid, label);
    if (!rec) throw new Error(`${label} exited at once; see ${log}`);
    await this.#confirmNamespace(rec, ns);
    return { proc, rec, log, member };
  }

  /**
   * Runs a short program in a member namespace to completion (recorded like
   * the rest, SIGKILLed after `timeoutMs`); throws when it fails.
   */
  async run(member: Member, argv: string[], timeoutMs = 30_000): Promise<string> {
    const ns = this.ns(member);
    const proc = Bun.spawn(["ip", "netns", "exec", ns, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const rec = this.reg.record(proc.pid, `run:${argv[0]}`);
    const timer = setTimeout(() => rec && crash([rec]), timeoutMs);
    try {
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) throw new Error(`${argv.join(" ")} in ${member} failed (${proc.signalCode ?? code}): ${err || out}`);
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits until the process is in the namespace it was meant for (`ip netns
   * exec` enters it right after starting). Anywhere else: SIGKILL and throw.
   */
  async #confirmNamespace(rec: Recorded, ns: string) {
    const want = nsInode(ns);
    const placed = await waitUntil(
      `${rec.label} in namespace ${ns}`,
      () => {
        const have = procNetns(rec.pid);
        return have === undefined || have === want; // exited (its log says why) or in place
      },
      2_000,
      { everyMs: 5 },
    ).catch(timedOut);
    if (placed) return;
    crash([rec]);
    throw new Error(`${rec.label} (${rec.pid}) is not in namespace ${ns}: killed it`);
  }
}
