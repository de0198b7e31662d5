/**
 * A user's conversations (protocol 1.1 `conversations`): each friendship and
 * each group membership with at least one message, newest last message
 * first, with its unread count and read positions. `positions` has a row per
 * conversation of the user (sql/002_positions.sql); a one-to-one row outlives
 * the friendship, so the friends table says which are conversations now.
 *
 * These statements go as text queries (queryRows): MariaDB 10.11 mis-resolves
 * a derived UNION's columns when one prepared statement runs a second time.
 */
import type { ChatMessage } from "../protocol/schema.ts";
import { type Db, queryRows } from "./db.ts";
import { messagesByMids } from "./messages.ts";

export interface DirectEntry {
  with: number;
  name: string;
  last: ChatMessage;
  unread: number;
  read: number;
  peer_read: number;
}

export interface GroupEntry {
  group: number;
  name: string;
  last: ChatMessage;
  unread: number;
  read: number;
}

export type ConversationEntry = DirectEntry | GroupEntry;

/**
 * Every conversation of the user, with its latest mid (NULL: no message yet)
 * and the user's read position. Not MAX(mid): in a dependent subquery
 * MariaDB computes it over the conversation's whole history; ORDER BY DESC
 * LIMIT 1 reads one index entry.
 */
const LATEST = `
  SELECT s.group_id, s.peer_id, s.read_upto, (SELECT m.mid FROM messages m WHERE m.group_id = s.group_id ORDER BY m.mid DESC LIMIT 1) AS last_mid
    FROM positions s WHERE s.user_id = ? AND s.group_id > 0
  UNION ALL
  SELECT s.group_id, s.peer_id, s.read_upto,
      (SELECT m.mid FROM messages m WHERE m.peer_lo = LEAST(s.user_id, s.peer_id) AND m.peer_hi = GREATEST(s.user_id, s.peer_id) ORDER BY m.mid DESC LIMIT 1) AS last_mid
    FROM positions s JOIN friends f ON f.user_id = s.user_id AND f.friend_id = s.peer_id WHERE s.user_id = ? AND s.group_id = 0`;

/** [page index, group, peer, read position]. */
const PAGE_LIST = "JSON_TABLE(?, '$[*]' COLUMNS (i INT PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', p BIGINT UNSIGNED PATH '$[2]', r BIGINT UNSIGNED PATH '$[3]')) x";

type Entry = readonly [i: number, group: number, peer: number, read: number];

/**
 * The unread count of each entry (absent: none): messages from others above
 * the read position, tombstones not counted. Joined on an equality, MariaDB
 * would look each conversation up by its first key parts and test the mid
 * bound on every entry of its history; as closed intervals, the range
 * optimizer runs per entry ("Range checked for each record") and reads from
 * the position on. The sender goes through an expression: as a lookup or a
 * constant range on the (sender_id, cid) index it would turn the plan into a
 * scan of the table.
 */
async function unreadCounts(db: Db, user: number, entries: Entry[]): Promise<Map<number, number>> {
  const groups = entries.filter((e) => e[1] > 0);
  const direct = entries.filter((e) => e[1] === 0);
  const [g, d] = await Promise.all([
    groups.length === 0
      ? []
      : queryRows<{ i: number; n: number }>(
          db,
          `SELECT x.i, COUNT(*) AS n FROM ${PAGE_LIST} STRAIGHT_JOIN messages m
             ON m.group_id >= x.g AND m.group_id <= x.g AND m.mid > x.r AND m.sender_id + 0 <> ? AND m.deleted IS NULL
           GROUP BY x.i`,
          [JSON.stringify(groups), user],
        ),
    direct.length === 0
      ? []
      : queryRows<{ i: number; n: number }>(
          db,
          `SELECT x.i, COUNT(*) AS n FROM ${PAGE_LIST} STRAIGHT_JOIN messages m
             ON m.peer_lo >= LEAST(?, x.p) AND m.peer_lo <= LEAST(?, x.p) AND m.peer_hi >= GREATEST(?, x.p) AND m.peer_hi <= GREATEST(?, x.p)
               AND m.mid > x.r AND m.sender_id + 0 = x.p AND m.deleted IS NULL
           GROUP BY x.i`,
          [JSON.stringify(direct), user, user, user, user],
        ),
  ]);
  return new Map([...g, ...d].map((r) => [Number(r.i), Number(r.n)]));
}

/** The sum of the unread counts of the user's conversations (the login reply's `unread`). */
export async function unreadTotal(db: Db, user: number): Promise<number> {
  // The user's conversations now: every group position, and the one-to-one positions of current friends.
  const convs = await queryRows<{ group_id: number; peer_id: number; read_upto: number }>(
    db,
    `SELECT s.group_id, s.peer_id, s.read_upto FROM positions s LEFT JOIN friends f ON f.user_id = s.user_id AND f.friend_id = s.peer_id
     WHERE s.user_id = ? AND (s.group_id > 0 OR f.friend_id IS NOT NULL)`,
    [user],
  );
  let n = 0;
  for (const c of (await unreadCounts(db, user, convs.map((c, i) => [i, c.group_id, c.peer_id, Number(c.read_upto)] as const))).values()) n += c;
  return n;
}

/** A page of the user's conversations, newest last message first; with `before`, those whose last mid is below it. */
export async function conversationPage(db: Db, user: number, before: number | undefined, limit: number): Promise<ConversationEntry[]> {
  const page = await queryRows<{ group_id: number; peer_id: number; read_upto: number; last_mid: number }>(
    db,
    `SELECT * FROM (${LATEST}) c WHERE c.last_mid IS NOT NULL AND c.last_mid < ? ORDER BY c.last_mid DESC LIMIT ?`,
    [user, user, before ?? Number.MAX_SAFE_INTEGER, limit],
  );
  if (page.length === 0) return [];
  const entries = page.map((c, i) => [i, c.group_id, c.peer_id, Number(c.read_upto)] as const);
  const list = JSON.stringify(entries);
  const [lasts, unreadOf, names, peers] = await Promise.all([
    messagesByMids(
      db,
      page.map((c) => Number(c.last_mid)),
    ),
    unreadCounts(db, user, entries),
    queryRows<{ i: number; name: string }>(
      db,
      `SELECT x.i, IF(x.g > 0, (SELECT g.name FROM chat_groups g WHERE g.id = x.g), (SELECT u.name FROM users u WHERE u.id = x.p)) AS name FROM ${PAGE_LIST}`,
      [list],
    ),
    queryRows<{ i: number; r: number }>(
      db,
      `SELECT x.i, s.read_upto AS r FROM ${PAGE_LIST} STRAIGHT_JOIN positions s ON s.user_id = x.p AND s.group_id = 0 AND s.peer_id = ? WHERE x.g = 0`,
      [list, user],
    ),
  ]);
  const byMid = new Map(lasts.map((m) => [m.mid, m]));
  const nameOf = new Map(names.map((r) => [Number(r.i), r.name]));
  const peerRead = new Map(peers.map((r) => [Number(r.i), Number(r.r)]));
  return page.map((c, i): ConversationEntry => {
    const base = { name: nameOf.get(i) ?? "", last: byMid.get(Number(c.last_mid)) as ChatMessage, unread: unreadOf.get(i) ?? 0, read: Number(c.read_upto) };
    return c.group_id > 0 ? { group: c.group_id, ...base } : { with: c.peer_id, ...base, peer_read: peerRead.get(i) ?? 0 };
  });
}

