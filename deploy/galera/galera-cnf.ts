/**
 * deploy/galera/galera.cnf filled in for one node: what an operator does by
 * hand on each VM (THIS-NODE, THIS-ADDRESS), plus the ports and the member
 * list, which the tests and the lab choose themselves (private clusters on
 * loopback need a port set per node). What runs is the file the guide tells
 * operators to install, so the two cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The template, as shipped. */
export const GALERA_CNF = resolve(import.meta.dir, "galera.cnf");

/** Galera's own ports (the template's): group communication, IST, SST. */
export const GALERA_PORTS = { gcomm: 4567, ist: 4568, sst: 4444 } as const;

export interface GaleraNode {
  /** wsrep_node_name, e.g. "db1". */
  name: string;
  /** The address the node listens on and the others reach it at. */
  address: string;
  /** Default GALERA_PORTS. */
  ports?: { gcomm: number; ist: number; sst: number };
  /** Galera's write-set cache (how long a node may be away and still catch up by IST). Default the template's 256M. */
  gcacheSize?: string;
}

/** The template's member list: replaced as a whole by the cluster's. */
const TEMPLATE_MEMBERS = "gcomm://10.0.0.21:4567,10.0.0.22:4567,10.0.0.23:4567";

/**
 * The file for `node` in a cluster of `members` ("address:gcomm-port" each,
 * `node` among them). `template` defaults to deploy/galera/galera.cnf.
 * Throws when the template no longer holds what it replaces: whoever changed
 * the file must change this too.
 */
export function galeraCnf(node: GaleraNode, members: string[], template = readFileSync(GALERA_CNF, "utf8")): string {
  if (members.length === 0) throw new TypeError("a Galera cluster needs at least one member");
  const ports = node.ports ?? GALERA_PORTS;
  const self = `${node.address}:${ports.gcomm}`;
  if (!members.includes(self)) throw new TypeError(`the member list (${members.join(", ")}) does not name this node (${self})`);
  // The comments speak to the operator (and name the placeholders): not needed here.
  const lines = template.split("\n").filter((l) => !/^\s*#/.test(l));
  return replaceAll(lines.join("\n"), [
    [TEMPLATE_MEMBERS, `gcomm://${members.join(",")}`],
    ["THIS-ADDRESS:4567", self],
    ["THIS-ADDRESS:4568", `${node.address}:${ports.ist}`],
    ["THIS-ADDRESS:4444", `${node.address}:${ports.sst}`],
    ["THIS-NODE", node.name],
    ...(node.gcacheSize ? ([["gcache.size=256M", `gcache.size=${node.gcacheSize}`]] as [string, string][]) : []),
  ]);
}

function replaceAll(text: string, pairs: [string, string][]): string {
  let out = text;
  for (const [from, to] of pairs) {
    if (!out.includes(from)) throw new Error(`deploy/galera/galera.cnf no longer contains ${JSON.stringify(from)}`);
    out = out.split(from).join(to);
  }
  if (out.includes("THIS-")) throw new Error("deploy/galera/galera.cnf has a placeholder galeraCnf does not fill");
  return out;
}
