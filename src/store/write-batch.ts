/**
 * One group commit's writes, in the caller's transaction: new messages and
 * acks, in a constant number of statements whatever the batch's size.
 *
 * Delivery state is a position per user and conversation (positions.acked_upto:
 * every message to the user up to there is delivered) plus the acks above it
 * that do not join up yet (acked_above). Storing a message adds its one row
 * and nothing per recipient; an ack moves positions.
 *
 * Why the locks. A position may only pass a mid once that mid is committed:
 * otherwise a message committed late by another node (its mid allocated
 * before a larger one that a client has already received and acked) would
 * fall below the position and never be delivered. So the writer of a message
 * holds its conversation's lock row from before its mid is allocated until it
 * commits (a group's row in chat_groups, the recipient's positions row for
 * one-to-one), and the writer of an ack takes the same rows before it reads
 * the conversation's mids. Every transaction takes its group rows, then its
 * positions rows, each in key order: two nodes' batches never deadlock on them.
 *
 * A one-to-one positions row also names the latest three messages to its user
 * (last_in, prev_in, prev2_in: sql/007_last_in.sql), kept here under the same
 * lock. When one of them is at or below acked_upto (or is 0: no message), they
 * are every message pending above it, and an ack of the oldest of those (or
 * of the oldest ones: a client acking on a timer while the next message is
 * already stored) moves acked_upto with no read of the conversation's mids;
 * the mids' conversations come from the writer's MessageMeta when it stored
 * them. Such a batch is its lock read, its INSERT and one UPDATE of positions.
 */
import { type Connection, isDuplicate, queryExec, queryRows } from "./db.ts";
import type { MessageMeta } from "./message-meta.ts";
import type { NewMessage } from "./messages.ts";

export interface AckRequest {
  user: number;
  mids: number[];
}

export interface StoredMessage {
  mid: number;
  ts: number;
  /** The sender already had a message with this cid: nothing new was stored. */
  duplicate: boolean;
  /**
   * The message's group no longer exists (deleted since the sender's session
   * last looked): nothing was stored, and `mid` is 0.
   */
  groupGone?: true;
}

/** `user` has read the conversation up to `mid` (protocol 1.1 `read`). */
export interface ReadRequest {
  user: number;
  /** The group, or 0 for one-to-one with `peer`. */
  group: number;
  peer: number;
  mid: number;
}

export interface ReadResult {
  /** The read position now. */
  read: number;
  /** Whether this read moved it. */
  moved: boolean;
}

export interface BatchResult {
  messages: StoredMessage[];
  /** Per ack, how many of its mids were pending (a mid acked twice in one batch counts for the first ack only). */
  acked: number[];
  reads: ReadResult[];
}

/** A user's conversation: a group, or the one-to-one with `peer`. */
interface Conv {
  user: number;
  group: number;
  peer: number;
}

const convKey = (c: Conv) => `${c.user}:${c.group}:${c.peer}`;
const byKey = (a: Conv, b: Conv) => a.user - b.user || a.group - b.group || a.peer - b.peer;

/** A list as one JSON parameter turned into a table `x`: one statement text whatever its length. */
const jsonTable = (columns: string) => `JSON_TABLE(?, '$[*]' COLUMNS (${columns})) x`;
const MID_LIST = jsonTable("mid BIGINT UNSIGNED PATH '$'");
const ID_LIST = jsonTable("id BIGINT UNSIGNED PATH '$'");
/** [user, group, peer]: a user's conversation. */
const CONV_LIST = jsonTable("u BIGINT UNSIGNED PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', p BIGINT UNSIGNED PATH '$[2]'");
/** [user, group, peer, new acked_upto]. */
const MOVE_LIST = jsonTable("u BIGINT UNSIGNED PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', p BIGINT UNSIGNED PATH '$[2]', t BIGINT UNSIGNED PATH '$[3]'");
/** [user, group, peer, acked_upto, last_in, prev_in, prev2_in]: a positions row as the batch leaves it. */
const ROW_LIST = jsonTable(
  "u BIGINT UNSIGNED PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', p BIGINT UNSIGNED PATH '$[2]', t BIGINT UNSIGNED PATH '$[3]', l BIGINT UNSIGNED PATH '$[4]', v BIGINT UNSIGNED PATH '$[5]', w BIGINT UNSIGNED PATH '$[6]'",
);
/** [sender, cid]. */
const CID_LIST = jsonTable("s BIGINT UNSIGNED PATH '$[0]', c VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$[1]'");
/** [work item, user, group or peer, from (exclusive), to (inclusive)]: a conversation's mids in a range. */
const RANGE_LIST = jsonTable("i INT PATH '$[0]', u BIGINT UNSIGNED PATH '$[1]', c BIGINT UNSIGNED PATH '$[2]', lo BIGINT UNSIGNED PATH '$[3]', hi BIGINT UNSIGNED PATH '$[4]'");
/** [read, user, group or peer, mid]: a read request. */
const READ_LIST = jsonTable("i INT PATH '$[0]', u BIGINT UNSIGNED PATH '$[1]', c BIGINT UNSIGNED PATH '$[2]', m BIGINT UNSIGNED PATH '$[3]'");
/** [user, mid]. */
const USER_MID_LIST = jsonTable("u BIGINT UNSIGNED PATH '$[0]', m BIGINT UNSIGNED PATH '$[1]'");

/*
 * A conversation's mids in (x.lo, x.hi]. Joined on `m.group_id = x.c`,
 * MariaDB looks the conversation up by its first key part and tests the mid
 * bounds on every entry of its history (index condition pushdown from the
 * conversation's first message): an ack would cost the whole history. Each
 * key part written as a closed interval instead, the range optimizer runs
 * for each row of x with its values ("Range checked for each record") and
 * reads only the entries in the range. The sender is compared through an
 * expression so that the (sender_id, cid) index is no lookup path either.
 */
const GROUP_RANGE = "m.group_id >= x.c AND m.group_id <= x.c AND m.mid > x.lo AND m.mid <= x.hi";
const DIRECT_RANGE =
  "m.peer_lo >= LEAST(x.u, x.c) AND m.peer_lo <= LEAST(x.u, x.c) AND m.peer_hi >= GREATEST(x.u, x.c) AND m.peer_hi <= GREATEST(x.u, x.c) AND m.mid > x.lo AND m.mid <= x.hi";

/** A locked positions row: as read, and as the batch leaves it. */
interface Position {
  conv: Conv;
  acked: number;
  /** last_in, prev_in, prev2_in: the latest three messages to the user (one-to-one), newest first, 0 for none. */
  recent: [number, number, number];
  changed: boolean;
}

export async function writeBatch(
  conn: Connection,
  messages: NewMessage[],
  acks: AckRequest[],
  reads: ReadRequest[],
  consecutive: boolean,
  /** The conversations of mids stored earlier (the caller adds this batch's once it commits). */
  meta?: MessageMeta,
): Promise<BatchResult> {
  // What each acked mid is: its conversation, for the ack's user (from the writer's memory when it has it).
  const ackedMids = [...new Set(acks.flatMap((a) => a.mids))];
  const party = new Map<number, { sender: number; recipient: number | null; group: number | null }>();
  const unknown: number[] = [];
  for (const mid of ackedMids) {
    const p = meta?.get(mid);
    if (p) party.set(mid, p);
    else unknown.push(mid);
  }
  if (unknown.length > 0)
    for (const r of await queryRows<{ mid: number; sender_id: number; recipient_id: number | null; group_id: number | null }>(
      conn,
      `SELECT m.mid, m.sender_id, m.recipient_id, m.group_id FROM ${MID_LIST} STRAIGHT_JOIN messages m ON m.mid = x.mid`,
      [JSON.stringify(unknown)],
    ))
      party.set(Number(r.mid), { sender: r.sender_id, recipient: r.recipient_id, group: r.group_id });

  /** Per conversation an ack touches: the (ack index, mid) pairs, first ack of a mid only. */
  const touched = new Map<string, { conv: Conv; marks: { ack: number; mid: number }[] }>();
  const seen = new Set<string>();
  acks.forEach((a, i) => {
    for (const mid of a.mids) {
      const m = party.get(mid);
      if (!m || m.sender === a.user) continue; // unknown, or the user's own: never pending for them
      if (m.group == null && m.recipient !== a.user) continue; // someone else's one-to-one message
      const once = `${a.user}:${mid}`;
      if (seen.has(once)) continue;
      seen.add(once);
      const conv = m.group != null ? { user: a.user, group: m.group, peer: 0 } : { user: a.user, group: 0, peer: m.sender };
      const key = convKey(conv);
      let t = touched.get(key);
      if (!t) touched.set(key, (t = { conv, marks: [] }));
      t.marks.push({ ack: i, mid });
    }
  });

  // The locks, groups first, then positions, each in key order.
  const groups = new Set<number>();
  for (const m of messages) if (m.group != null) groups.add(m.group);
  for (const t of touched.values()) if (t.conv.group > 0) groups.add(t.conv.group);
  for (const r of reads) if (r.group > 0) groups.add(r.group);
  const liveGroups = new Set<number>();
  if (groups.size > 0)
    for (const r of await queryRows<{ id: number }>(conn, `SELECT g.id FROM ${ID_LIST} STRAIGHT_JOIN chat_groups g ON g.id = x.id ORDER BY g.id FOR UPDATE`, [
      JSON.stringify([...groups].sort((a, b) => a - b)),
    ]))
      liveGroups.add(Number(r.id));
  const lockRows = new Map<string, Conv>();
  for (const t of touched.values()) lockRows.set(convKey(t.conv), t.conv);
  for (const r of reads) lockRows.set(convKey(r), { user: r.user, group: r.group, peer: r.peer });
  for (const m of messages)
    if (m.to != null) {
      const c = { user: m.to, group: 0, peer: m.from };
      lockRows.set(convKey(c), c);
    }
  const positions = new Map<string, Position>();
  const readAt = new Map<string, number>();
  if (lockRows.size > 0) {
    const keys = [...lockRows.values()].sort(byKey);
    for (const r of await queryRows<{ user_id: number; group_id: number; peer_id: number; acked_upto: number; read_upto: number; last_in: number; prev_in: number; prev2_in: number }>(
      conn,
      `SELECT s.user_id, s.group_id, s.peer_id, s.acked_upto, s.read_upto, s.last_in, s.prev_in, s.prev2_in FROM ${CONV_LIST}
       STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p FOR UPDATE`,
      [JSON.stringify(keys.map((k) => [k.user, k.group, k.peer]))],
    ))
    {
      const conv = { user: r.user_id, group: r.group_id, peer: r.peer_id };
      const key = convKey(conv);
      const recent: [number, number, number] = [Number(r.last_in), Number(r.prev_in), Number(r.prev2_in)];
      positions.set(key, { conv, acked: Number(r.acked_upto), recent, changed: false });
      readAt.set(key, Number(r.read_upto));
    }
  }

  // A message to a group deleted meanwhile (the sender's session had not heard yet) is not stored: its group lock found no row.
  const storable = (m: NewMessage) => m.group == null || liveGroups.has(m.group);
  const inserted = await insertMessages(conn, messages.filter(storable), consecutive);
  let next = 0;
  const stored = messages.map((m): StoredMessage => (storable(m) ? (inserted[next++] as StoredMessage) : { mid: 0, ts: m.ts, duplicate: false, groupGone: true }));
  // The recipients' latest three, in mid order (a batch may hold several messages of one conversation).
  const fresh = messages.map((m, i) => ({ m, s: stored[i] as StoredMessage })).filter((x) => !x.s.duplicate && !x.s.groupGone);
  fresh.sort((a, b) => a.s.mid - b.s.mid);
  for (const { m, s } of fresh) {
    if (m.to == null) continue;
    const p = positions.get(convKey({ user: m.to, group: 0, peer: m.from }));
    if (!p || s.mid <= p.recent[0]) continue;
    p.recent = [s.mid, p.recent[0], p.recent[1]];
    p.changed = true;
  }
  const acked = await applyAcks(conn, acks.length, [...touched.values()], positions);
  const changed = [...positions.values()].filter((p) => p.changed);
  if (changed.length > 0)
    await queryExec(
      conn,
      `UPDATE ${ROW_LIST} STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p
       SET s.acked_upto = x.t, s.last_in = x.l, s.prev_in = x.v, s.prev2_in = x.w`,
      [JSON.stringify(changed.map((p) => [p.conv.user, p.conv.group, p.conv.peer, p.acked, ...p.recent]))],
    );
  const read = await applyReads(conn, reads, readAt);
  return { messages: stored, acked, reads: read };
}

/**
 * Moves read positions forward to the largest mid of the conversation at
 * most the one given; a read message is delivered too, so acked_upto follows
 * and the acks above it that it covers go. A conversation without a
 * positions row is not the user's: its read stays 0.
 */
async function applyReads(conn: Connection, reads: ReadRequest[], readAt: Map<string, number>): Promise<ReadResult[]> {
  if (reads.length === 0) return [];
  const top = new Map<number, number>();
  const groupReads = reads.map((r, i) => [i, r.user, r.group, r.mid] as const).filter((r) => r[2] > 0);
  const directReads = reads.map((r, i) => [i, r.user, r.peer, r.mid] as const).filter((_, i) => (reads[i] as ReadRequest).group === 0);
  if (groupReads.length > 0)
    for (const r of await queryRows<{ i: number; top: number | null }>(
      conn,
      // Not MAX(): in a dependent subquery MariaDB computes it over the group's whole history; this reads back from the latest.
      `SELECT x.i, (SELECT m.mid FROM messages m WHERE m.group_id = x.c AND m.mid <= x.m ORDER BY m.mid DESC LIMIT 1) AS top FROM ${READ_LIST}`,
      [JSON.stringify(groupReads)],
    ))
      top.set(r.i, Number(r.top ?? 0));
  if (directReads.length > 0)
    for (const r of await queryRows<{ i: number; top: number | null }>(
      conn,
      `SELECT x.i, (SELECT m.mid FROM messages m WHERE m.peer_lo = LEAST(x.u, x.c) AND m.peer_hi = GREATEST(x.u, x.c) AND m.mid <= x.m ORDER BY m.mid DESC LIMIT 1) AS top FROM ${READ_LIST}`,
      [JSON.stringify(directReads)],
    ))
      top.set(r.i, Number(r.top ?? 0));

  const results: ReadResult[] = [];
  const moved = new Map<string, [u: number, g: number, p: number, r: number]>();
  reads.forEach((r, i) => {
    const key = convKey(r);
    const at = readAt.get(key);
    if (at === undefined) return void results.push({ read: 0, moved: false });
    const to = Math.max(at, top.get(i) ?? 0);
    results.push({ read: to, moved: to > at });
    if (to > at) {
      readAt.set(key, to); // a second read of the batch starts from here
      moved.set(key, [r.user, r.group, r.peer, to]);
    }
  });
  if (moved.size > 0) {
    const list = JSON.stringify([...moved.values()]);
    await queryExec(
      conn,
      `UPDATE ${MOVE_LIST} STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p
       SET s.read_upto = x.t, s.acked_upto = GREATEST(s.acked_upto, x.t)`,
      [list],
    );
    await queryExec(
      conn,
      `DELETE a FROM ${MOVE_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid <= x.t
       JOIN messages m ON m.mid = a.mid AND ((x.g > 0 AND m.group_id = x.g) OR (x.g = 0 AND m.peer_lo = LEAST(x.u, x.p) AND m.peer_hi = GREATEST(x.u, x.p)))`,
      [list],
    );
  }
  return results;
}

/**
 * Inserts the messages that are new: a message whose sender already has one
 * with its cid (stored earlier, or earlier in this batch) is answered with
 * that one. A cid stored by another node at the same moment makes the INSERT
 * fail with a duplicate key; the caller's retry then finds it stored.
 */
async function insertMessages(conn: Connection, batch: NewMessage[], consecutive: boolean): Promise<StoredMessage[]> {
  const out: (StoredMessage | undefined)[] = batch.map(() => undefined);
  const withCid = batch.filter((m) => m.cid !== undefined);
  const known = new Map<string, StoredMessage>();
  const cidKey = (sender: number, cid: string) => `${sender}\u0000${cid}`;
  if (withCid.length > 0)
    for (const r of await queryRows<{ sender_id: number; cid: string; mid: number; ts: number }>(
      conn,
      `SELECT m.sender_id, m.cid, m.mid, m.ts FROM ${CID_LIST}
       STRAIGHT_JOIN messages m ON m.sender_id = x.s AND m.cid = x.c`,
      [JSON.stringify(withCid.map((m) => [m.from, m.cid]))],
    ))
      known.set(cidKey(r.sender_id, r.cid), { mid: Number(r.mid), ts: Number(r.ts), duplicate: true });

  const fresh: { i: number; m: NewMessage }[] = [];
  const firstOfCid = new Map<string, number>(); // cid key -> index in batch of its first new message
  batch.forEach((m, i) => {
    if (m.cid === undefined) return void fresh.push({ i, m });
    const key = cidKey(m.from, m.cid);
    const old = known.get(key);
    if (old) return void (out[i] = old);
    if (firstOfCid.has(key)) return; // filled in below from the first one
    firstOfCid.set(key, i);
    fresh.push({ i, m });
  });

  if (fresh.length > 0) {
    const values = (m: NewMessage) => [
      m.from,
      m.to ?? null,
      m.group ?? null,
      m.to != null ? Math.min(m.from, m.to) : null,
      m.to != null ? Math.max(m.from, m.to) : null,
      m.text,
      m.ts,
      m.cid ?? null,
    ];
    const insert = "INSERT INTO messages (sender_id, recipient_id, group_id, peer_lo, peer_hi, body, ts, cid) VALUES ";
    const row = "(?,?,?,?,?,?,?,?)";
    if (consecutive) {
      // One multi-row INSERT gets consecutive ids (InnoDB autoinc lock mode 0 or 1).
      const params: unknown[] = [];
      for (const f of fresh) params.push(...values(f.m));
      const r = await queryExec(conn, insert + `${row},`.repeat(fresh.length - 1) + row, params);
      fresh.forEach((f, k) => (out[f.i] = { mid: r.insertId + k, ts: f.m.ts, duplicate: false }));
    } else for (const f of fresh) out[f.i] = { mid: (await queryExec(conn, insert + row, values(f.m))).insertId, ts: f.m.ts, duplicate: false };
  }
  batch.forEach((m, i) => {
    if (out[i] || m.cid === undefined) return;
    const first = out[firstOfCid.get(cidKey(m.from, m.cid)) as number] as StoredMessage;
    out[i] = { mid: first.mid, ts: first.ts, duplicate: true };
  });
  return out as StoredMessage[];
}

/**
 * Moves each touched conversation's position (in `positions`, written by the
 * caller) over the mids now acked, as far as they join up; the rest wait in
 * acked_above. A conversation without a positions row is not the user's (a
 * group they left): its acks count nothing.
 */
async function applyAcks(
  conn: Connection,
  nAcks: number,
  touched: { conv: Conv; marks: { ack: number; mid: number }[] }[],
  positions: Map<string, Position>,
): Promise<number[]> {
  const counts = new Array<number>(nAcks).fill(0);
  const work = touched
    .map((t, id) => {
      const pos = positions.get(convKey(t.conv));
      const at = pos?.acked ?? 0;
      const marks = pos === undefined ? [] : t.marks.filter((k) => k.mid > at);
      return { id, conv: t.conv, pos, at, marks, hi: Math.max(0, ...marks.map((k) => k.mid)) };
    })
    .filter((w) => {
      if (w.marks.length === 0 || !w.pos) return false;
      const to = w.conv.group === 0 ? ackedPrefix(w.pos, w.marks) : undefined;
      if (to === undefined) return true;
      for (const k of w.marks) counts[k.ack]! += 1;
      w.pos.acked = to;
      w.pos.changed = true;
      return false;
    });
  if (work.length === 0) return counts;

  // The conversation's messages to the user in (position, highest acked], and the acks already above the position.
  const ranges = JSON.stringify(work.map((w) => [w.id, w.conv.user, w.conv.group || w.conv.peer, w.at, w.hi]));
  const inRange = new Map<number, number[]>();
  const add = (i: number, mid: number) => {
    let l = inRange.get(i);
    if (!l) inRange.set(i, (l = []));
    l.push(Number(mid));
  };
  const groupWork = work.filter((w) => w.conv.group > 0);
  const directWork = work.filter((w) => w.conv.group === 0);
  if (groupWork.length > 0)
    for (const r of await queryRows<{ i: number; mid: number }>(
      conn,
      `SELECT x.i, m.mid FROM ${RANGE_LIST} STRAIGHT_JOIN messages m ON ${GROUP_RANGE} AND m.sender_id <> x.u`,
      [JSON.stringify(groupWork.map((w) => [w.id, w.conv.user, w.conv.group, w.at, w.hi]))],
    ))
      add(r.i, r.mid);
  if (directWork.length > 0)
    for (const r of await queryRows<{ i: number; mid: number }>(
      conn,
      `SELECT x.i, m.mid FROM ${RANGE_LIST} STRAIGHT_JOIN messages m ON ${DIRECT_RANGE} AND m.sender_id + 0 = x.c`,
      [JSON.stringify(directWork.map((w) => [w.id, w.conv.user, w.conv.peer, w.at, w.hi]))],
    ))
      add(r.i, r.mid);
  const above = new Map<number, Set<number>>();
  for (const r of await queryRows<{ i: number; mid: number }>(
    conn,
    `SELECT x.i, a.mid FROM ${RANGE_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid > x.lo AND a.mid <= x.hi`,
    [ranges],
  )) {
    let s = above.get(r.i);
    if (!s) above.set(r.i, (s = new Set()));
    s.add(Number(r.mid));
  }

  const drop: [u: number, mid: number][] = [];
  const keep: [u: number, mid: number][] = [];
  for (const w of work) {
    const mids = (inRange.get(w.id) ?? []).sort((a, b) => a - b);
    const isMessage = new Set(mids);
    const before = above.get(w.id) ?? new Set<number>();
    const now = new Set<number>();
    for (const k of w.marks)
      if (isMessage.has(k.mid) && !before.has(k.mid)) {
        counts[k.ack] = (counts[k.ack] as number) + 1;
        now.add(k.mid);
      }
    let to = w.at;
    for (const mid of mids) {
      if (!now.has(mid) && !before.has(mid)) break;
      to = mid;
    }
    if (to > w.at && w.pos) {
      w.pos.acked = to;
      w.pos.changed = true;
    }
    for (const mid of before) if (mid <= to && isMessage.has(mid)) drop.push([w.conv.user, mid]);
    for (const mid of now) if (mid > to) keep.push([w.conv.user, mid]);
  }
  if (drop.length > 0)
    await queryExec(
      conn,
      `DELETE a FROM ${USER_MID_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid = x.m`,
      [JSON.stringify(drop)],
    );
  if (keep.length > 0) await queryExec(conn, "INSERT IGNORE INTO acked_above (user_id, mid) VALUES " + "(?,?),".repeat(keep.length - 1) + "(?,?)", keep.flat());
  return counts;
}

/**
 * One-to-one: when the row's latest three reach down to its position (one of
 * them at or below acked_upto, or 0), those above it are every message pending
 * for the user in the conversation. If the acked mids (all above the position,
 * each once) are the oldest of them, the position moves to the newest acked:
 * the new acked_upto. Otherwise (a hole, or more pending than the three show)
 * undefined: the caller reads the conversation.
 */
function ackedPrefix(pos: Position, marks: { mid: number }[]): number | undefined {
  const above = pos.recent.filter((mid) => mid > pos.acked);
  if (above.length === pos.recent.length) return undefined; // the oldest of the three is above the position: more may be pending
  above.reverse(); // oldest first
  if (marks.length > above.length) return undefined;
  const acked = new Set(marks.map((k) => k.mid));
  for (let i = 0; i < marks.length; i++) if (!acked.has(above[i] as number)) return undefined;
  return above[marks.length - 1];
}

/** A duplicate key on the messages' cid: another node stored that cid just now. */
export function isCidRace(e: unknown): boolean {
  return isDuplicate(e) && /messages_cid/.test((e as Error).message ?? "");
}
