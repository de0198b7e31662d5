/**
 * The lab's network: nine namespaces of its own, never the host's.
 *
 *   <p>-br   a Linux bridge `labbr0`, no uplink: the lab's only "switch"
 *   <p>-vm1  "VM 1": chat node + nginx + keepalived (MASTER) + a sentinel
 *   <p>-vm2  "VM 2": chat node + nginx + keepalived (BACKUP) + a sentinel
 *   <p>-vm3  "VM 3": chat node + a sentinel (behind the nginx of VM 1 and 2)
 *   <p>-db   the Redis primary (the two-VM guide's database host)
 *   <p>-db1  Galera node 1 (the writer first in the host list) + the Redis replica
 *   <p>-db2  Galera node 2
 *   <p>-db3  Galera node 3
 *   <p>-cli  the clients (the lab driver runs here)
 *
 * Each member namespace gets one veth `lab0` whose peer sits on the bridge;
 * both ends are created directly inside their namespaces (`ip -n`), so no
 * interface ever appears on the host. `lab0` must not exist on the host: a
 * keepalived started by mistake outside the lab then fails to start instead
 * of announcing VRRP on a real network. Addresses are on a private /24 that
 * only these namespaces know.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

export const MEMBERS = ["vm1", "vm2", "vm3", "db", "db1", "db2", "db3", "cli"] as const;
export type Member = (typeof MEMBERS)[number];

export interface Topology {
  /** Namespace names, all starting with the run's prefix. */
  ns: Record<Member | "br", string>;
  /** The /24's first three octets, e.g. "10.200.77". */
  net: string;
  addr: Record<Member | "vip", string>;
  /** Interface name inside every member namespace (keepalived's `interface`). */
  iface: string;
  bridge: string;
}

/** The default subnet; CHAT_LAB_NET="a.b.c" picks another private /24. */
export const DEFAULT_NET = "10.200.77";

export function plan(runId: number, net = process.env.CHAT_LAB_NET ?? DEFAULT_NET): Topology {
  if (!/^(10\.\d{1,3}\.\d{1,3}|172\.(1[6-9]|2\d|3[01])\.\d{1,3}|192\.168\.\d{1,3})$/.test(net))
    throw new TypeError(`CHAT_LAB_NET must be the first three octets of a private /24, got "${net}"`);
  const p = `chlab${runId}`;
  return {
    ns: { br: `${p}-br`, vm1: `${p}-vm1`, vm2: `${p}-vm2`, vm3: `${p}-vm3`, db: `${p}-db`, db1: `${p}-db1`, db2: `${p}-db2`, db3: `${p}-db3`, cli: `${p}-cli` },
    net,
    addr: { vm1: `${net}.11`, vm2: `${net}.12`, vm3: `${net}.13`, db: `${net}.20`, db1: `${net}.21`, db2: `${net}.22`, db3: `${net}.23`, cli: `${net}.30`, vip: `${net}.100` },
    iface: "lab0",
    bridge: "labbr0",
  };
}

/** Runs `ip ARGS`; throws with its stderr when it fails. */
export function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
}

export function nsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`) && ip("netns", "list").split("\n").some((l) => l.split(" ")[0] === name);
}

/** The inode that identifies a network namespace (compare with /proc/PID/ns/net). */
export function nsInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

/** The network namespace inode a process lives in, or undefined when it is gone. */
export function procNetns(pid: number | "self"): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined; // the process exited
  }
}

function hostHasLink(name: string): boolean {
  return spawnSync("ip", ["link", "show", "dev", name], { encoding: "utf8" }).status === 0;
}

/** Reasons not to run, empty when the host is fit. Reads only. */
export function preflight(t: Topology): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push("must run as root (network namespaces, keepalived)");
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (r.status !== 0) problems.push(`\`ip netns\` is unavailable: ${(r.stderr || r.error?.message || "").trim()}`);
  for (const name of [t.iface, t.bridge])
    if (hostHasLink(name)) problems.push(`the host has an interface named ${name}; the lab needs that name free`);
  for (const name of Object.values(t.ns))
    if (existsSync(`/run/netns/${name}`)) problems.push(`namespace ${name} already exists`);
  // Our /24 lives only in the lab, but a host route into it would make any
  // mistake reach a real network: refuse rather than guess.
  const routes = spawnSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" }).stdout ?? "";
  for (const line of routes.split("\n")) {
    const dst = line.split(" ")[0] ?? "";
    if (dst && dst !== "default" && overlaps(dst, `${t.net}.0/24`))
      problems.push(`the host routes ${dst}, which overlaps the lab's ${t.net}.0/24 (set CHAT_LAB_NET)`);
  }
  return problems;
}

function toInt(a: string): number {
  return a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function overlaps(a: string, b: string): boolean {
  const [an, al = "32"] = a.split("/");
  const [bn, bl = "32"] = b.split("/");
  if (!an || !bn || !/^\d+\.\d+\.\d+\.\d+$/.test(an)) return false;
  const len = Math.min(Number(al), Number(bl));
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((toInt(an) & mask) >>> 0) === ((toInt(bn) & mask) >>> 0);
}

/**
 * Creates the namespaces and wires them. `created` receives each namespace
 * the moment it exists, so a failure halfway still removes what was made.
 */
export function createTopology(t: Topology, created: string[]) {
  for (const name of Object.values(t.ns)) {
    ip("netns", "add", name);
    created.push(name);
  }
  const br = t.ns.br;
  ip("-n", br, "link", "set", "lo", "up");
  ip("-n", br, "link", "add", t.bridge, "type", "bridge");
  ip("-n", br, "link", "set", t.bridge, "up");
  for (const m of MEMBERS) {
    const ns = t.ns[m];
    // Created inside the bridge namespace, the peer straight into the member's.
    ip("-n", br, "link", "add", `p-${m}`, "type", "veth", "peer", "name", t.iface, "netns", ns);
    ip("-n", br, "link", "set", `p-${m}`, "master", t.bridge);
    ip("-n", br, "link", "set", `p-${m}`, "up");
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "addr", "add", `${t.addr[m]}/24`, "dev", t.iface);
    ip("-n", ns, "link", "set", t.iface, "up");
  }
}

/** Deletes the namespaces this run created; returns what could not be deleted. */
export function destroyTopology(created: string[]): string[] {
  const failed: string[] = [];
  for (const name of [...created].reverse()) {
    if (!existsSync(`/run/netns/${name}`)) continue;
    const r = spawnSync("ip", ["netns", "del", name], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0) failed.push(`${name}: ${(r.stderr ?? "").trim()}`);
  }
  return failed;
}

/**
 * The IPv4 addresses on the lab interface of a namespace. Asynchronous: the
 * lab polls this during failovers and must not stall its clients meanwhile.
 */
export async function addressesIn(ns: string, iface: string): Promise<string[]> {
  const p = Bun.spawn(["ip", "-n", ns, "-4", "-o", "addr", "show", "dev", iface], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`ip -n ${ns} addr show dev ${iface}: ${err.trim()}`);
  return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
}
