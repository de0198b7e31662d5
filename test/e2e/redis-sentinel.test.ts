/**
 * Two chat nodes over Redis Sentinel (a primary, a replica, three
 * sentinels) while the primary is SIGKILLed under a steady stream of
 * cross-node messages: the sentinels promote the replica, both nodes follow
 * it and resubscribe, cross-node live delivery comes back within a stated
 * time, and every message that got ok reaches its recipient once: live, or
 * from pending at the next login (what the switch costs is the live push,
 * never the message). Every send carries a cid (its text).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { SentinelSet } from "../support/private-sentinel.ts";
import { describeTally, SendLedger } from "../support/send-ledger.ts";
import { waitUntil } from "../support/wait.ts";
import type { Wire } from "../support/wire.ts";

/** With down-after-milliseconds 1000: detection, election and promotion, then the nodes' switch. */
const LIVE_AGAIN_LIMIT_MS = 10_000;
const PASSWORD = "sentinel-test-pw";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

let set: SentinelSet;
let sentinelArgs: string[];
let n1: NodeProcess;
let n2: NodeProcess;

beforeAll(async () => {
  set = await SentinelSet.start({ password: PASSWORD, downAfterMs: 1000, failoverTimeoutMs: 5000 });
  const dbUrl = await freshDatabase();
  const passwordFile = `${set.dir}/redis-password`;
  await Bun.write(passwordFile, `${PASSWORD}\n`);
  const args = ["--redis-sentinels", set.sentinelList, "--redis-master", set.master, "--redis-password-file", passwordFile];
  sentinelArgs = args;
  [n1, n2] = await Promise.all([spawnNode({ node: "s1", mysqlUrl: dbUrl, args }), spawnNode({ node: "s2", mysqlUrl: dbUrl, args })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([n1?.kill(), n2?.kill()]);
  await set?.close();
});

async function signIn(w: Wire, name: string): Promise<number> {
  await w.ok({ type: "register", name, password: "password-1" });
  const ok = await w.ok({ type: "login", name, password: "password-1" });
  return ok.user.id as number;
}

describe("Redis Sentinel", () => {
  it("a SIGKILLed primary: the replica is promoted, cross-node delivery resumes within 10 s, and nothing that got ok is lost or stored twice", async () => {
    const a = await n1.connect();
    const b = await n2.connect();
    const ids = { a: await signIn(a, "sa"), b: await signIn(b, "sb") };
    await a.ok({ type: "add_friend", user: ids.b });
    expect((await n1.health()).body.redis).toBe("up");
    expect((await n2.health()).body.redis).toBe("up");

    // Live across nodes before the fault, both ways.
    const before = await a.ok({ type: "send", to: ids.b, text: "before", cid: "before" });
    await b.push("msg", (f) => f.mid === before.mid, 0, 3000);
    const back = await b.ok({ type: "send", to: ids.a, text: "before, back", cid: "before, back" });
    await a.push("msg", (f) => f.mid === back.mid, 0, 3000);

    // a sends to b every 50 ms from before the kill until delivery is live again, each with its text as cid.
    const ledger = new SendLedger<number>();
    let n = 0;
    let sending = true;
    const liveAt: number[] = [];
    const stream = (async () => {
      while (sending) {
        const text = `steady #${n++}`;
        const r = await a.ok({ type: "send", to: ids.b, text, cid: text });
        ledger.accept({ text, mid: r.mid, to: ids.b, attempts: 1, duplicate: r.duplicate === true, at: Date.now() });
        b.push("msg", (f) => f.mid === r.mid, 0, 500).then(
          () => {
            liveAt.push(Date.now());
            // Acked, so that what stays pending is what the switch did not push live.
            b.req({ type: "ack", mids: [r.mid] }).catch(() => {});
          },
          () => {}, // not pushed live: it must come from pending at b's next login (checked below)
        );
        await Bun.sleep(50);
      }
    })();
    await Bun.sleep(300);

    const old = await set.killPrimary();
    const t0 = Date.now();
    const promoted = await set.failedOver(old);
    const promotedMs = Date.now() - t0;
    expect(promoted).not.toBe(old);

    // Live again: a fresh send each way arrives as a push (not from pending) within 1 s.
    let tries = 0;
    const liveAgain = await waitUntil(
      "cross-node live delivery both ways",
      async () => {
        tries++;
        const ab = await a.ok({ type: "send", to: ids.b, text: `probe a->b #${tries}`, cid: `probe a->b #${tries}` });
        ledger.accept({ text: `probe a->b #${tries}`, mid: ab.mid, to: ids.b, attempts: 1, duplicate: ab.duplicate === true, at: Date.now() });
        const ba = await b.ok({ type: "send", to: ids.a, text: `probe b->a #${tries}`, cid: `probe b->a #${tries}` });
        const got = await Promise.all([
          b.push("msg", (f) => f.mid === ab.mid, 0, 1000).then(() => true, () => false),
          a.push("msg", (f) => f.mid === ba.mid, 0, 1000).then(() => true, () => false),
        ]);
        return got.every(Boolean) ? Date.now() : undefined;
      },
      LIVE_AGAIN_LIMIT_MS + 10_000,
      { everyMs: 100 },
    );
    const liveMs = liveAgain - t0;
    sending = false;
    await stream;
    await Bun.sleep(600); // the last live pushes' waits settle

    // Both nodes say Redis is up again.
    for (const node of [n1, n2]) await waitUntil("healthz ok", async () => ((await node.health()).body.redis === "up" ? true : undefined), 10_000);

    // What the switch did not push live is pending: b logs in again and gets it.
    b.close();
    const b2 = await n2.connect();
    const relogin = await b2.ok({ type: "login", name: "sb", password: "password-1" });
    await waitUntil("b's replay", async () => b2.pushes("msg").length >= relogin.pending || undefined, 10_000);
    for (const w of [b, b2]) for (const f of w.pushes("msg")) ledger.saw({ mid: f.mid, text: f.text }, ids.b);
    // a's whole history with b, a page at a time (newest first).
    for (let beforeMid: number | undefined; ; ) {
      const h = await a.ok({ type: "history", with: ids.b, limit: 100, ...(beforeMid ? { before: beforeMid } : {}) });
      for (const m of h.messages) ledger.stored(m);
      if (h.messages.length < 100) break;
      beforeMid = h.messages[0].mid;
    }
    const t = ledger.tally();
    console.log(
      `Redis Sentinel failover (primary SIGKILLed, down-after 1 s): replica promoted after ${(promotedMs / 1000).toFixed(2)} s, ` +
        `cross-node live delivery back after ${(liveMs / 1000).toFixed(2)} s; ${describeTally(t)}; ` +
        `${liveAt.length} of ${n} steady sends pushed live, ${relogin.pending} replayed from pending at the next login`,
    );
    // The switch went the way of any Redis outage: down, up, and this node's sessions written to the new primary.
    for (const node of [n1, n2]) for (const line of ["redis_down", "redis_up", "presence_resync"]) expect(node.log()).toContain(line);
    expect(liveMs).toBeLessThanOrEqual(LIVE_AGAIN_LIMIT_MS);
    expect(t.lost).toEqual([]);
    expect(t.duplicated).toEqual([]);
    for (const w of [a, b2]) w.close();
  }, 90_000);

  it("chat admin nodes finds the primary through the sentinels, after the failover too, and lists both nodes alive", async () => {
    const proc = Bun.spawn([process.execPath, MAIN, "admin", "nodes", "--json", ...sentinelArgs], { env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const alive = (JSON.parse(out).nodes as { node: string; alive: boolean }[]).filter((n) => n.alive).map((n) => n.node);
    expect(alive.sort()).toEqual(["s1", "s2"]);
  }, 30_000);
});
