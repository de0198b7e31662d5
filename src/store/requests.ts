/** Friend requests and blocks (protocol 1.1 `requests`, `block`). */
import { type Db, exec, rows } from "./db.ts";

export interface RequestRow {
  user: { id: number; name: string };
  note: string;
  ts: number;
}

/** Records a request from `from` to `to`; false when one was open already (it stays as it was). */
export async function openRequest(db: Db, from: number, to: number, note: string, ts: number): Promise<boolean> {
  return (await exec(db, "INSERT IGNORE INTO friend_requests (from_id, to_id, note, ts) VALUES (?, ?, ?, ?)", [from, to, note, ts])).affectedRows > 0;
}

export async function hasRequest(db: Db, from: number, to: number): Promise<boolean> {
  return (await rows(db, "SELECT 1 FROM friend_requests WHERE from_id = ? AND to_id = ?", [from, to])).length > 0;
}

/** Removes the request from `from` to `to`; false when there was none. */
export async function closeRequest(db: Db, from: number, to: number): Promise<boolean> {
  return (await exec(db, "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?", [from, to])).affectedRows > 0;
}

/** Drops the open requests between two users, both ways (they became friends, or one blocked the other). */
export async function dropRequests(db: Db, a: number, b: number): Promise<void> {
  await exec(db, "DELETE FROM friend_requests WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)", [a, b, b, a]);
}

export async function outgoingCount(db: Db, user: number): Promise<number> {
  return Number((await rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM friend_requests WHERE from_id = ?", [user]))[0]?.n ?? 0);
}

export async function incomingCount(db: Db, user: number): Promise<number> {
  return Number((await rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM friend_requests WHERE to_id = ?", [user]))[0]?.n ?? 0);
}

/** The user's open requests, each side oldest first. */
export async function requestsOf(db: Db, user: number): Promise<{ incoming: RequestRow[]; outgoing: RequestRow[] }> {
  type Row = { id: number; name: string; note: string; ts: number };
  const shape = (r: Row): RequestRow => ({ user: { id: r.id, name: r.name }, note: r.note, ts: Number(r.ts) });
  const [incoming, outgoing] = await Promise.all([
    rows<Row>(db, "SELECT u.id, u.name, r.note, r.ts FROM friend_requests r JOIN users u ON u.id = r.from_id WHERE r.to_id = ? ORDER BY r.ts, u.id", [user]),
    rows<Row>(db, "SELECT u.id, u.name, r.note, r.ts FROM friend_requests r JOIN users u ON u.id = r.to_id WHERE r.from_id = ? ORDER BY r.ts, u.id", [user]),
  ]);
  return { incoming: incoming.map(shape), outgoing: outgoing.map(shape) };
}

/** Whether either of the two blocks the other. */
export async function blockedEitherWay(db: Db, a: number, b: number): Promise<boolean> {
  return (await rows(db, "SELECT 1 FROM blocks WHERE (user_id = ? AND blocked_id = ?) OR (user_id = ? AND blocked_id = ?)", [a, b, b, a])).length > 0;
}

/** `user` blocks `other`; false when it did already. */
export async function addBlock(db: Db, user: number, other: number): Promise<boolean> {
  return (await exec(db, "INSERT IGNORE INTO blocks (user_id, blocked_id, ts) VALUES (?, ?, ?)", [user, other, Date.now()])).affectedRows > 0;
}

export async function removeBlock(db: Db, user: number, other: number): Promise<void> {
  await exec(db, "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?", [user, other]);
}

export async function blockCount(db: Db, user: number): Promise<number> {
  return Number((await rows<{ n: number }>(db, "SELECT COUNT(*) AS n FROM blocks WHERE user_id = ?", [user]))[0]?.n ?? 0);
}

export async function blockedBy(db: Db, user: number): Promise<{ id: number; name: string }[]> {
  return rows(db, "SELECT u.id, u.name FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.user_id = ? ORDER BY u.id", [user]);
}
