/** delete_account across two nodes: the user's sessions on both end, and the friends on the other node hear of it at once. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { befriend, PASSWORD, person, session } from "../support/conformance.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { uniq } from "../support/server.ts";

let n1: NodeProcess;
let n2: NodeProcess;
beforeAll(async () => {
  const mysqlUrl = await freshDatabase();
  [n1, n2] = await Promise.all([
    spawnNode({ node: `del1-${process.pid}`, mysqlUrl, redisUrl: redisUrl() }),
    spawnNode({ node: `del2-${process.pid}`, mysqlUrl, redisUrl: redisUrl() }),
  ]);
});
afterAll(async () => {
  await Promise.all([n1?.kill(), n2?.kill()]);
});

test("a deleted account's sessions end on both nodes, and its friend on the other node can no longer message it", async () => {
  const a = await person(n1.port, uniq("dx"));
  const friend = await person(n2.port, uniq("dx"));
  await befriend(a, friend);
  const a2 = await session(n2.port, a.name);
  await friend.w.ok({ type: "send", to: a.id, text: "warm the cache" });
  await a.w.ok({ type: "delete_account", password: PASSWORD });
  for (const w of [a.w, a2.w]) {
    expect(await w.next((f) => f.type === "error" && f.code === "account_deleted")).not.toHaveProperty("re");
    await w.closedPromise();
  }
  expect(await friend.w.push("friend_removed")).toEqual({ type: "friend_removed", user: a.id });
  expect(await friend.w.req({ type: "send", to: a.id, text: "still there?" })).toEqual(expect.objectContaining({ type: "error", code: "not_friend" }));
  friend.w.close();
});
