/**
 * Groups for the group-size steps, made before anyone connects: `groups`
 * groups of `size` members (users `${prefix}N`, group k's members the users
 * k·size ... k·size + size − 1, the first its creator; group `${prefix}grpK`).
 * Made once and reused run after run: a database check says whether they are
 * all there.
 *
 * Two ways. Through the protocol, as clients would (register, login,
 * join_group, logout on a pool of connections): what a server does for a
 * join is then exactly what it does in production. But a join's reply lists
 * every member so far, so making a group of n that way moves n²/2 member
 * entries (50 million for 10,000). So for large groups the rows go in with
 * SQL, the rows join_group would have written (store/groups.ts joinGroup):
 * the membership, and on a schema with delivery positions the member's
 * positions row for the group, starting at the group's latest message. On a
 * version 1 schema (the pending table) a new member has nothing pending, so
 * the membership is all.
 */
import mysql from "mysql2/promise";
import { type Frame, LoadWire } from "../../test/support/load-wire.ts";

export type MembersVia = "protocol" | "sql";

export interface GroupSetup {
  prefix: string;
  size: number;
  groups: number;
  password: string;
  mysqlUrl: string;
  /** a running server, for the protocol path */
  target: { host: string; port: number };
  via: MembersVia;
  /** the server's argon2id cost: the SQL path stores a hash made with it, so that the users can log in */
  hash: { memoryKiB: number; time: number };
  /** connections of the protocol path */
  concurrency: number;
  deadline: number;
  log: (msg: string) => void;
}

export interface GroupSetupResult {
  /** how they were made this run, or "reused" */
  via: MembersVia | "reused";
  ms: number;
  users: number;
  memberships: number;
}

const groupName = (prefix: string, k: number) => `${prefix}grp${k}`;
const userName = (prefix: string, u: number) => `${prefix}${u}`;

/** How many members each of the setup's groups has now (absent: no such group). */
async function memberCounts(db: mysql.Connection, cfg: GroupSetup): Promise<Map<string, number>> {
  const names = Array.from({ length: cfg.groups }, (_, k) => groupName(cfg.prefix, k));
  const [r] = (await db.query(
    "SELECT g.name, COUNT(m.user_id) AS n FROM chat_groups g LEFT JOIN group_members m ON m.group_id = g.id WHERE g.name IN (?) GROUP BY g.id, g.name",
    [names],
  )) as unknown as [{ name: string; n: number }[]];
  return new Map(r.map((x) => [x.name, Number(x.n)]));
}

export async function ensureGroups(cfg: GroupSetup): Promise<GroupSetupResult> {
  const t0 = performance.now();
  const db = await mysql.createConnection({ uri: cfg.mysqlUrl });
  try {
    const before = await memberCounts(db, cfg);
    const complete = (m: Map<string, number>) => Array.from({ length: cfg.groups }, (_, k) => m.get(groupName(cfg.prefix, k)) ?? 0).every((n) => n >= cfg.size);
    if (complete(before)) return { via: "reused", ms: Math.round(performance.now() - t0), users: 0, memberships: 0 };
    const had = [...before.values()].reduce((a, b) => a + b, 0);
    cfg.log(`  making ${cfg.groups} group(s) of ${cfg.size} members (${cfg.prefix}N) through ${cfg.via === "sql" ? "SQL" : "the protocol"}, once; later runs reuse them`);
    const users = cfg.via === "sql" ? await bySql(db, cfg) : await byProtocol(db, cfg);
    const after = await memberCounts(db, cfg);
    if (!complete(after)) throw new Error(`group setup incomplete: ${[...after].map(([g, n]) => `${g} ${n}`).join(", ")} (want ${cfg.size} each)`);
    const memberships = [...after.values()].reduce((a, b) => a + b, 0) - had;
    const ms = Math.round(performance.now() - t0);
    cfg.log(`  made ${users} users and ${memberships} memberships in ${(ms / 1000).toFixed(1)} s`);
    return { via: cfg.via, ms, users, memberships };
  } finally {
    await db.end();
  }
}

/** The rows join_group writes, for every member at once. Returns how many users it created. */
async function bySql(db: mysql.Connection, cfg: GroupSetup): Promise<number> {
  const hash = await Bun.password.hash(cfg.password, { algorithm: "argon2id", memoryCost: cfg.hash.memoryKiB, timeCost: cfg.hash.time });
  const [[pos]] = (await db.query(
    "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'positions'",
  )) as unknown as [[{ n: number }]];
  const positions = Number(pos!.n) > 0;
  const now = Date.now();
  let created = 0;
  const CHUNK = 2000;
  for (let k = 0; k < cfg.groups; k++) {
    const first = k * cfg.size;
    const names = Array.from({ length: cfg.size }, (_, j) => userName(cfg.prefix, first + j));
    for (let i = 0; i < names.length; i += CHUNK) {
      const part = names.slice(i, i + CHUNK);
      const [r] = (await db.query("INSERT IGNORE INTO users (name, password_hash, created_at) VALUES ?", [part.map((n) => [n, hash, now])])) as unknown as [
        { affectedRows: number },
      ];
      created += r.affectedRows;
    }
    const ids = new Map<string, number>();
    for (let i = 0; i < names.length; i += CHUNK) {
      const [r] = (await db.query("SELECT id, name FROM users WHERE name IN (?)", [names.slice(i, i + CHUNK)])) as unknown as [{ id: number; name: string }[]];
      for (const x of r) ids.set(x.name, Number(x.id));
    }
    const creator = ids.get(names[0]!)!;
    const name = groupName(cfg.prefix, k);
    await db.query("INSERT IGNORE INTO chat_groups (name, description, creator_id, created_at) VALUES (?, 'load benchmark', ?, ?)", [name, creator, now]);
    const [[g]] = (await db.query("SELECT id FROM chat_groups WHERE name = ?", [name])) as unknown as [[{ id: number }]];
    const gid = Number(g!.id);
    await db.beginTransaction();
    try {
      // As createGroup and joinGroup: the creator from 0, the others from the group's latest message.
      await db.query("INSERT IGNORE INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'creator', ?)", [gid, creator, now]);
      if (positions) await db.query("INSERT IGNORE INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (?, ?, 0, 0, 0)", [creator, gid]);
      const [[top]] = (await db.query("SELECT COALESCE(MAX(mid), 0) AS top FROM messages WHERE group_id = ?", [gid])) as unknown as [[{ top: number }]];
      const others = names.slice(1).map((n) => ids.get(n)!);
      for (let i = 0; i < others.length; i += CHUNK) {
        const part = others.slice(i, i + CHUNK);
        await db.query("INSERT IGNORE INTO group_members (group_id, user_id, role, joined_at) VALUES ?", [part.map((u) => [gid, u, "normal", now])]);
        if (positions)
          await db.query("INSERT IGNORE INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES ?", [part.map((u) => [u, gid, 0, top!.top, top!.top])]);
      }
      await db.commit();
    } catch (e) {
      await db.rollback();
      throw e;
    }
  }
  return created;
}

/** register (if new), login, create_group or join_group, logout: a pool of connections working through the users. */
async function byProtocol(db: mysql.Connection, cfg: GroupSetup): Promise<number> {
  let created = 0;
  const fail = (what: string, r: Frame) => {
    throw new Error(`group setup: ${what}: ${r.code ?? r.type} ${r.message ?? ""}`);
  };
  const ignore = { push() {}, reply() {}, closed() {} };
  const open = () => LoadWire.open({ host: cfg.target.host, port: cfg.target.port }, 0, ignore);

  const asUser = async (w: LoadWire, u: number, then: (w: LoadWire) => Promise<void>) => {
    const name = userName(cfg.prefix, u);
    let r = await w.request("login", { name, password: cfg.password });
    if (r.type === "error" && r.code === "bad_credentials") {
      const reg = await w.request("register", { name, password: cfg.password });
      if (reg.type === "ok") created++;
      else if (reg.code !== "name_taken") fail(`register ${name}`, reg);
      r = await w.request("login", { name, password: cfg.password });
    }
    if (r.type !== "ok") fail(`login ${name}`, r);
    await then(w);
    const out = await w.request("logout");
    if (out.type !== "ok") fail(`logout ${name}`, out);
  };

  // The creators first, one connection: each group must exist before its members join.
  const ids: number[] = [];
  const first = await open();
  try {
    for (let k = 0; k < cfg.groups; k++) {
      const name = groupName(cfg.prefix, k);
      await asUser(first, k * cfg.size, async (w) => {
        const r = await w.request("create_group", { name, desc: "load benchmark" });
        if (r.type !== "ok" && r.code !== "group_name_taken") fail(`create_group ${name}`, r);
      });
      const [[g]] = (await db.query("SELECT id FROM chat_groups WHERE name = ?", [name])) as unknown as [[{ id: number }]];
      ids.push(Number(g!.id));
    }
  } finally {
    first.close();
  }

  const [have] = (await db.query("SELECT u.name FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN (?)", [ids])) as unknown as [
    { name: string }[],
  ];
  const members = new Set(have.map((x) => x.name));
  const todo: { u: number; group: number }[] = [];
  for (let k = 0; k < cfg.groups; k++)
    for (let j = 1; j < cfg.size; j++) {
      const u = k * cfg.size + j;
      if (!members.has(userName(cfg.prefix, u))) todo.push({ u, group: ids[k]! });
    }
  let next = 0;
  const worker = async () => {
    const w = await open();
    try {
      while (next < todo.length && Date.now() < cfg.deadline) {
        const t = todo[next++]!;
        await asUser(w, t.u, async () => {
          const r = await w.request("join_group", { group: t.group });
          if (r.type !== "ok" && r.code !== "already_member") fail(`join_group ${t.group}`, r);
        });
      }
    } finally {
      w.close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cfg.concurrency, todo.length)) }, worker));
  return created;
}
