/**
 * Delivery and read positions are only worth having if reading from them
 * costs what lies above them, not the conversation's history. MariaDB's
 * handler counters say how many index entries and rows each store call made
 * it read: with thousands of old messages in a group and a one-to-one
 * conversation and a few new ones, every call must read about the new ones.
 * A plan that walks the history (or the table) reads thousands.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import mysql from "mysql2/promise";
import { conversationPage, unreadTotal } from "../../src/store/conversations.ts";
import type { Db } from "../../src/store/db.ts";
import { pendingCount, pendingPage } from "../../src/store/messages.ts";
import { writeBatch } from "../../src/store/write-batch.ts";
import { freshDatabase } from "../support/db.ts";

const HISTORY = 4000;
const NEW = 3;
/** Far below HISTORY: what a few new messages, a few conversations and the lookups around them cost. */
const BOUND = 300;

let conn: mysql.Connection;
let db: Db;
const me = 1;
const friend = 2;
const group = 1;
const groupNew: number[] = [];
const directNew: number[] = [];
/** the last of each */
const lastOf = (l: number[]) => l[l.length - 1] as number;

/** The store on one connection, so that its session counters see every statement. */
function oneConnectionDb(c: mysql.Connection): Db {
  return {
    execute: (sql, params) => c.execute(sql, params) as Promise<[unknown, unknown]>,
    query: (sql, params) => c.query(sql, params) as Promise<[unknown, unknown]>,
    async transaction(fn) {
      await c.beginTransaction();
      try {
        const r = await fn(c);
        await c.commit();
        return r;
      } catch (e) {
        await c.rollback();
        throw e;
      }
    },
  };
}

/** Index entries and rows read by `fn`'s statements (entries an index condition rejected included). */
async function entriesRead<T>(fn: () => Promise<T>): Promise<{ result: T; read: number }> {
  const counters = async () => {
    const [r] = (await conn.query("SHOW SESSION STATUS LIKE 'Handler_%'")) as unknown as [{ Variable_name: string; Value: string }[]];
    const v = (n: string) => Number(r.find((x) => x.Variable_name === n)?.Value ?? 0);
    return v("Handler_read_key") + v("Handler_read_next") + v("Handler_read_prev") + v("Handler_read_rnd_next") + v("Handler_icp_attempts") - v("Handler_icp_match");
  };
  const before = await counters();
  const result = await fn();
  // The SHOW itself reads a few rows of its own: taken once more without work in between, it is subtracted.
  const after = await counters();
  const idle = (await counters()) - after;
  return { result, read: after - before - idle };
}

beforeAll(async () => {
  // The message writer's connections take several statements per query.
  conn = await mysql.createConnection({ uri: await freshDatabase(), multipleStatements: true });
  db = oneConnectionDb(conn);
  await conn.query("INSERT INTO users (id, name, password_hash, created_at) VALUES (1, 'me', 'x', 0), (2, 'friend', 'x', 0)");
  await conn.query("INSERT INTO friends (user_id, friend_id, created_at) VALUES (1, 2, 0), (2, 1, 0)");
  await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (1, 'g', 1, 0)");
  await conn.query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (1, 1, 'creator', 0), (1, 2, 'normal', 0)");
  // History, both conversations interleaved, from the friend to me and from me.
  const rows: unknown[][] = [];
  for (let i = 0; i < HISTORY; i++) {
    const from = i % 3 === 0 ? me : friend;
    rows.push([from, null, group, null, null, `g${i}`, i]);
    rows.push([from, from === me ? friend : me, null, 1, 2, `d${i}`, i]);
  }
  for (let k = 0; k < rows.length; k += 1000)
    await conn.query("INSERT INTO messages (sender_id, recipient_id, group_id, peer_lo, peer_hi, body, ts) VALUES ?", [rows.slice(k, k + 1000)]);
  const [[top]] = (await conn.query("SELECT MAX(mid) AS top FROM messages")) as unknown as [[{ top: number }]];
  // Everything so far delivered and read, on both sides.
  await conn.query("INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (1, 1, 0, ?, ?), (2, 1, 0, ?, ?), (1, 0, 2, ?, ?), (2, 0, 1, ?, ?)", [
    top.top,
    top.top,
    top.top,
    top.top,
    top.top,
    top.top,
    top.top,
    top.top,
  ]);
  for (let i = 0; i < NEW; i++) {
    const [g] = (await conn.query("INSERT INTO messages (sender_id, group_id, body, ts) VALUES (2, 1, 'new', 1)")) as unknown as [{ insertId: number }];
    groupNew.push(g.insertId);
    const [d] = (await conn.query("INSERT INTO messages (sender_id, recipient_id, peer_lo, peer_hi, body, ts) VALUES (2, 1, 1, 2, 'new', 1)")) as unknown as [{ insertId: number }];
    directNew.push(d.insertId);
  }
  await conn.query("ANALYZE TABLE messages, positions, friends");
});
afterAll(() => conn?.end());

describe("reading from delivery and read positions", () => {
  it("counts and replays what is pending without reading the conversations' history", async () => {
    const count = await entriesRead(() => pendingCount(db, me));
    expect(count.result).toBe(2 * NEW);
    expect(count.read).toBeLessThan(BOUND);
    const page = await entriesRead(() => pendingPage(db, me, 0, 100));
    expect(page.result.map((m) => m.mid)).toEqual([...groupNew, ...directNew].sort((a, b) => a - b));
    expect(page.read).toBeLessThan(BOUND);
  });

  it("counts unread messages and lists conversations without reading the conversations' history", async () => {
    const total = await entriesRead(() => unreadTotal(db, me));
    expect(total.result).toBe(2 * NEW);
    expect(total.read).toBeLessThan(BOUND);
    const list = await entriesRead(() => conversationPage(db, me, undefined, 50));
    expect(list.result.map((c) => c.unread)).toEqual([NEW, NEW]);
    expect(list.result.map((c) => c.last.mid)).toEqual([lastOf(directNew), lastOf(groupNew)]);
    expect(list.read).toBeLessThan(BOUND);
  });

  it("acks and reads move positions over the new messages only", async () => {
    const ack = await entriesRead(() => writeBatch(conn, [], [{ user: me, mids: [...groupNew, ...directNew] }], [], true));
    expect(ack.result.acked).toEqual([2 * NEW]);
    expect(ack.read).toBeLessThan(BOUND);
    expect(await pendingCount(db, me)).toBe(0);
    const read = await entriesRead(() =>
      writeBatch(
          conn,
          [],
          [],
          [
            { user: me, group, peer: 0, mid: lastOf(groupNew) },
            { user: me, group: 0, peer: friend, mid: lastOf(directNew) },
          ],
          true,
        ),
    );
    expect(read.result.reads).toEqual([
      { read: lastOf(groupNew), moved: true },
      { read: lastOf(directNew), moved: true },
    ]);
    expect(read.read).toBeLessThan(BOUND);
    expect(await unreadTotal(db, me)).toBe(0);
  });
});
