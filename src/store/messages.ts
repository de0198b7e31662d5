import type { ChatMessage } from "../protocol/schema.ts";
import { type Connection, type Db, exec, queryExec, queryRows, rows } from "./db.ts";

/** A message to store: the protocol's message body before it has a mid. */
export type NewMessage = Omit<ChatMessage, "mid" | "name">;

const COLUMNS = "m.mid, m.sender_id, u.name, m.recipient_id, m.group_id, m.body, m.ts";
interface Row {
  mid: number;
  sender_id: number;
  name: string;
  recipient_id: number | null;
  group_id: number | null;
  body: string;
  ts: number;
}

function toMessage(r: Row): ChatMessage {
  return r.group_id != null
    ? { mid: r.mid, from: r.sender_id, name: r.name, group: r.group_id, text: r.body, ts: Number(r.ts) }
    : { mid: r.mid, from: r.sender_id, name: r.name, to: r.recipient_id as number, text: r.body, ts: Number(r.ts) };
}

/**
 * Stores a batch of messages and their pending rows on `conn`, inside the
 * caller's transaction. Returns the mids, in batch order. With `consecutive`
 * (InnoDB's auto-increment lock mode 0 or 1) one multi-row INSERT gets
 * consecutive ids; otherwise each row is inserted on its own.
 */
export async function storeMessages(conn: Connection, batch: NewMessage[], consecutive: boolean): Promise<{ mids: number[]; pending: number }> {
  const mids: number[] = [];
  let pending = 0;
  const values = (m: NewMessage) => [
    m.from,
    m.to ?? null,
    m.group ?? null,
    m.to != null ? Math.min(m.from, m.to) : null,
    m.to != null ? Math.max(m.from, m.to) : null,
    m.text,
    m.ts,
  ];
  const insert = "INSERT INTO messages (sender_id, recipient_id, group_id, peer_lo, peer_hi, body, ts) VALUES ";
  if (consecutive) {
    const params: unknown[] = [];
    for (const m of batch) params.push(...values(m));
    const r = await queryExec(conn, insert + "(?,?,?,?,?,?,?),".repeat(batch.length - 1) + "(?,?,?,?,?,?,?)", params);
    for (let i = 0; i < batch.length; i++) mids.push(r.insertId + i);
  } else {
    for (const m of batch) mids.push((await exec(conn, insert + "(?,?,?,?,?,?,?)", values(m))).insertId);
  }
  const direct: number[] = [];
  const grouped: [mid: number, group: number, sender: number][] = [];
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i] as NewMessage;
    if (m.to != null) direct.push(m.to, mids[i] as number);
    else grouped.push([mids[i] as number, m.group as number, m.from]);
  }
  // Every group message of the batch fans out to its members in one statement.
  if (grouped.length > 0)
    pending += (
      await queryExec(
        conn,
        "INSERT INTO pending (user_id, mid) SELECT gm.user_id, j.mid FROM JSON_TABLE(?, '$[*]' COLUMNS (mid BIGINT UNSIGNED PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', s BIGINT UNSIGNED PATH '$[2]')) j STRAIGHT_JOIN group_members gm ON gm.group_id = j.g AND gm.user_id <> j.s",
        [JSON.stringify(grouped)],
      )
    ).affectedRows;
  if (direct.length > 0) await queryExec(conn, "INSERT INTO pending (user_id, mid) VALUES " + "(?,?),".repeat(direct.length / 2 - 1) + "(?,?)", direct);
  return { mids, pending: pending + direct.length / 2 };
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

export async function pendingCount(db: Db, user: number): Promise<number> {
  return Number((await rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM pending WHERE user_id = ?", [user]))[0]?.n ?? 0);
}

/** Pending messages of `user` with mid above `after`, oldest first. */
export async function pendingPage(db: Db, user: number, after: number, limit: number): Promise<ChatMessage[]> {
  const r = await rows<Row>(
    db,
    `SELECT ${COLUMNS} FROM pending p JOIN messages m ON m.mid = p.mid JOIN users u ON u.id = m.sender_id WHERE p.user_id = ? AND p.mid > ? ORDER BY p.mid LIMIT ?`,
    [user, after, String(limit)],
  );
  return r.map(toMessage);
}

/**
 * Removes the pending rows that a batch of acks names, in two statements
 * whatever the batch size, inside the caller's transaction. Returns, per ack,
 * how many of its mids were pending (a mid acked twice in one batch counts for
 * the first ack only).
 *
 * The (user, mid) pairs are one JSON parameter turned into a table
 * (JSON_TABLE: MariaDB 10.6+, MySQL 8.0.4+) and joined first (STRAIGHT_JOIN),
 * so that each is one primary-key lookup whatever the table's statistics say:
 * written as a long OR of conditions, or joined the other way round, the
 * optimizer scans the whole table (and, FOR UPDATE, locks what it scans).
 */
export async function ackPending(conn: Connection, acks: { user: number; mids: number[] }[]): Promise<number[]> {
  const seen = new Set<string>();
  const list: [user: number, mid: number][] = [];
  for (const a of acks)
    for (const m of a.mids) {
      const key = `${a.user}:${m}`;
      if (seen.has(key)) continue;
      seen.add(key);
      list.push([a.user, m]);
    }
  if (list.length === 0) return acks.map(() => 0);
  const pairs = JSON.stringify(list);
  // Constant text around one placeholder: the pairs travel as a JSON parameter.
  const placeholderTable = "JSON_TABLE(?, '$[*]' COLUMNS (u BIGINT UNSIGNED PATH '$[0]', m BIGINT UNSIGNED PATH '$[1]')) x";
  const found = await queryRows<{ user_id: number; mid: number }>(
    conn,
    `SELECT p.user_id, p.mid FROM ${placeholderTable} STRAIGHT_JOIN pending p ON p.user_id = x.u AND p.mid = x.m FOR UPDATE`,
    [pairs],
  );
  if (found.length > 0) await queryExec(conn, `DELETE p FROM ${placeholderTable} STRAIGHT_JOIN pending p ON p.user_id = x.u AND p.mid = x.m`, [pairs]);
  const pending = new Set(found.map((r) => `${r.user_id}:${r.mid}`));
  return acks.map((a) => {
    let n = 0;
    for (const m of a.mids) if (pending.delete(`${a.user}:${m}`)) n++;
    return n;
  });
}
