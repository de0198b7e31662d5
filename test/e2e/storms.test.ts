/**
 * Storms against a server process (with Redis presence): 10,000 connections
 * opened and dropped at once; 1,000 logins at once, then 1,000 disconnects at
 * once; 1,000 logins cut off mid-flight. No crash, and no user left "online".
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import mysql from "mysql2/promise";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { CHEAP_HASH, type NodeProcess, spawnNode } from "../support/node.ts";
import { fmt, metric, rssMiB } from "../support/probes.ts";
import { waitUntil } from "../support/wait.ts";
import { Wire } from "../support/wire.ts";

const CONNECTIONS = 10_000;
const USERS = 1000;
const PASSWORD = "password-1";

let node: NodeProcess;
let dbUrl: string;
let watcher: Wire;
const ids: number[] = [];

beforeAll(async () => {
  dbUrl = await freshDatabase();
  node = await spawnNode({
    node: `storm${process.pid}`,
    mysqlUrl: dbUrl,
    redisUrl: redisUrl(),
    args: ["--rate-limit", "0", "--pool-max-size", "16"],
  });
  // 1,000 users and a watcher who is everyone's friend, straight into the database (the API path is tested elsewhere).
  const hash = await Bun.password.hash(PASSWORD, { algorithm: "argon2id", ...CHEAP_HASH });
  const conn = await mysql.createConnection({ uri: dbUrl });
  try {
    const now = Date.now();
    await conn.query("INSERT INTO users (name, password_hash, created_at) VALUES ?", [
      [["storm_watcher", hash, now], ...Array.from({ length: USERS }, (_, i) => [`storm_${i}`, hash, now])],
    ]);
    const [rows] = (await conn.query("SELECT id, name FROM users ORDER BY id")) as unknown as [{ id: number; name: string }[]];
    const w = (rows.find((r) => r.name === "storm_watcher") as { id: number }).id;
    for (const r of rows) if (r.id !== w) ids.push(r.id);
    await conn.query("INSERT INTO friends (user_id, friend_id, created_at) VALUES ?", [ids.flatMap((id) => [[w, id, now], [id, w, now]])]);
  } finally {
    await conn.end();
  }
  watcher = await Wire.connect(node.port);
  const r = await watcher.req({ type: "login", name: "storm_watcher", password: PASSWORD });
  expect(r.friends.length).toBe(USERS);
});

afterAll(async () => {
  watcher?.close();
  await node?.kill();
});

async function onlineFriends(): Promise<number> {
  const r = await watcher.req({ type: "friends" });
  expect(r.type).toBe("ok");
  return r.friends.filter((f: { online: boolean }) => f.online).length;
}

/** The kernel's count of connections dropped because an accept queue was full (all sockets). */
function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  const head = lines.find((l) => l.startsWith("TcpExt:"))?.split(" ") ?? [];
  const vals = lines.filter((l) => l.startsWith("TcpExt:"))[1]?.split(" ") ?? [];
  return Number(vals[head.indexOf("ListenOverflows")] ?? 0);
}

/** Opens `n` connections, `wave` at a time (below the listen backlog), each past its hello. */
async function openMany(n: number, wave = 250): Promise<Wire[]> {
  const out: Wire[] = [];
  for (let i = 0; i < n; i += wave) out.push(...(await Promise.all(Array.from({ length: Math.min(wave, n - i) }, () => Wire.connect(node.port)))));
  return out;
}

/** Drops half the clients with FIN and half with RST, all in one tick. */
function dropAll(clients: Wire[]) {
  clients.forEach((c, i) => (i % 2 ? c.abort() : c.close()));
}

describe("storms", () => {
  it(`survives ${fmt(CONNECTIONS)} connections opened and dropped at once`, async () => {
    const rssBefore = rssMiB(node.proc.pid);
    const overflowsBefore = listenOverflows();
    const started = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: CONNECTIONS }, async () => {
        const c = await Wire.connect(node.port, { keep: false, hello: false });
        // Like any real client, say something at once. It also matters to TCP: Bun listens with a
        // backlog of 512, and a connection whose handshake ACK was dropped on accept-queue overflow
        // (SYN cookies) is only completed when its first data segment is retransmitted.
        c.write(`{"type":"ping","id":"storm"}\n`);
        return c;
      }),
    );
    const clients = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const opened = performance.now();
    // A tenth drop at once, before or while their hello and reply arrive.
    const early = clients.slice(0, CONNECTIONS / 10);
    dropAll(early);
    const rest = clients.slice(CONNECTIONS / 10);
    await waitUntil("every ping answered", () => (rest.every((c) => c.replies > 0 || c.closed) ? true : undefined), 60_000).catch(async (e) => {
      throw new Error(`${e.message}: ${rest.filter((c) => c.hello).length} hello, ${rest.filter((c) => c.replies).length} replies, ${rest.filter((c) => c.closed).length} closed of ${rest.length}; server has ${await metric(node.adminPort, "chat_connections")} connections`);
    });
    const answered = performance.now();
    const served = rest.filter((c) => c.hello && c.replies === 1).length;
    const peak = await metric(node.adminPort, "chat_connections");
    const rssPeak = rssMiB(node.proc.pid);
    const dropStarted = performance.now();
    dropAll(rest);
    await waitUntil("the server saw every close", async () => ((await metric(node.adminPort, "chat_connections")) === 1 ? true : undefined), 60_000, { everyMs: 100 });
    const drained = performance.now();
    expect(node.proc.exitCode).toBeNull();
    expect((await node.health()).status).toBe(200);
    const probe = await Wire.connect(node.port);
    expect((await probe.req({ type: "ping" })).type).toBe("ok");
    probe.close();
    console.log(
      `Connection storm: ${fmt(clients.length)} of ${fmt(CONNECTIONS)} connected in ${((opened - started) / 1000).toFixed(1)} s ` +
        `(${fmt(listenOverflows() - overflowsBefore)} accept-queue overflows, healed by TCP retransmission); ` +
        `${fmt(served)} of ${fmt(rest.length)} got hello and their ping answered ${((answered - started) / 1000).toFixed(1)} s after the start ` +
        `(${fmt(early.length)} dropped before); ${fmt(peak - 1)} open at the peak; all dropped at once (half RST) and gone from the server in ` +
        `${((drained - dropStarted) / 1000).toFixed(1)} s; server RSS ${rssBefore.toFixed(0)} -> ${rssPeak.toFixed(0)} MiB at the peak`,
    );
    expect(clients.length).toBe(CONNECTIONS);
    expect(served).toBe(rest.length);
  }, 120_000);

  it(`logs ${fmt(USERS)} users in at once and shows them offline after they all drop`, async () => {
    const mark = watcher.frames.length;
    const clients = await openMany(USERS);
    const started = performance.now();
    const replies = await Promise.all(clients.map((c, i) => c.req({ type: "login", name: `storm_${i}`, password: PASSWORD }, 30_000)));
    const took = performance.now() - started;
    const codes = new Map<string, number>();
    for (const r of replies) codes.set(r.type === "ok" ? "ok" : r.code, (codes.get(r.type === "ok" ? "ok" : r.code) ?? 0) + 1);
    expect(codes.get("ok")).toBe(USERS);
    expect(await metric(node.adminPort, "chat_sessions")).toBe(USERS + 1);
    await waitUntil("presence online for all", () => (watcher.frames.slice(mark).filter((f) => f.type === "presence" && f.online).length >= USERS ? true : undefined), 30_000);
    expect(await onlineFriends()).toBe(USERS);

    const dropped = performance.now();
    dropAll(clients);
    await waitUntil("every session ended", async () => ((await metric(node.adminPort, "chat_sessions")) === 1 ? true : undefined), 30_000, { everyMs: 100 });
    await waitUntil("presence offline for all", () => (watcher.frames.slice(mark).filter((f) => f.type === "presence" && !f.online).length >= USERS ? true : undefined), 30_000);
    const offlineIn = performance.now() - dropped;
    expect(await onlineFriends()).toBe(0);
    expect(node.proc.exitCode).toBeNull();
    console.log(
      `Login storm: ${fmt(USERS)} concurrent logins, ${fmt(codes.get("ok") ?? 0)} ok in ${(took / 1000).toFixed(1)} s; ` +
        `all dropped at once: sessions back to 0 and all ${fmt(USERS)} offline (pushes and friends list) in ${(offlineIn / 1000).toFixed(1)} s`,
    );
  }, 120_000);

  it(`leaves nobody online when ${fmt(USERS)} logins are cut off mid-flight`, async () => {
    const clients = await openMany(USERS);
    const started = performance.now();
    // Each sends its login and drops at a different moment: before, during or after the server's work.
    clients.forEach((c, i) => {
      c.write(JSON.stringify({ type: "login", name: `storm_${i}`, password: PASSWORD, id: 1 }) + "\n");
      setTimeout(() => (i % 2 ? c.abort() : c.close()), (i * 7) % 2000);
    });
    await waitUntil("every connection closed", () => (clients.every((c) => c.closed) ? true : undefined), 30_000);
    const loggedIn = clients.filter((c) => c.frames.some((f) => f.type === "ok")).length;
    await waitUntil("every session ended", async () => ((await metric(node.adminPort, "chat_sessions")) === 1 ? true : undefined), 30_000, { everyMs: 100 });
    await waitUntil("every connection gone", async () => ((await metric(node.adminPort, "chat_connections")) === 1 ? true : undefined), 30_000, { everyMs: 100 });
    // Presence settles with the sessions: nobody is left online.
    const online = await waitUntil("no friend online", async () => ((await onlineFriends()) === 0 ? 0 : undefined), 15_000, { everyMs: 200 }).catch(() => -1);
    const stuck = online === -1 ? await onlineFriends() : 0;
    console.log(
      `Interrupted logins: ${fmt(USERS)} logins cut off 0-2 s after sending (${fmt(loggedIn)} got their ok first); ` +
        `${fmt(stuck)} users left online, sessions gauge back to 0 in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(stuck).toBe(0);
    expect(node.proc.exitCode).toBeNull();
    expect((await node.health()).status).toBe(200);
  }, 120_000);
});
