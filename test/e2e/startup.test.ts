/**
 * A node that is misconfigured says so and exits non-zero, before it touches
 * anything it shares with the other nodes: a second node with a live node's
 * id, a port in use, a wrong database password or name. Only a database that
 * is not reachable yet is waited for, with /healthz answering 503 meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createClient } from "redis";
import { freePort } from "../../scripts/services.ts";
import { befriend, framesUntilPing, person, session } from "../support/conformance.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";

const node = (name: string) => `${name}-${process.pid}`;

let dbUrl: string;
let live: NodeProcess;
const started: NodeProcess[] = [];

beforeAll(async () => {
  dbUrl = await freshDatabase();
  live = await spawnNode({ node: node("live"), mysqlUrl: dbUrl, redisUrl: redisUrl() });
  started.push(live);
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.kill()));
});

/** A logged-in pair of friends on the live node: b watches a's presence. */
async function friends(prefix: string) {
  const a = await person(live.port, `${prefix}a${process.pid % 10000}`);
  const b = await person(live.port, `${prefix}b${process.pid % 10000}`);
  await befriend(a, b);
  return { a, b };
}

describe("a second node with a live node's id", () => {
  it("refuses to start, names the id and --node, and leaves the live node's users online", async () => {
    const { a, b } = await friends("dup");
    const from = b.w.frames.length;
    await expect(spawnNode({ node: live.node, mysqlUrl: dbUrl, redisUrl: redisUrl() })).rejects.toThrow(
      new RegExp(`exited with 1 while starting[\\s\\S]*node id "${live.node}" is in use by a live node.*--node`),
    );
    // Nothing told b that a went offline, and a message still arrives at once.
    const m = await a.w.ok({ type: "send", to: b.id, text: "still here" });
    await b.w.push("msg", (f) => f.mid === m.mid, from);
    const seen = await framesUntilPing(b.w, from);
    expect(seen.filter((f) => f.type === "presence")).toEqual([]);
    const again = await session(live.port, b.name);
    expect(again.login.friends).toEqual([{ id: a.id, name: a.name, online: true }]);
    for (const p of [a, b, again]) p.w.close();
  });

  it("a restart of a node that died moments ago takes its id back and clears its stale users", async () => {
    const id = node("phoenix");
    const first = await spawnNode({ node: id, mysqlUrl: dbUrl, redisUrl: redisUrl() });
    const a = await person(first.port, `phx${process.pid % 10000}`);
    await first.kill("SIGKILL");
    const again = await spawnNode({ node: id, mysqlUrl: dbUrl, redisUrl: redisUrl() });
    started.push(again);
    expect(again.log()).toContain(`previous_run_reaped node=${id} offline_users=1`);
    a.w.close();
  });
});

describe("a port already in use", () => {
  it("fails with the port and EADDRINUSE, and touches no presence of the node whose id it shares", async () => {
    const { a, b } = await friends("busy");
    const from = b.w.frames.length;
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await expect(spawnNode({ node: live.node, mysqlUrl: dbUrl, redisUrl: redisUrl(), port: busy.port })).rejects.toThrow(
        new RegExp(`exited with 1 while starting[\\s\\S]*port ${busy.port} is already in use \\(EADDRINUSE\\)`),
      );
    } finally {
      busy.stop(true);
    }
    const seen = await framesUntilPing(b.w, from);
    expect(seen.filter((f) => f.type === "presence")).toEqual([]);
    a.w.close();
    b.w.close();
  });

  it("on the web port, names the web port and --web-port", async () => {
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      await expect(spawnNode({ node: node("webbusy"), mysqlUrl: dbUrl, webPort: busy.port })).rejects.toThrow(
        new RegExp(`port ${busy.port} is already in use \\(EADDRINUSE\\); choose another with --web-port`),
      );
    } finally {
      busy.stop(true);
    }
  });

  it("in a node of its own leaves no entry in Redis", async () => {
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const id = node("busy");
    try {
      await expect(spawnNode({ node: id, mysqlUrl: dbUrl, redisUrl: redisUrl(), port: busy.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      busy.stop(true);
    }
    const redis = createClient({ url: redisUrl() });
    await redis.connect();
    try {
      expect(Number(await redis.sIsMember("chat:nodes", id))).toBe(0);
      expect(await redis.exists(`chat:alive:${id}`)).toBe(0);
    } finally {
      await redis.close();
    }
  });
});

describe("database configuration errors", () => {
  it("exits at once with one clear line for a wrong password", async () => {
    const url = new URL(dbUrl);
    url.password = "not-the-password";
    const t = performance.now();
    await expect(spawnNode({ node: node("pw"), mysqlUrl: url.toString() })).rejects.toThrow(/exited with 1 while starting[\s\S]*ER_ACCESS_DENIED_ERROR.*check the user and password/);
    expect(performance.now() - t).toBeLessThan(15_000);
  });

  it("exits at once for a database that does not exist", async () => {
    const url = new URL(dbUrl);
    url.pathname = "/no_such_database_here";
    await expect(spawnNode({ node: node("db"), mysqlUrl: url.toString() })).rejects.toThrow(/exited with 1 while starting[\s\S]*ER_BAD_DB_ERROR.*create the database/);
  });

  it("waits for a database that is not reachable yet, with /healthz answering 503", async () => {
    const url = new URL(dbUrl);
    url.port = String(await freePort());
    const waiting = await spawnNode({ node: node("wait"), mysqlUrl: url.toString(), readyLine: "WARN mysql_unavailable" });
    try {
      const h = await waiting.health();
      expect(h.status).toBe(503);
      expect(h.body).toEqual(expect.objectContaining({ status: "down", mysql: "down", starting: true }));
      expect(waiting.proc.exitCode).toBeNull();
    } finally {
      await waiting.kill("SIGKILL");
    }
  });
});
