/**
 * Redis stopped and started again under a two-node cluster: each node keeps
 * serving its own sessions, /healthz says "degraded", nothing that got ok is
 * lost or stored twice, and cross-node delivery comes back by itself. Every
 * send carries a cid (its text), as the client library's do.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { freshDatabase } from "../support/db.ts";
import { describeTally, SendLedger } from "../support/send-ledger.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { PrivateRedis } from "../support/private-redis.ts";
import { waitUntil } from "../support/wait.ts";
import type { Wire } from "../support/wire.ts";

let redis: PrivateRedis;

/** Polls like the cluster's own checks would: every 100 ms, for up to 15 s. */
const until = <T>(what: string, fn: () => Promise<T | undefined>) => waitUntil(what, fn, 15_000, { everyMs: 100 });

let n1: NodeProcess;
let n2: NodeProcess;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  const dbUrl = await freshDatabase();
  const redisUrl = redis.url;
  [n1, n2] = await Promise.all([spawnNode({ node: "r1", mysqlUrl: dbUrl, redisUrl }), spawnNode({ node: "r2", mysqlUrl: dbUrl, redisUrl })]);
});

afterAll(async () => {
  await Promise.all([n1?.kill(), n2?.kill()]);
  await redis?.close();
});

describe("a Redis outage", () => {
  it("degrades to local delivery, loses nothing, stores nothing twice, and recovers by itself", async () => {
    const a = await n1.connect();
    const b = await n2.connect();
    const c = await n1.connect();
    for (const [w, name] of [[a, "ra"], [b, "rb"], [c, "rc"]] as const) {
      await w.ok({ type: "register", name, password: "password-1" });
      await w.ok({ type: "login", name, password: "password-1" });
    }
    const ids = { a: a.frames.find((f) => f.type === "ok" && f.user?.name === "ra")!.user.id, b: 0, c: 0 };
    ids.b = b.frames.find((f) => f.type === "ok" && f.token)!.user.id;
    ids.c = c.frames.find((f) => f.type === "ok" && f.token)!.user.id;
    await a.ok({ type: "add_friend", user: ids.b });
    await a.ok({ type: "add_friend", user: ids.c });
    expect((await n1.health()).body.redis).toBe("up");
    const ledger = new SendLedger<number>();
    /** a sends `text` to `to` with the text as its cid; the reply must be ok. */
    const send = async (to: number, text: string) => {
      const r = await a.ok({ type: "send", to, text, cid: text });
      ledger.accept({ text, mid: r.mid, to, attempts: 1, duplicate: r.duplicate === true, at: Date.now() });
      return r;
    };

    await redis.down();
    const degraded = await until("healthz degraded", async () => {
      const h = await n1.health();
      return h.body.status === "degraded" ? h : undefined;
    });
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({ mysql: "up", redis: "down" });

    // Same node: delivered live. Other node: stored, delivered from pending.
    const local = await send(ids.c, "same node during outage");
    await c.push("msg", (f) => f.mid === local.mid);
    const remote = await send(ids.b, "other node during outage");

    await redis.up();
    await until("healthz ok", async () => ((await n1.health()).body.status === "ok" && (await n2.health()).body.status === "ok" ? true : undefined));
    // Give the subscriber its resubscribe: wait until a fresh cross-node send arrives live.
    let tries = 0;
    const after = await until("cross-node delivery resumes", async () => {
      const m = await send(ids.b, `after the outage #${++tries}`);
      try {
        return await b.push("msg", (f) => f.mid === m.mid, 0, 1000);
      } catch {
        return undefined; // not resubscribed yet: that message stays pending; try again
      }
    });
    expect(after.text).toBe(`after the outage #${tries}`);

    // The message sent during the outage was not lost: it arrives at b's next login.
    b.close();
    const b2 = await n2.connect();
    const relogin = await b2.ok({ type: "login", name: "rb", password: "password-1" });
    const replayed = await b2.push("msg", (f) => f.mid === remote.mid);
    expect(replayed.text).toBe("other node during outage");

    // Each message once: in what b and c received, and in a's history with each.
    const msgs = (w: Wire) => w.frames.filter((f) => f.type === "msg");
    await until("b's replay", async () => msgs(b2).length >= relogin.pending || undefined);
    for (const [id, ws] of [[ids.b, [b, b2]], [ids.c, [c]]] as const) {
      for (const w of ws) for (const f of msgs(w)) ledger.saw({ mid: f.mid, text: f.text }, id);
      const h = await a.ok({ type: "history", with: id, limit: 100 });
      for (const m of h.messages) ledger.stored(m);
    }
    const t = ledger.tally();
    console.log(`Redis outage (2 nodes, one send at a time): ${describeTally(t)}; cross-node delivery back after ${tries} sends`);
    expect(t.lost).toEqual([]);
    expect(t.duplicated).toEqual([]);
    for (const w of [a, b2, c]) w.close();
  }, 60_000);

  it("a friend removed while Redis is down stops counting as one on the other node once Redis is back", async () => {
    const a = await n1.connect();
    const b = await n2.connect();
    for (const [w, name] of [[a, "rx_a"], [b, "rx_b"]] as const) {
      await w.ok({ type: "register", name, password: "password-1" });
      await w.ok({ type: "login", name, password: "password-1" });
    }
    const idOf = (w: typeof a) => w.frames.find((f) => f.type === "ok" && f.token)!.user.id as number;
    await a.ok({ type: "add_friend", user: idOf(b) });
    await b.ok({ type: "send", to: idOf(a), text: "b's session now caches a as a friend" });

    await redis.down();
    await until("n2 sees Redis down", async () => ((await n2.health()).body.redis === "down" ? true : undefined));
    await a.ok({ type: "remove_friend", user: idOf(b) });
    await redis.up();
    // On Redis's return n2 re-reads its sessions' friends from the database.
    const refused = await until("n2's session no longer treats a as a friend", async () => {
      const r = await b.req({ type: "send", to: idOf(a), text: "are we still friends?" });
      return r.type === "error" ? r : undefined;
    });
    expect(refused.code).toBe("not_friend");
    a.close();
    b.close();
  }, 60_000);
});
