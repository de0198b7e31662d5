/**
 * How `chat admin` prints what it found: aligned columns for lists, one
 * field a line for a single user, times in UTC with their age. Names are
 * printed as they are unless they hold white space or quotes (then as JSON
 * strings), so that a column never breaks.
 */
import type { NodeView } from "../cluster/cluster-admin.ts";
import type { AccountSummary } from "../store/accounts.ts";
import type { StoreStats } from "../store/stats.ts";

const name = (s: string) => (/^[^\s"'\\]+$/.test(s) ? s : JSON.stringify(s));

/** `1 session`, `2 sessions`. */
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** `alice (7)`. */
export const who = (a: { id: number; name: string }) => `${name(a.name)} (${a.id})`;

/** A time as `2025-06-01 12:00:00Z`. */
export const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");

/** A span as `850ms`, `12s`, `5m`, `3h`, `2d`. */
export function span(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)}h`;
  return `${Math.round(ms / 86_400_000)}d`;
}

/** `since 2025-06-01 12:00:00Z, 3h ago`. */
export const since = (ms: number) => `since ${time(ms)}, ${span(Math.max(0, Date.now() - ms))} ago`;

/** Midnight UTC of the current day, ms. */
export function startOfTodayUtc(now = Date.now()): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** Rows of cells as aligned columns. */
function columns(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ").trimEnd()).join("\n") + "\n";
}

export function formatAccount(a: AccountSummary & { pending: number; liveTokens: number; onlineOn?: string[] }): string {
  const lines = [
    `user ${who(a)}`,
    `  created   ${time(a.created)}`,
    `  banned    ${a.banned === null ? "no" : since(a.banned)}`,
    `  friends   ${a.friends}`,
    `  groups    ${a.groups}`,
    `  pending   ${a.pending} message${a.pending === 1 ? "" : "s"}`,
    `  tokens    ${a.liveTokens} live`,
  ];
  if (a.onlineOn) lines.push(`  online    ${a.onlineOn.length ? `on ${a.onlineOn.join(", ")}` : "no"}`);
  return `${lines.join("\n")}\n`;
}

export function formatAccounts(list: AccountSummary[], what: string, cut: number | undefined): string {
  const rows = [["id", "name", "created", "banned", "friends", "groups"]];
  for (const a of list) rows.push([String(a.id), name(a.name), time(a.created), a.banned === null ? "-" : time(a.banned), String(a.friends), String(a.groups)]);
  const head = `${list.length} user${list.length === 1 ? "" : "s"}, ${what}${cut === undefined ? "" : ` (the first ${cut}; more with --limit, or a longer NAME)`}\n`;
  return head + (list.length ? columns(rows) : "");
}

export function formatNodes(list: NodeView[]): string {
  const live = list.filter((n) => n.alive).length;
  const rows = [["node", "state", "heartbeat", "users", "connections", "sessions", "started"]];
  for (const n of list) {
    const s = n.stats;
    rows.push([
      n.node,
      n.alive ? "alive" : "dead, not yet reaped",
      n.heartbeatAgeMs === undefined ? "-" : `${span(n.heartbeatAgeMs)} ago`,
      String(n.users),
      s.connections === undefined ? "?" : String(s.connections),
      s.sessions === undefined ? "?" : String(s.sessions),
      s.started === undefined ? "?" : `${time(s.started)} (up ${span(Date.now() - s.started)})`,
    ]);
  }
  const head = `${live} live node${live === 1 ? "" : "s"}${list.length > live ? `, ${list.length - live} dead` : ""} in Redis\n`;
  const unknown = list.some((n) => n.stats.connections === undefined) ? "?: the node wrote no figures (an older version, or a dead node's expired)\n" : "";
  return head + (list.length ? columns(rows) : "") + unknown;
}

export function formatStats(f: StoreStats & { today: number; nodes?: { live: number; connections: number; sessions: number } }): string {
  const rows = [
    ["users", `${f.users}${f.banned ? ` (${f.banned} banned)` : ""}`],
    ["groups", String(f.groups)],
    ["messages", `${f.highestMid} ids issued (the highest mid)`],
    ["today", `${f.messagesSince} message${f.messagesSince === 1 ? "" : "s"} since ${time(f.today)}`],
    ["live tokens", String(f.liveTokens)],
    ["held acks", `${f.heldAcks} (acks above a gap; the gap's messages are still pending)`],
    ["nodes", f.nodes ? `${f.nodes.live} live, ${plural(f.nodes.connections, "connection")}, ${plural(f.nodes.sessions, "session")}` : "unknown without --redis"],
  ];
  return columns(rows);
}
