/**
 * Reading messages: history, and what is pending for a user. A message is
 * pending for a recipient while its mid is above the recipient's acked_upto
 * in that conversation and not in acked_above (sql/002_positions.sql); the
 * writes are in store/write-batch.ts.
 */
import type { ChatMessage } from "../protocol/schema.ts";
import { type Db, exec, marks, queryRows, rows } from "./db.ts";

/** A message to store: the protocol's message body before it has a mid. */
export type NewMessage = Omit<ChatMessage, "mid" | "name" | "edited" | "deleted">;

const COLUMNS = "m.mid, m.sender_id, u.name, m.recipient_id, m.group_id, m.body, m.ts, m.cid, m.edited, m.deleted";
interface Row {
  mid: number;
  sender_id: number;
  /** NULL for a deleted account: its messages show `name` "". */
  name: string | null;
  recipient_id: number | null;
  group_id: number | null;
  body: string;
  ts: number;
  cid: string | null;
  edited: number | null;
  deleted: number | null;
}

function toMessage(r: Row): ChatMessage {
  const m: ChatMessage =
    r.group_id != null
      ? { mid: r.mid, from: r.sender_id, name: r.name ?? "", group: r.group_id, text: r.body, ts: Number(r.ts) }
      : { mid: r.mid, from: r.sender_id, name: r.name ?? "", to: r.recipient_id as number, text: r.body, ts: Number(r.ts) };
  if (r.cid != null) m.cid = r.cid;
  if (r.edited != null) m.edited = Number(r.edited);
  if (r.deleted != null) m.deleted = Number(r.deleted);
  return m;
}

/** The messages with these mids, ascending (tombstones included). */
export async function messagesByMids(db: Db, mids: number[]): Promise<ChatMessage[]> {
  if (mids.length === 0) return [];
  const r = await queryRows<Row>(db, `SELECT ${COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.mid IN (${marks(mids.length)}) ORDER BY m.mid`, mids);
  return r.map(toMessage);
}

/** Who a message is between: its sender and recipient or group, its time, and whether it was deleted. */
export interface MessageParties {
  mid: number;
  from: number;
  to: number | null;
  group: number | null;
  ts: number;
  deleted: boolean;
}

export async function messageParties(db: Db, mid: number): Promise<MessageParties | undefined> {
  const r = await rows<{ mid: number; sender_id: number; recipient_id: number | null; group_id: number | null; ts: number; deleted: number | null }>(
    db,
    "SELECT mid, sender_id, recipient_id, group_id, ts, deleted FROM messages WHERE mid = ?",
    [mid],
  );
  const m = r[0];
  return m && { mid: Number(m.mid), from: m.sender_id, to: m.recipient_id, group: m.group_id, ts: Number(m.ts), deleted: m.deleted != null };
}

/** Replaces a message's text; false when it is gone (deleted meanwhile). */
export async function editMessage(db: Db, mid: number, text: string, at: number): Promise<boolean> {
  return (await exec(db, "UPDATE messages SET body = ?, edited = ? WHERE mid = ? AND deleted IS NULL", [text, at, mid])).affectedRows > 0;
}

/** Erases a message's text, leaving a tombstone; false when it was deleted already. */
export async function deleteMessage(db: Db, mid: number, at: number): Promise<boolean> {
  return (await exec(db, "UPDATE messages SET body = '', deleted = ? WHERE mid = ? AND deleted IS NULL", [at, mid])).affectedRows > 0;
}

/** The `limit` most recent messages before `before`, ascending by mid. */
export async function directHistory(db: Db, a: number, b: number, before: number | undefined, limit: number): Promise<ChatMessage[]> {
  const r = await rows<Row>(
    db,
    `SELECT ${COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.peer_lo = ? AND m.peer_hi = ? AND m.mid < ? ORDER BY m.mid DESC LIMIT ?`,
    [Math.min(a, b), Math.max(a, b), before ?? Number.MAX_SAFE_INTEGER, String(limit)],
  );
  return r.reverse().map(toMessage);
}

export async function groupHistory(db: Db, group: number, before: number | undefined, limit: number): Promise<ChatMessage[]> {
  const r = await rows<Row>(
    db,
    `SELECT ${COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.group_id = ? AND m.mid < ? ORDER BY m.mid DESC LIMIT ?`,
    [group, before ?? Number.MAX_SAFE_INTEGER, String(limit)],
  );
  return r.reverse().map(toMessage);
}

/** The message `sender` stored with `cid`, if any. */
export async function messageByCid(db: Db, sender: number, cid: string): Promise<{ mid: number; ts: number } | undefined> {
  const r = await rows<{ mid: number; ts: number }>(db, "SELECT mid, ts FROM messages WHERE sender_id = ? AND cid = ?", [sender, cid]);
  return r[0] && { mid: Number(r[0].mid), ts: Number(r[0].ts) };
}

/**
 * The mids pending for `user` above `after`: the messages to the user in each
 * of the user's conversations above its acked_upto, without those acked
 * above it. Two steps: the user's positions, then each conversation's range
 * of an index on messages. In one statement MariaDB joins positions to
 * messages by the conversation's first key parts and tests the mid bound on
 * every entry of its history, or scans the table; with the positions as a
 * list and each key part a closed interval, the range optimizer runs per
 * conversation ("Range checked for each record") and reads from the position
 * on. The sender goes through an expression for the same reason: as a
 * lookup or a constant range on the (sender_id, cid) index it would change
 * the plan to a scan.
 */
const CONV_POSITIONS = "JSON_TABLE(?, '$[*]' COLUMNS (c BIGINT UNSIGNED PATH '$[0]', a BIGINT UNSIGNED PATH '$[1]')) x";
const PENDING = `
  SELECT m.mid FROM ${CONV_POSITIONS} STRAIGHT_JOIN messages m
      ON m.group_id >= x.c AND m.group_id <= x.c AND m.mid > GREATEST(x.a, ?) AND m.sender_id + 0 <> ?
    WHERE NOT EXISTS (SELECT 1 FROM acked_above a WHERE a.user_id = ? AND a.mid = m.mid)
  UNION ALL
  SELECT m.mid FROM ${CONV_POSITIONS} STRAIGHT_JOIN messages m
      ON m.peer_lo >= LEAST(?, x.c) AND m.peer_lo <= LEAST(?, x.c) AND m.peer_hi >= GREATEST(?, x.c) AND m.peer_hi <= GREATEST(?, x.c)
        AND m.mid > GREATEST(x.a, ?) AND m.sender_id + 0 = x.c
    WHERE NOT EXISTS (SELECT 1 FROM acked_above a WHERE a.user_id = ? AND a.mid = m.mid)`;

/** PENDING's parameters for `user` above `after`: the user's group and one-to-one positions, as [group or peer, acked_upto]. */
async function pendingParams(db: Db, user: number, after: number): Promise<unknown[]> {
  const pos = await rows<{ group_id: number; peer_id: number; acked_upto: number }>(db, "SELECT group_id, peer_id, acked_upto FROM positions WHERE user_id = ?", [user]);
  const groups = JSON.stringify(pos.filter((p) => p.group_id > 0).map((p) => [p.group_id, Number(p.acked_upto)]));
  const direct = JSON.stringify(pos.filter((p) => p.group_id === 0).map((p) => [p.peer_id, Number(p.acked_upto)]));
  return [groups, after, user, user, direct, user, user, user, user, after, user];
}

export async function pendingCount(db: Db, user: number): Promise<number> {
  const r = await queryRows<{ n: number }>(db, `SELECT COUNT(*) AS n FROM (${PENDING}) q`, await pendingParams(db, user, 0));
  return Number(r[0]?.n ?? 0);
}

/** Pending messages of `user` with mid above `after`, oldest first. */
export async function pendingPage(db: Db, user: number, after: number, limit: number): Promise<ChatMessage[]> {
  const r = await queryRows<Row>(
    db,
    // From the page to its rows: the derived table's estimate (the JSON lists' guess times the table) would otherwise start the join from users and read every message.
    `SELECT ${COLUMNS} FROM (${PENDING} ORDER BY mid LIMIT ?) q STRAIGHT_JOIN messages m ON m.mid = q.mid STRAIGHT_JOIN users u ON u.id = m.sender_id ORDER BY m.mid`,
    [...(await pendingParams(db, user, after)), limit],
  );
  return r.map(toMessage);
}
