/**
 * `chat admin` against a running two-node cluster (two server processes,
 * one MariaDB, one Redis): finding users, resetting a password, banning a
 * user logged in on both nodes, deleting a group with members on both nodes,
 * the live nodes, the figures; and the same command from dist/chat in an
 * empty directory.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import mysql from "mysql2/promise";
import { befriend, type Frame, PASSWORD, person, register, session } from "../support/conformance.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { waitUntil as until } from "../support/wait.ts";
import type { Wire } from "../support/wire.ts";

const ROOT = `${import.meta.dir}/../..`;
const MAIN = `${ROOT}/src/main.ts`;
const tag = process.pid % 10000;
const nm = (s: string) => `adm${tag}_${s}`;

let dbUrl: string;
let n1: NodeProcess;
let n2: NodeProcess;
const extra: NodeProcess[] = [];
const open: Wire[] = [];

beforeAll(async () => {
  dbUrl = await freshDatabase();
  // No ban check: a ban reaches these nodes through Redis or not at all.
  [n1, n2] = await Promise.all([
    spawnNode({ node: `adm1-${process.pid}`, mysqlUrl: dbUrl, redisUrl: redisUrl(), args: ["--ban-check", "0"] }),
    spawnNode({ node: `adm2-${process.pid}`, mysqlUrl: dbUrl, redisUrl: redisUrl(), args: ["--ban-check", "0"] }),
  ]);
});

afterAll(async () => {
  for (const w of open) if (!w.closed) w.close();
  await Promise.all([n1?.kill(), n2?.kill(), ...extra.map((p) => p.kill())]);
});

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The environment without any CHAT_* variable, plus `env`. */
function only(env: Record<string, string>): Record<string, string | undefined> {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CHAT_"))), ...env };
}

/**
 * `chat admin ...` as a child process with the cluster's database and Redis in
 * its environment (`redis: false` leaves Redis out). Asynchronous: the test's
 * own connections keep reading meanwhile.
 */
async function admin(args: string[], opts: { redis?: boolean; stdin?: string; db?: string; exe?: string[]; cwd?: string } = {}): Promise<Run> {
  const env = only({ CHAT_MYSQL_URL: opts.db ?? dbUrl, ...(opts.redis === false ? {} : { CHAT_REDIS_URL: redisUrl() }) });
  const proc = Bun.spawn([...(opts.exe ?? [process.execPath, MAIN]), "admin", ...args], {
    env,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

async function json(args: string[], opts: Parameters<typeof admin>[1] = {}): Promise<any> {
  const r = await admin([...args, "--json"], opts);
  if (r.code !== 0) throw new Error(`chat admin ${args.join(" ")} exited with ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
}

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: dbUrl });
  try {
    return (await conn.query(sql, params))[0] as T[];
  } finally {
    await conn.end();
  }
}

/** The error frame without `re` that ends a connection, and the close after it. */
async function endedWith(w: Wire, code: string): Promise<Frame> {
  const f = await w.next((x) => x.type === "error" && x.code === code, 5000);
  await w.closedPromise();
  return f;
}

const tracked = <T extends { w: Wire }>(p: T) => (open.push(p.w), p);

describe("chat admin users", () => {
  it("shows a user by exact name or id, lists names by prefix within --limit, and prints no hash or token", async () => {
    const ann = tracked(await person(n1.port, nm("ann")));
    for (const s of ["anna", "annabel", "bo"]) await register(n1.port, nm(s));
    const bo = tracked(await session(n2.port, nm("bo")));
    await befriend(ann, bo);

    const shown = await json(["users", nm("ann")]);
    expect(shown).toEqual({
      id: ann.id,
      name: nm("ann"),
      created: expect.any(Number),
      banned: null,
      friends: 1,
      groups: 0,
      pending: 0,
      liveTokens: 1,
      onlineOn: [n1.node],
    });
    const byId = await admin(["users", String(bo.id)]);
    expect(byId.code).toBe(0);
    expect(byId.out).toContain(`user ${nm("bo")} (${bo.id})`);
    expect(byId.out).toContain(`online    on ${n2.node}`);

    const prefix = nm("an");
    const listed = await json(["users", prefix]);
    expect(listed.users.map((u: Frame) => u.name)).toEqual([nm("ann"), nm("anna"), nm("annabel")].sort());
    expect(listed.more).toBe(false);
    const cut = await admin(["users", prefix, "--limit", "2"]);
    expect(cut.code).toBe(0);
    expect(cut.out.split("\n")[0]).toBe(`2 users, names starting with "${prefix}" (the first 2; more with --limit, or a longer NAME)`);
    expect(cut.out.trim().split("\n")).toHaveLength(4); // the line above, the header, two users
    expect((await json(["users", nm("ann"), "--prefix"])).users).toHaveLength(3);

    const all = [shown, byId, listed, cut].map((x) => JSON.stringify(x)).join("");
    expect(all).not.toContain("$argon2");
    expect(all).not.toContain(ann.token);
    expect(all).not.toContain(bo.token);
  });

  it("answers a user or group that does not exist with one line and exit code 1, and a usage error with exit code 2", async () => {
    for (const sub of ["users", "ban", "unban", "reset-password"]) {
      const r = await admin([sub, nm("nobody")]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^chat admin ${sub}: no user('s name)? is( or starts with)? (named )?"${nm("nobody")}"`));
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    expect(await admin(["ban", "987654"])).toMatchObject({ code: 1, err: "chat admin ban: no user has id 987654\n" });
    expect(await admin(["delete-group", "987654"])).toMatchObject({ code: 1, err: "chat admin delete-group: no group has id 987654\n" });
    expect((await admin(["delete-group", nm("nogroup")])).code).toBe(1);

    expect(await admin(["ban"])).toMatchObject({ code: 2, err: "chat admin ban: missing USER\nsee: chat admin ban --help\n" });
    expect((await admin(["ban", "a", "b"])).err).toStartWith('chat admin ban: unexpected argument "b"');
    expect((await admin(["users", "--limit", "0"])).code).toBe(2);
    expect((await admin(["nodes"], { redis: false })).err).toStartWith("chat admin nodes: --redis is required");
    const unknown = await admin(["frob"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toStartWith('chat admin: unknown command "frob"');
    for (const sub of ["users", "reset-password", "ban", "unban", "delete-group", "nodes", "stats"]) {
      const help = await admin([sub, "--help"]);
      expect(help.code).toBe(0);
      expect(help.out).toStartWith(`usage: chat admin ${sub}`);
    }
    const list = await admin([]);
    expect(list.code).toBe(0);
    for (const sub of ["users", "reset-password", "ban", "unban", "delete-group", "nodes", "stats"]) expect(list.out).toContain(`\n  ${sub} `);
  });
});

describe("chat admin ban", () => {
  it("ends the user's sessions on both nodes at once, fails its logins with bad_credentials, and unban lets it back in", async () => {
    const watcher = tracked(await person(n2.port, nm("watch")));
    const s1 = tracked(await person(n1.port, nm("banme")));
    const s2 = tracked(await session(n2.port, nm("banme")));
    await befriend(watcher, s1);
    const from = watcher.w.frames.length;

    const r = await admin(["ban", nm("banme")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`banned ${nm("banme")} (${s1.id}): its logins now fail with bad_credentials; revoked 2 login tokens`);
    expect(r.out).toContain("told the nodes through Redis: 2 nodes with sessions of");
    // The nodes check the database never (--ban-check 0): only the message through Redis ends these.
    for (const s of [s1, s2]) {
      const f = await endedWith(s.w, "banned");
      expect(f).toEqual({ type: "error", code: "banned", message: "this account has been banned" });
    }
    expect(await watcher.w.push("presence", (f) => f.user === s1.id, from)).toEqual({ type: "presence", user: s1.id, online: false });

    for (const node of [n1, n2]) {
      const w = tracked({ w: await node.connect() }).w;
      expect((await w.req({ type: "login", name: nm("banme"), password: PASSWORD })).code).toBe("bad_credentials");
      expect((await w.req({ type: "login", user: s1.id, password: PASSWORD })).code).toBe("bad_credentials");
      expect((await w.req({ type: "login", token: s1.token })).code).toBe("bad_credentials");
      expect((await w.req({ type: "login", token: s2.token })).code).toBe("bad_credentials");
    }
    const shown = await json(["users", String(s1.id)]);
    expect(shown.banned).toEqual(expect.any(Number));
    expect(shown.liveTokens).toBe(0);
    expect(shown.onlineOn).toEqual([]);
    expect((await admin(["ban", nm("banme")])).out).toContain("was banned already");

    const lifted = await admin(["unban", String(s1.id)]);
    expect(lifted).toMatchObject({ code: 0, out: `unbanned ${nm("banme")} (${s1.id}): it can log in with its password again (the ban revoked its tokens)\n` });
    for (const node of [n1, n2]) tracked(await session(node.port, nm("banme")));
    expect((await admin(["unban", nm("banme")])).out).toContain("is not banned");
  });

  it("ends the session at the node's next ban check when Redis is not there", async () => {
    // A single node without Redis, on the same database, looking every second.
    const solo = await spawnNode({ node: `adm3-${process.pid}`, mysqlUrl: dbUrl, args: ["--ban-check", "1s"] });
    extra.push(solo);
    const s = tracked(await person(solo.port, nm("solo")));
    const r = await admin(["ban", nm("solo")], { redis: false });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`without Redis, each node ends the sessions of ${nm("solo")} (${s.id}) at its next ban check`);
    await endedWith(s.w, "banned");
    // The node logs it once the session has ended; its stderr may come a moment after the close.
    await until("the node's sessions_ended line", () => (solo.log().includes(`sessions_ended user=${s.id} reason=banned sessions=1`) ? true : undefined));
  });
});

describe("chat admin reset-password", () => {
  it("prints a new password that logs in, and revokes the old password and tokens; --stdin sets the one given", async () => {
    const old = tracked(await person(n1.port, nm("reset")));
    const r = await admin(["reset-password", nm("reset")]);
    expect(r.code).toBe(0);
    const fresh = /^new password for \S+ \(\d+\): (\S+)$/m.exec(r.out)?.[1] as string;
    expect(fresh).toHaveLength(24);
    expect(r.out).toContain("revoked 1 login token");
    const w = tracked({ w: await n2.connect() }).w;
    expect((await w.req({ type: "login", name: nm("reset"), password: PASSWORD })).code).toBe("bad_credentials");
    expect((await w.req({ type: "login", token: old.token })).code).toBe("bad_credentials");
    expect((await w.req({ type: "login", name: nm("reset"), password: fresh })).type).toBe("ok");
    // A session logged in before goes on.
    await old.w.ok({ type: "ping" });

    // The server's argon2id cost by default, or the one given.
    const hashOf = async () => (await query<{ h: string }>("SELECT password_hash AS h FROM users WHERE id = ?", [old.id]))[0]?.h;
    expect(await hashOf()).toContain("$argon2id$v=19$m=19456,t=2,");
    const chosen = "a chosen password 😀";
    const set = await admin(["reset-password", String(old.id), "--stdin", "--hash-memory", "64", "--hash-time", "1"], { stdin: `${chosen}\n` });
    expect(set.code).toBe(0);
    expect(set.out).not.toContain(chosen);
    expect(await hashOf()).toContain("$argon2id$v=19$m=64,t=1,");
    await session(n1.port, nm("reset"), chosen).then((p) => tracked(p));

    const short = await admin(["reset-password", nm("reset"), "--stdin"], { stdin: "short\n" });
    expect(short.code).toBe(2);
    expect(short.err).toContain("password: must be at least 6 characters");
  });
});

describe("chat admin delete-group", () => {
  it("removes the group, its members, messages and positions, and its members on both nodes get group_deleted and can no longer use it", async () => {
    const a = tracked(await person(n1.port, nm("ga")));
    const b = tracked(await person(n2.port, nm("gb")));
    const b2 = tracked(await session(n1.port, nm("gb")));
    const g = (await a.w.ok({ type: "create_group", name: nm("team") })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await a.w.push("member_joined", (f) => f.user.id === b.id);
    // A banned user: the ban goes with the group.
    const banned = tracked(await person(n1.port, nm("gx")));
    await banned.w.ok({ type: "join_group", group: g });
    await a.w.ok({ type: "kick", group: g, user: banned.id, ban: true });
    for (let i = 0; i < 3; i++) await a.w.ok({ type: "group_send", group: g, text: `m${i}` });
    const last = await b.w.ok({ type: "group_send", group: g, text: "last" });
    await a.w.push("msg", (f) => f.mid === last.mid);
    await b2.w.push("msg", (f) => f.mid === last.mid);
    const marks = [a, b, b2].map((p) => p.w.frames.length);

    const r = await admin(["delete-group", nm("team")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`deleted group ${g} "${nm("team")}": 2 members, 4 messages`);
    expect(r.out).toContain("told the members' sessions through Redis (group_deleted): 2 of 2 had sessions on a node");
    for (const [i, p] of [a, b, b2].entries()) {
      expect(await p.w.push("group_deleted", () => true, marks[i])).toEqual({ type: "group_deleted", group: g });
      // The group left the session's cache: the send is checked against the database, where it is gone.
      expect((await p.w.req({ type: "group_send", group: g, text: "into nothing" })).code).toBe("no_such_group");
      expect((await p.w.req({ type: "history", group: g })).code).toBe("no_such_group");
      expect((await p.w.ok({ type: "groups" })).groups).toEqual([]);
    }
    const left = async (table: string, column: string) => Number((await query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [g]))[0]?.n);
    expect([await left("messages", "group_id"), await left("positions", "group_id"), await left("group_members", "group_id"), await left("group_bans", "group_id"), await left("chat_groups", "id")]).toEqual([0, 0, 0, 0, 0]);
    expect((await admin(["delete-group", String(g)])).code).toBe(1);
  });
});

describe("chat admin nodes and stats", () => {
  it("lists both live nodes with a fresh heartbeat and the connections and sessions their /healthz shows", async () => {
    tracked(await person(n2.port, nm("nodes")));
    // Each heartbeat (every 2 s) writes the figures; wait until they agree with the node's own.
    const seen = await until("chat admin nodes agreeing with /healthz", async () => {
      const list = (await json(["nodes"])).nodes as Frame[];
      const [h1, h2] = await Promise.all([n1.health(), n2.health()]);
      const ours = [n1, n2].map((n) => list.find((x) => x.node === n.node));
      const agree = ours.every((x, i) => x && x.stats.sessions === [h1, h2][i]?.body.sessions && x.stats.connections === [h1, h2][i]?.body.connections);
      return agree ? ours : undefined;
    }, 20_000, { everyMs: 500 });
    for (const x of seen) {
      expect(x).toMatchObject({ alive: true, users: expect.any(Number), stats: { started: expect.any(Number), heartbeat: expect.any(Number) } });
      expect(x?.heartbeatAgeMs).toBeLessThan(9000);
    }
    const text = await admin(["nodes"]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^\d+ live nodes? in Redis\n/);
    for (const n of [n1, n2]) expect(text.out).toMatch(new RegExp(`^${n.node} +alive +\\d+(ms|s) ago`, "m"));
  });

  it("prints users, bans, groups and messages of today from the database, counting only today's by their mid range", async () => {
    // A database of its own, with yesterday's and today's messages, a gap in the mids, and a ban.
    const db = await freshDatabase();
    const conn = await mysql.createConnection({ uri: db });
    const day = new Date();
    const midnight = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate());
    try {
      await conn.query("INSERT INTO users (id, name, password_hash, created_at, banned_at) VALUES (1,'u1','x',0,NULL),(2,'u2','x',0,5),(3,'u3','x',0,NULL)");
      await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (1,'g',1,0)");
      const ts = [midnight - 86_400_000, midnight - 60_000, midnight - 1, midnight, midnight + 1000, midnight + 2000, midnight + 3000];
      for (const [i, t] of ts.entries()) await conn.query("INSERT INTO messages (mid, sender_id, group_id, body, ts) VALUES (?, 1, 1, 'x', ?)", [i + 1, t]);
      await conn.query("DELETE FROM messages WHERE mid = 5"); // a gap among today's mids
    } finally {
      await conn.end();
    }
    expect(await json(["stats"], { db, redis: false })).toEqual({
      users: 3,
      banned: 1,
      groups: 1,
      highestMid: 7,
      messagesSince: 3,
      liveTokens: 0,
      heldAcks: 0,
      today: midnight,
    });
    const text = await admin(["stats"], { db, redis: false });
    expect(text.code).toBe(0);
    expect(text.out).toContain("users        3 (1 banned)");
    expect(text.out).toContain("today        3 messages since");
    expect(text.out).toContain("nodes        unknown without --redis");

    const cluster = await json(["stats"]);
    expect(cluster.nodes.live).toBeGreaterThanOrEqual(2);
    expect(cluster.nodes.sessions).toBeGreaterThanOrEqual(1);
  });
});

describe("dist/chat admin", () => {
  it("runs from an empty directory against the running cluster", async () => {
    const dir = mkdtempSync(`${tmpdir()}/chat-admin-`);
    try {
      const exe = `${dir}/bin/chat`;
      const build = Bun.spawnSync([process.execPath, `${ROOT}/scripts/build.ts`, exe], { cwd: ROOT });
      expect(build.exitCode).toBe(0);
      const cwd = mkdtempSync(`${dir}/empty-`);
      const stats = await admin(["stats"], { exe: [exe], cwd });
      expect(stats).toMatchObject({ code: 0, err: "" });
      expect(stats.out).toMatch(/^nodes +\d+ live, \d+ connections?, \d+ sessions?$/m);
      const nodes = await admin(["nodes"], { exe: [exe], cwd });
      expect(nodes.code).toBe(0);
      for (const n of [n1, n2]) expect(nodes.out).toContain(`${n.node} `);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
