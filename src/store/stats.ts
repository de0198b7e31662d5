/**
 * The figures of `chat admin stats`, each from a cheap query: small tables
 * counted, large ones read through their indexes (a range of the primary
 * key, the highest id), never a scan of the messages.
 */
import { type Db, rows } from "./db.ts";

export interface StoreStats {
  users: number;
  banned: number;
  groups: number;
  /** The highest mid: how many message ids were issued (deleted groups' messages and failed inserts included). */
  highestMid: number;
  /** Messages sent since `since` (see `messagesSince`). */
  messagesSince: number;
  /** Login tokens not yet expired. */
  liveTokens: number;
  /** Acks above their conversation's position (acked_above): messages a client skipped over, held back until the gap closes. */
  heldAcks: number;
}

const count = async (db: Db, sql: string, params: unknown[] = []) => Number((await rows<{ n: number | string }>(db, sql, params))[0]?.n ?? 0);

export async function storeStats(db: Db, since: number): Promise<StoreStats> {
  const [users, banned, groups, highestMid, liveTokens, heldAcks, messagesSince] = await Promise.all([
    count(db, "SELECT COUNT(*) AS n FROM users"),
    count(db, "SELECT COUNT(*) AS n FROM users WHERE banned_at IS NOT NULL"),
    count(db, "SELECT COUNT(*) AS n FROM chat_groups"),
    count(db, "SELECT COALESCE(MAX(mid), 0) AS n FROM messages"),
    count(db, "SELECT COUNT(*) AS n FROM tokens WHERE expires_at > ?", [Date.now()]),
    count(db, "SELECT COUNT(*) AS n FROM acked_above"),
    messagesAfter(db, since),
  ]);
  return { users, banned, groups, highestMid, messagesSince, liveTokens, heldAcks };
}

/**
 * Messages with a `ts` of `since` or later, counted as the primary-key range
 * from the first of them. That first mid is found by bisecting mids: a
 * message's ts grows with its mid (near enough: nodes' clocks differ by
 * little), so about 30 point reads find it in any table, where a `WHERE ts >=`
 * would read every message (ts has no index: every send would pay for one).
 */
async function messagesAfter(db: Db, since: number): Promise<number> {
  /** The ts of the first message with a mid of `x` or more; undefined when there is none. */
  const tsFrom = async (x: number) => {
    const r = await rows<{ ts: number | string }>(db, "SELECT ts FROM messages WHERE mid >= ? ORDER BY mid LIMIT 1", [x]);
    return r[0] === undefined ? undefined : Number(r[0].ts);
  };
  let lo = 1;
  let hi = await count(db, "SELECT COALESCE(MAX(mid), 0) AS n FROM messages");
  if (hi === 0) return 0;
  if (((await tsFrom(hi)) ?? 0) < since) return 0;
  while (lo < hi) {
    const m = Math.floor((lo + hi) / 2);
    if (((await tsFrom(m)) ?? Number.POSITIVE_INFINITY) >= since) hi = m;
    else lo = m + 1;
  }
  return count(db, "SELECT COUNT(*) AS n FROM messages WHERE mid >= ?", [lo]);
}
