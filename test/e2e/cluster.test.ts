/**
 * Two server processes, one MariaDB, one Redis: pushes cross nodes, presence is
 * cluster-wide, and a node killed with SIGKILL stops counting its users online
 * within 15 s while their messages wait for them.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { FEATURES } from "../../src/protocol/features.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import type { Wire } from "../support/wire.ts";

let dbUrl: string;
let n1: NodeProcess;
let n2: NodeProcess;

async function login(node: NodeProcess, name: string, register = true): Promise<{ w: Wire; id: number; token: string }> {
  const w = await node.connect();
  if (register) await w.req({ type: "register", name, password: "password-1" });
  const r = await w.ok({ type: "login", name, password: "password-1" });
  return { w, id: r.user.id, token: r.token };
}

beforeAll(async () => {
  dbUrl = await freshDatabase();
  [n1, n2] = await Promise.all([
    spawnNode({ node: "c1", mysqlUrl: dbUrl, redisUrl: redisUrl() }),
    spawnNode({ node: "c2", mysqlUrl: dbUrl, redisUrl: redisUrl() }),
  ]);
});

afterAll(async () => {
  await Promise.all([n1?.kill(), n2?.kill()]);
});

describe("a two-node cluster", () => {
  it("says which node a client reached", async () => {
    const a = await n1.connect();
    const b = await n2.connect();
    expect(a.frames[0]).toEqual({ type: "hello", version: 1, node: "c1", features: [...FEATURES, "ws"] });
    expect(b.frames[0]).toEqual({ type: "hello", version: 1, node: "c2", features: [...FEATURES, "ws"] });
    a.close();
    b.close();
  });

  it("delivers one-to-one messages both ways between nodes, with presence", async () => {
    const alice = await login(n1, "x_alice");
    const bob = await login(n2, "x_bob");
    const added = await alice.w.ok({ type: "add_friend", user: bob.id });
    expect(added.friend).toEqual({ id: bob.id, name: "x_bob", online: true });
    await bob.w.push("friend_added", (f) => f.friend.id === alice.id);

    const sent = await alice.w.ok({ type: "send", to: bob.id, text: "across 你好" });
    const got = await bob.w.push("msg", (f) => f.mid === sent.mid);
    expect(got).toMatchObject({ from: alice.id, name: "x_alice", to: bob.id, text: "across 你好" });
    const back = await bob.w.ok({ type: "send", to: alice.id, text: "and back" });
    await alice.w.push("msg", (f) => f.mid === back.mid);

    const mark = alice.w.frames.length;
    await bob.w.ok({ type: "logout" });
    expect(await alice.w.push("presence", () => true, mark)).toEqual({ type: "presence", user: bob.id, online: false });
    await bob.w.ok({ type: "login", name: "x_bob", password: "password-1" });
    expect(await alice.w.push("presence", (f) => f.online, mark)).toEqual({ type: "presence", user: bob.id, online: true });
    alice.w.close();
    bob.w.close();
  });

  it("sends a group message to members on both nodes, and membership events too", async () => {
    const a = await login(n1, "g_a");
    const b = await login(n2, "g_b");
    const c = await login(n2, "g_c");
    const g = (await a.w.ok({ type: "create_group", name: "cluster-group" })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await a.w.push("member_joined", (f) => f.user.id === b.id);
    await c.w.ok({ type: "join_group", group: g });
    await a.w.push("member_joined", (f) => f.user.id === c.id);
    await b.w.push("member_joined", (f) => f.user.id === c.id);

    const m = await b.w.ok({ type: "group_send", group: g, text: "to everyone" });
    await a.w.push("msg", (f) => f.mid === m.mid && f.group === g);
    await c.w.push("msg", (f) => f.mid === m.mid && f.group === g);

    await c.w.ok({ type: "leave_group", group: g });
    await a.w.push("member_left", (f) => f.user.id === c.id);
    const m2 = await a.w.ok({ type: "group_send", group: g, text: "after c left" });
    await b.w.push("msg", (f) => f.mid === m2.mid);
    await c.w.ok({ type: "ping" });
    expect(c.w.pushes("msg").some((f) => f.mid === m2.mid)).toBe(false);
    for (const x of [a, b, c]) x.w.close();
  });

  it("keeps a user online while a session on the other node lives, and pushes to both", async () => {
    const friend = await login(n1, "m_friend");
    const multi1 = await login(n1, "m_multi");
    const multi2 = await login(n2, "m_multi", false);
    await friend.w.ok({ type: "add_friend", user: multi1.id });
    const sent = await friend.w.ok({ type: "send", to: multi1.id, text: "to both devices" });
    await multi1.w.push("msg", (f) => f.mid === sent.mid);
    await multi2.w.push("msg", (f) => f.mid === sent.mid);
    // The sender's other session sees its own message too.
    const own = await multi2.w.ok({ type: "send", to: friend.id, text: "from device 2" });
    await multi1.w.push("msg", (f) => f.mid === own.mid);
    // And the other way: the node that had the first session learned of the second.
    const own1 = await multi1.w.ok({ type: "send", to: friend.id, text: "from device 1" });
    await multi2.w.push("msg", (f) => f.mid === own1.mid);

    const mark = friend.w.frames.length;
    await multi1.w.ok({ type: "logout" });
    await friend.w.ok({ type: "ping" });
    const listed = await friend.w.ok({ type: "friends" });
    expect(listed.friends).toEqual([{ id: multi1.id, name: "m_multi", online: true }]);
    expect(friend.w.frames.slice(mark).some((f) => f.type === "presence")).toBe(false);
    for (const x of [friend, multi1, multi2]) x.w.close();
  });

  it("gives a user's other session on the other node its own messages, also when both logged in at the same moment", async () => {
    // Each node skips the publish of a user's own message when it knows all of
    // the user's sessions are local; two logins racing on two nodes must still
    // leave each node knowing about the other.
    const TRIALS = 20;
    let missed = 0;
    for (let t = 0; t < TRIALS; t++) {
      const name = `race_${t}`;
      const friend = await login(n1, `${name}_f`);
      const reg = await n1.connect();
      await reg.ok({ type: "register", name, password: "password-1" });
      reg.close();
      const [a, b] = await Promise.all([login(n1, name, false), login(n2, name, false)]);
      await a.w.ok({ type: "add_friend", user: friend.id });
      const fromA = await a.w.ok({ type: "send", to: friend.id, text: "from n1" });
      const fromB = await b.w.ok({ type: "send", to: friend.id, text: "from n2" });
      await friend.w.push("msg", (f) => f.mid === fromB.mid);
      const gotA = await b.w.push("msg", (f) => f.mid === fromA.mid, 0, 2000).then(() => true, () => false);
      const gotB = await a.w.push("msg", (f) => f.mid === fromB.mid, 0, 2000).then(() => true, () => false);
      missed += Number(!gotA) + Number(!gotB);
      for (const x of [friend, a, b]) x.w.close();
    }
    console.log(`  ${TRIALS} simultaneous logins on both nodes: ${missed} of ${TRIALS * 2} own-message copies missing on the other node`);
    expect(missed).toBe(0);
  });

  it("never pushes a smaller mid after a larger one of the same conversation on a connection, with senders on both nodes", async () => {
    // A group with a sender and a reader on each node, and a one-to-one
    // conversation whose two sides send from different nodes while a second
    // session of one side watches from the other node. Both nodes commit at
    // once, so pushes reach a connection from its own node and through Redis.
    const s1 = await login(n1, "o_s1");
    const s2 = await login(n2, "o_s2");
    const r1 = await login(n1, "o_r1");
    const r2 = await login(n2, "o_r2");
    const g = (await s1.w.ok({ type: "create_group", name: "order-group" })).group.id;
    for (const x of [s2, r1, r2]) await x.w.ok({ type: "join_group", group: g });
    const alice = await login(n1, "o_alice");
    const bob = await login(n2, "o_bob");
    const alice2 = await login(n2, "o_alice", false);
    await alice.w.ok({ type: "add_friend", user: bob.id });
    await bob.w.ok({ type: "ping" });
    await alice2.w.ok({ type: "ping" });

    const ROUNDS = 20;
    const PER_ROUND = 15;
    const acked = { group: [] as number[], direct: [] as number[], toAlice: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < PER_ROUND; i++) {
        for (const s of [s1, s2]) sends.push(s.w.ok({ type: "group_send", group: g, text: `g${round}.${i}` }).then((r) => void acked.group.push(r.mid)));
        sends.push(alice.w.ok({ type: "send", to: bob.id, text: `a${round}.${i}` }).then((r) => void acked.direct.push(r.mid)));
        sends.push(
          bob.w.ok({ type: "send", to: alice.id, text: `b${round}.${i}` }).then((r) => {
            acked.direct.push(r.mid);
            acked.toAlice.push(r.mid);
          }),
        );
      }
      await Promise.all(sends);
    }
    for (const x of [r1, r2, alice2]) await x.w.ok({ type: "ping" });
    await Bun.sleep(200); // the last pushes through Redis land

    const conversation = (f: Record<string, number>, me: number) => (f.group !== undefined ? -f.group : f.from === me ? f.to : f.from);
    // `pending`: the messages this user receives as a recipient, which wait for
    // them until acked; a copy of one's own message for another session does not.
    const watched = [
      { name: "group reader on n1", c: r1, user: "o_r1", node: n1, conv: -g, want: acked.group, pending: acked.group },
      { name: "group reader on n2", c: r2, user: "o_r2", node: n2, conv: -g, want: acked.group, pending: acked.group },
      { name: "alice's second session on n2", c: alice2, user: "o_alice", node: n2, conv: bob.id, want: acked.direct, pending: acked.toAlice },
    ];
    for (const { name, c, user, node, conv, want, pending } of watched) {
      const mids = c.w.pushes("msg").filter((f) => conversation(f, c.id) === conv).map((f) => f.mid as number);
      const backwards = mids.filter((m, i) => i > 0 && m < (mids[i - 1] as number)).length;
      // Nothing is lost: what this connection did not get live waits for the user's next login.
      const again = await login(node, user, false);
      await again.w.ok({ type: "ping" });
      const replayed = new Set(again.w.pushes("msg").map((f) => f.mid as number));
      const missing = pending.filter((m) => !mids.includes(m) && !replayed.has(m));
      console.log(`  ${name}: ${mids.length} of ${want.length} pushed live in mid order, ${want.length - mids.length} not pushed live; ${backwards} backwards`);
      expect(backwards).toBe(0);
      expect(missing).toEqual([]);
      again.w.close();
    }
    for (const x of [s1, s2, r1, r2, alice, bob, alice2]) x.w.close();
  });

  it("marks a SIGKILLed node's users offline within 15 s and keeps their messages pending", async () => {
    const n3 = await spawnNode({ node: "c3", mysqlUrl: dbUrl, redisUrl: redisUrl() });
    const watcher = await login(n1, "k_watcher");
    const victim = await login(n3, "k_victim");
    await watcher.w.ok({ type: "add_friend", user: victim.id });
    await victim.w.push("friend_added");

    const killedAt = Date.now();
    await n3.kill("SIGKILL");
    const offline = await watcher.w.push("presence", (f) => f.user === victim.id && !f.online, 0, 20_000);
    const took = Date.now() - killedAt;
    console.log(`  presence offline ${took} ms after SIGKILL`);
    expect(offline.online).toBe(false);
    expect(took).toBeLessThan(15_000);

    const sent = await watcher.w.ok({ type: "send", to: victim.id, text: "while you were gone" });
    const back = await n2.connect();
    const relog = await back.ok({ type: "login", token: victim.token });
    expect(relog.pending).toBe(1);
    const got = await back.push("msg", (f) => f.mid === sent.mid);
    expect(got.text).toBe("while you were gone");
    await watcher.w.push("presence", (f) => f.user === victim.id && f.online);
    back.close();
    watcher.w.close();
  }, 40_000);

  it("stops gracefully on SIGTERM: answers in-flight requests, says goodbye, touches only its own users", async () => {
    const n4 = await spawnNode({ node: "c4", mysqlUrl: dbUrl, redisUrl: redisUrl() });
    const stay = await login(n1, "t_stay");
    const leaving = await login(n4, "t_leaving");
    const other = await login(n2, "t_other");
    await stay.w.ok({ type: "add_friend", user: leaving.id });
    await stay.w.ok({ type: "add_friend", user: other.id });

    // A burst of sends in flight when the signal arrives: each gets exactly one reply.
    const replies = Array.from({ length: 50 }, (_, i) => leaving.w.req({ type: "send", to: stay.id, text: `burst ${i}` }, 15_000).catch((e) => e));
    // A request sent the moment the goodbye arrives, while the node is still ending the session.
    void leaving.w.next((f) => f.code === "shutting_down", 15_000).then(() => leaving.w.write('{"type":"ping","id":"late"}\n'), () => {});
    await n4.kill("SIGTERM");
    const settled = await Promise.all(replies);
    const oks = settled.filter((r) => r?.type === "ok");
    console.log(`  SIGTERM with 50 sends in flight: ${oks.length} ok before shutdown`);
    expect(await leaving.w.next((f) => f.type === "error" && f.code === "shutting_down")).toBeDefined();
    await leaving.w.closedPromise();
    // After the goodbye the node reads nothing more: no reply (a not_logged_in from the ended session) follows it.
    const goodbye = leaving.w.frames.findIndex((f) => f.code === "shutting_down");
    expect(leaving.w.frames.slice(goodbye + 1).filter((f) => f.type === "ok" || f.type === "error")).toEqual([]);
    expect(n4.proc.exitCode).toBe(0);

    // Its user went offline; the other node's user did not.
    await stay.w.push("presence", (f) => f.user === leaving.id && !f.online);
    const friends = (await stay.w.ok({ type: "friends" })).friends;
    expect(friends.find((f: any) => f.id === other.id).online).toBe(true);
    expect(friends.find((f: any) => f.id === leaving.id).online).toBe(false);
    // Every acknowledged send is stored: it is pending for the recipient or was pushed to it.
    const got = new Set(stay.w.pushes("msg").map((f) => f.mid));
    for (const r of oks) expect(got.has(r.mid)).toBe(true);
    for (const x of [stay, other]) x.w.close();
  }, 40_000);
});
