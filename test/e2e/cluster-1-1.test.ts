/**
 * Protocol 1.1 across two nodes (two server processes, one MariaDB, one
 * Redis): every push crosses nodes, and a revocation (remove_friend) takes
 * effect on the other node's sessions at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import type { Wire } from "../support/wire.ts";

let n1: NodeProcess;
let n2: NodeProcess;
let count = 0;

interface Someone {
  w: Wire;
  id: number;
  name: string;
}

async function someone(node: NodeProcess): Promise<Someone> {
  const name = `x11_${process.pid % 10000}_${++count}`;
  const w = await node.connect();
  await w.ok({ type: "register", name, password: "password-1" });
  const r = await w.ok({ type: "login", name, password: "password-1" });
  return { w, id: r.user.id, name };
}

/** Both nodes: a on n1, b on n2, friends; and a second session of a on n2. */
async function pair() {
  const a = await someone(n1);
  const b = await someone(n2);
  await a.w.ok({ type: "add_friend", user: b.id });
  await b.w.push("friend_added", (f) => f.friend.id === a.id);
  const a2w = await n2.connect();
  await a2w.ok({ type: "login", name: a.name, password: "password-1" });
  return { a, b, a2: { ...a, w: a2w } };
}

beforeAll(async () => {
  const mysqlUrl = await freshDatabase();
  [n1, n2] = await Promise.all([
    spawnNode({ node: "d1", mysqlUrl, redisUrl: redisUrl() }),
    spawnNode({ node: "d2", mysqlUrl, redisUrl: redisUrl() }),
  ]);
});

afterAll(async () => {
  await Promise.all([n1?.kill(), n2?.kill()]);
});

describe("protocol 1.1 across two nodes", () => {
  it("edited and deleted reach the recipient and the sender's session on the other node", async () => {
    const { a, b, a2 } = await pair();
    const m = await a.w.ok({ type: "send", to: b.id, text: "draft" });
    await b.w.push("msg", (f) => f.mid === m.mid);
    const e = await a.w.ok({ type: "edit", mid: m.mid, text: "final" });
    const edited = { type: "edited", mid: m.mid, text: "final", edited: e.edited, from: a.id, to: b.id };
    expect(await b.w.push("edited")).toEqual(edited);
    expect(await a2.w.push("edited")).toEqual(edited);
    const d = await a.w.ok({ type: "delete", mid: m.mid });
    const deleted = { type: "deleted", mid: m.mid, deleted: d.deleted, from: a.id, to: b.id };
    expect(await b.w.push("deleted")).toEqual(deleted);
    expect(await a2.w.push("deleted")).toEqual(deleted);
  });

  it("read receipts and typing cross nodes", async () => {
    const { a, b, a2 } = await pair();
    const m = await b.w.ok({ type: "send", to: a.id, text: "seen?" });
    await a.w.push("msg", (f) => f.mid === m.mid);
    await a.w.ok({ type: "read", with: b.id, mid: m.mid });
    expect(await b.w.push("read")).toEqual({ type: "read", user: a.id, with: a.id, mid: m.mid });
    expect(await a2.w.push("read")).toEqual({ type: "read", user: a.id, with: b.id, mid: m.mid });
    await b.w.ok({ type: "typing", with: a.id });
    expect(await a.w.push("typing")).toEqual({ type: "typing", user: b.id });
    expect(await a2.w.push("typing")).toEqual({ type: "typing", user: b.id });
  });

  it("typing and edits in a group reach members on the other node", async () => {
    const { a, b } = await pair();
    const g = (await a.w.ok({ type: "create_group", name: `x11g_${process.pid % 10000}_${++count}` })).group.id;
    await b.w.ok({ type: "join_group", group: g });
    await a.w.ok({ type: "typing", group: g });
    expect(await b.w.push("typing")).toEqual({ type: "typing", user: a.id, group: g });
    const m = await b.w.ok({ type: "group_send", group: g, text: "hi all" });
    const d = await a.w.ok({ type: "delete", mid: m.mid }); // the creator moderates
    expect(await b.w.push("deleted")).toEqual({ type: "deleted", mid: m.mid, deleted: d.deleted, from: b.id, group: g });
  });

  it("remove_friend takes effect at once on the other node's sessions of both users", async () => {
    const { a, b, a2 } = await pair();
    // Both sides' caches hold the friendship now (a send checks the cache first).
    await b.w.ok({ type: "send", to: a.id, text: "warm the cache" });
    await a2.w.ok({ type: "send", to: b.id, text: "warm the cache too" });
    await a.w.ok({ type: "remove_friend", user: b.id });
    expect(await b.w.push("friend_removed")).toEqual({ type: "friend_removed", user: a.id });
    expect(await a2.w.push("friend_removed")).toEqual({ type: "friend_removed", user: b.id });
    expect(await b.w.req({ type: "send", to: a.id, text: "still?" })).toEqual(expect.objectContaining({ type: "error", code: "not_friend" }));
    expect(await a2.w.req({ type: "send", to: b.id, text: "still?" })).toEqual(expect.objectContaining({ type: "error", code: "not_friend" }));
  });
});
