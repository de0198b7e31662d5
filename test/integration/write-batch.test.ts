/**
 * The group commit's batch against a real MariaDB: a message to a group that
 * no longer exists (deleted while the sender's node had not heard: its cache
 * still had the membership) is refused within the batch, nothing is stored
 * for it, and the batch's other messages are stored as usual; a cid another
 * node stores at the same moment fails the batch whole, and its retry finds it.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import mysql from "mysql2/promise";
import { isCidRace, writeBatch } from "../../src/store/write-batch.ts";
import { freshDatabase } from "../support/db.ts";

let conn: mysql.Connection;
let url: string;

beforeAll(async () => {
  // The message writer's connections take several statements per query.
  url = await freshDatabase();
  conn = await mysql.createConnection({ uri: url, multipleStatements: true });
  await conn.query("INSERT INTO users (id, name, password_hash, created_at) VALUES (1, 'me', 'x', 0), (2, 'friend', 'x', 0)");
  await conn.query("INSERT INTO friends (user_id, friend_id, created_at) VALUES (1, 2, 0), (2, 1, 0)");
  await conn.query("INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (1, 0, 2, 0, 0), (2, 0, 1, 0, 0)");
  await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (1, 'kept', 1, 0), (2, 'deleted soon', 1, 0)");
  await conn.query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (1, 1, 'creator', 0), (2, 1, 'creator', 0)");
});
let other: mysql.Connection | undefined;
afterAll(async () => {
  await other?.end();
  await conn?.end();
});

/** writeBatch begins and commits its own transaction. */
const batch = (messages: Parameters<typeof writeBatch>[1]) => writeBatch(conn, messages, [], [], true);

describe("a batch with a message to a group that is gone", () => {
  it("refuses that message alone and stores the others", async () => {
    await conn.query("DELETE FROM group_members WHERE group_id = 2");
    await conn.query("DELETE FROM chat_groups WHERE id = 2");
    const r = await batch([
      { from: 1, group: 1, text: "to the group", ts: 1 },
      { from: 1, group: 2, text: "to a deleted group", ts: 2, cid: "gone-1" },
      { from: 1, to: 2, text: "to a friend", ts: 3 },
    ]);
    expect(r.messages[1]).toEqual({ mid: 0, ts: 2, duplicate: false, groupGone: true });
    const [first, , third] = r.messages;
    expect(first?.groupGone).toBeUndefined();
    expect(third?.groupGone).toBeUndefined();
    expect(third!.mid).toBeGreaterThan(first!.mid);
    const [rows] = (await conn.query("SELECT mid, group_id, recipient_id, body FROM messages ORDER BY mid")) as unknown as [{ mid: number; group_id: number | null; body: string }[]];
    expect(rows.map((x) => x.body)).toEqual(["to the group", "to a friend"]);
    expect(rows.map((x) => Number(x.mid))).toEqual([first!.mid, third!.mid]);
  });

  it("refuses it again when sent again with the same cid: nothing was stored the first time", async () => {
    const r = await batch([{ from: 1, group: 2, text: "to a deleted group", ts: 4, cid: "gone-1" }]);
    expect(r.messages[0]?.groupGone).toBe(true);
    const [[n]] = (await conn.query("SELECT COUNT(*) AS n FROM messages WHERE group_id = 2")) as unknown as [[{ n: number }]];
    expect(Number(n.n)).toBe(0);
  });
});

describe("a batch whose cid another node is storing at the same moment", () => {
  it("fails whole as a cid race, rolled back, and its retry answers with the other node's message", async () => {
    other = await mysql.createConnection({ uri: url });
    const before = async () => Number(((await conn.query("SELECT COUNT(*) AS n FROM messages")) as unknown as [[{ n: number }]])[0][0].n);
    const count = await before();
    // The other node has inserted the cid and not committed: this batch's lookup does not see it, its INSERT waits for it.
    await other.query("BEGIN");
    const [ins] = (await other.query(
      "INSERT INTO messages (sender_id, recipient_id, group_id, peer_lo, peer_hi, body, ts, cid) VALUES (1, 2, NULL, 1, 2, 'from the other node', 9, 'race-1')",
    )) as unknown as [{ insertId: number }];
    const racing = batch([
      { from: 1, group: 1, text: "a neighbour in the batch", ts: 10 },
      { from: 1, group: 1, text: "the same send, on this node", ts: 10, cid: "race-1" },
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );
    await Bun.sleep(200); // a bounded wait: the batch is blocked on the other node's row lock meanwhile
    await other.query("COMMIT");
    const failure = await racing;
    expect(isCidRace(failure)).toBe(true);
    // Nothing of the batch stayed, and the connection is usable: its retry finds the other node's message.
    expect(await before()).toBe(count + 1);
    const again = await batch([
      { from: 1, group: 1, text: "a neighbour in the batch", ts: 10 },
      { from: 1, group: 1, text: "the same send, on this node", ts: 10, cid: "race-1" },
    ]);
    expect(again.messages[1]).toEqual({ mid: ins.insertId, ts: 9, duplicate: true });
    expect(again.messages[0]?.duplicate).toBe(false);
    expect(await before()).toBe(count + 2);
  });
});
