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
import type { ResultSetHeader } from "mysql2/promise";
import { type Connection, isDuplicate } from "./db.ts";
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
/** [user, group, peer, acked_upto, last_in, prev_in, prev2_in]: a positions row as the batch leaves it (a mid below 0: one of this batch's, see NEW). */
const ROW_LIST = jsonTable(
  "u BIGINT UNSIGNED PATH '$[0]', g BIGINT UNSIGNED PATH '$[1]', p BIGINT UNSIGNED PATH '$[2]', t BIGINT UNSIGNED PATH '$[3]', l BIGINT PATH '$[4]', v BIGINT PATH '$[5]', w BIGINT PATH '$[6]'",
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
  const trips = new RoundTrips(conn);
  try {
    return await writeBatchIn(trips, messages, acks, reads, consecutive, meta);
  } catch (e) {
    await trips.rollback();
    throw e;
  }
}

async function writeBatchIn(
  trips: RoundTrips,
  messages: NewMessage[],
  acks: AckRequest[],
  reads: ReadRequest[],
  consecutive: boolean,
  meta: MessageMeta | undefined,
): Promise<BatchResult> {
  // What each acked mid is: its conversation, for the ack's user (from the writer's memory when it has it).
  const party = new Map<number, { sender: number; recipient: number | null; group: number | null } | undefined>();
  const unknown: number[] = [];
  for (const a of acks)
    for (const mid of a.mids) {
      if (party.has(mid)) continue;
      const p = meta?.get(mid);
      party.set(mid, p);
      if (!p) unknown.push(mid);
    }
  if (unknown.length > 0) {
    const [found] = await trips.send<{ mid: number; sender_id: number; recipient_id: number | null; group_id: number | null }>([
      { sql: `SELECT m.mid, m.sender_id, m.recipient_id, m.group_id FROM ${MID_LIST} STRAIGHT_JOIN messages m ON m.mid = x.mid`, params: [JSON.stringify(unknown)] },
    ]);
    for (const r of found ?? []) party.set(Number(r.mid), { sender: r.sender_id, recipient: r.recipient_id, group: r.group_id });
  }

  /** Per conversation an ack touches: the (ack index, mid) pairs, first ack of a mid only. */
  const touched = new Map<string, { conv: Conv; marks: { ack: number; mid: number }[] }>();
  const seen = new Map<number, Set<number>>(); // user -> mids of theirs counted already
  acks.forEach((a, i) => {
    let mine = seen.get(a.user);
    if (!mine) seen.set(a.user, (mine = new Set()));
    for (const mid of a.mids) {
      const m = party.get(mid);
      if (!m || m.sender === a.user) continue; // unknown, or the user's own: never pending for them
      if (m.group == null && m.recipient !== a.user) continue; // someone else's one-to-one message
      if (mine.has(mid)) continue;
      mine.add(mid);
      const conv = m.group != null ? { user: a.user, group: m.group, peer: 0 } : { user: a.user, group: 0, peer: m.sender };
      const key = convKey(conv);
      let t = touched.get(key);
      if (!t) touched.set(key, (t = { conv, marks: [] }));
      t.marks.push({ ack: i, mid });
    }
  });

  // The locks, groups first, then positions, each in key order, and the senders' earlier cids: one round trip.
  const groups = new Set<number>();
  for (const m of messages) if (m.group != null) groups.add(m.group);
  for (const t of touched.values()) if (t.conv.group > 0) groups.add(t.conv.group);
  for (const r of reads) if (r.group > 0) groups.add(r.group);
  const lockRows = new Map<string, Conv>();
  for (const [key, t] of touched) lockRows.set(key, t.conv);
  for (const r of reads) lockRows.set(convKey(r), { user: r.user, group: r.group, peer: r.peer });
  /** Per message, the key of its recipient's positions row (one-to-one). */
  const rowOf = messages.map((m) => {
    if (m.to == null) return undefined;
    const c = { user: m.to, group: 0, peer: m.from };
    const key = convKey(c);
    if (!lockRows.has(key)) lockRows.set(key, c);
    return key;
  });
  const withCid = messages.filter((m) => m.cid !== undefined);
  const first: Statement[] = [];
  if (groups.size > 0)
    first.push({
      sql: `SELECT g.id FROM ${ID_LIST} STRAIGHT_JOIN chat_groups g ON g.id = x.id ORDER BY g.id FOR UPDATE`,
      params: [JSON.stringify([...groups].sort((a, b) => a - b))],
    });
  if (lockRows.size > 0)
    first.push({
      sql: `SELECT s.user_id, s.group_id, s.peer_id, s.acked_upto, s.read_upto, s.last_in, s.prev_in, s.prev2_in FROM ${CONV_LIST}
       STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p FOR UPDATE`,
      params: [JSON.stringify([...lockRows.values()].sort(byKey).map((k) => [k.user, k.group, k.peer]))],
    });
  if (withCid.length > 0)
    first.push({
      sql: `SELECT m.sender_id, m.cid, m.mid, m.ts FROM ${CID_LIST} STRAIGHT_JOIN messages m ON m.sender_id = x.s AND m.cid = x.c`,
      params: [JSON.stringify(withCid.map((m) => [m.from, m.cid]))],
    });
  const answers = first.length > 0 ? await trips.send(first) : [];
  let at = 0;
  const liveGroups = new Set<number>();
  if (groups.size > 0) for (const r of answers[at++] as { id: number }[]) liveGroups.add(Number(r.id));
  const positions = new Map<string, Position>();
  const readAt = new Map<string, number>();
  if (lockRows.size > 0)
    for (const r of answers[at++] as { user_id: number; group_id: number; peer_id: number; acked_upto: number; read_upto: number; last_in: number; prev_in: number; prev2_in: number }[]) {
      const conv = { user: r.user_id, group: r.group_id, peer: r.peer_id };
      const key = convKey(conv);
      const recent: [number, number, number] = [Number(r.last_in), Number(r.prev_in), Number(r.prev2_in)];
      positions.set(key, { conv, acked: Number(r.acked_upto), recent, changed: false });
      readAt.set(key, Number(r.read_upto));
    }
  const earlier = withCid.length > 0 ? (answers[at++] as { sender_id: number; cid: string; mid: number; ts: number }[]) : [];

  // A message to a group deleted meanwhile (the sender's session had not heard yet) is not stored: its group lock found no row.
  const storable = (m: NewMessage) => m.group == null || liveGroups.has(m.group);
  const insert = planInsert(messages.filter(storable), earlier);
  if (!consecutive) await insert.oneByOne(trips);
  let next = 0;
  const stored = messages.map((m): StoredMessage => (storable(m) ? (insert.out[next++] as StoredMessage) : { mid: 0, ts: m.ts, duplicate: false, groupGone: true }));
  // The recipients' latest three (a batch may hold several messages of one conversation): the new
  // messages' mids rise in batch order, as the INSERT gives them out (or the INSERTs, one by one).
  stored.forEach((s, i) => {
    const key = rowOf[i];
    if (key === undefined || s.duplicate || s.groupGone) return;
    const p = positions.get(key);
    if (!p || s.mid <= p.recent[0]) return;
    p.recent = [s.mid, p.recent[0], p.recent[1]];
    p.changed = true;
  });
  const { acked, writes: ackWrites } = await applyAcks(trips, acks.length, [...touched.values()], positions);
  const { results: read, writes: readWrites } = await applyReads(trips, reads, readAt);

  // Everything that is only written goes in the last round trip, with the COMMIT.
  const last: Statement[] = [];
  const insertAt = consecutive && insert.rows > 0 ? last.push(insert.statement()) - 1 : -1;
  const changed = [...positions.values()].filter((p) => p.changed);
  if (changed.length > 0)
    last.push({
      // A mid of this batch's INSERT goes in as -(its place + 1): LAST_INSERT_ID() is the INSERT's first id.
      sql: `UPDATE ${ROW_LIST} STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p
       SET s.acked_upto = x.t, s.last_in = ${fromInsert("x.l")}, s.prev_in = ${fromInsert("x.v")}, s.prev2_in = ${fromInsert("x.w")}`,
      params: [JSON.stringify(changed.map((p) => [p.conv.user, p.conv.group, p.conv.peer, p.acked, ...p.recent.map(placeOfNew)]))],
    });
  last.push(...ackWrites, ...readWrites, { sql: "COMMIT", params: [] });
  const done = await trips.send(last);
  if (insertAt >= 0) insert.stored((done[insertAt] as unknown as ResultSetHeader).insertId);
  return { messages: stored, acked, reads: read };
}

/**
 * Statements sent together, on a connection that takes several per query
 * (multipleStatements): a batch is a few round trips instead of one per
 * statement, and MariaDB runs them while the server answers the last batch.
 * The first round trip begins the transaction.
 */
interface Statement {
  sql: string;
  params: unknown[];
}

class RoundTrips {
  readonly #conn: Connection;
  #begun = false;

  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** Runs `statements` in one round trip: each one's rows (or header), in order. */
  async send<Row = unknown>(statements: Statement[]): Promise<Row[][]> {
    const all = this.#begun ? statements : [{ sql: "BEGIN", params: [] }, ...statements];
    this.#begun = true;
    const [r] = await this.#conn.query(
      all.map((s) => s.sql).join(";\n"),
      all.flatMap((s) => s.params),
    );
    const each = (all.length === 1 ? [r] : r) as unknown as Row[][];
    return all === statements ? each : each.slice(1);
  }

  /** After a failure: the transaction is rolled back, or the connection closed (which rolls it back) when even that fails. */
  async rollback(): Promise<void> {
    if (!this.#begun) return;
    try {
      await this.#conn.query("ROLLBACK");
    } catch {
      this.#conn.destroy();
    }
  }
}

/**
 * This batch's new mids before its INSERT has run: NEW + the message's place
 * in the INSERT, above every real mid, so that they sort after every stored
 * message. The UPDATE that follows the INSERT in the same round trip turns
 * them into LAST_INSERT_ID() + place.
 */
const NEW = 2 ** 52;
const placeOfNew = (mid: number) => (mid >= NEW ? -(mid - NEW) - 1 : mid);
const fromInsert = (column: string) => `IF(${column} < 0, LAST_INSERT_ID() - 1 - ${column}, ${column})`;

/**
 * Moves read positions forward to the largest mid of the conversation at
 * most the one given; a read message is delivered too, so acked_upto follows
 * and the acks above it that it covers go. A conversation without a
 * positions row is not the user's: its read stays 0.
 */
async function applyReads(trips: RoundTrips, reads: ReadRequest[], readAt: Map<string, number>): Promise<{ results: ReadResult[]; writes: Statement[] }> {
  if (reads.length === 0) return { results: [], writes: [] };
  const top = new Map<number, number>();
  const groupReads = reads.map((r, i) => [i, r.user, r.group, r.mid] as const).filter((r) => r[2] > 0);
  const directReads = reads.map((r, i) => [i, r.user, r.peer, r.mid] as const).filter((_, i) => (reads[i] as ReadRequest).group === 0);
  const lookups: Statement[] = [];
  if (groupReads.length > 0)
    lookups.push({
      // Not MAX(): in a dependent subquery MariaDB computes it over the group's whole history; this reads back from the latest.
      sql: `SELECT x.i, (SELECT m.mid FROM messages m WHERE m.group_id = x.c AND m.mid <= x.m ORDER BY m.mid DESC LIMIT 1) AS top FROM ${READ_LIST}`,
      params: [JSON.stringify(groupReads)],
    });
  if (directReads.length > 0)
    lookups.push({
      sql: `SELECT x.i, (SELECT m.mid FROM messages m WHERE m.peer_lo = LEAST(x.u, x.c) AND m.peer_hi = GREATEST(x.u, x.c) AND m.mid <= x.m ORDER BY m.mid DESC LIMIT 1) AS top FROM ${READ_LIST}`,
      params: [JSON.stringify(directReads)],
    });
  // This batch's own new messages are never below a mid the reader has seen: reading before the INSERT finds the same.
  for (const rows of await trips.send<{ i: number; top: number | null }>(lookups)) for (const r of rows) top.set(r.i, Number(r.top ?? 0));

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
  if (moved.size === 0) return { results, writes: [] };
  const list = JSON.stringify([...moved.values()]);
  return {
    results,
    // After the batch's positions UPDATE: acked_upto only moves up.
    writes: [
      {
        sql: `UPDATE ${MOVE_LIST} STRAIGHT_JOIN positions s ON s.user_id = x.u AND s.group_id = x.g AND s.peer_id = x.p
       SET s.read_upto = x.t, s.acked_upto = GREATEST(s.acked_upto, x.t)`,
        params: [list],
      },
      {
        sql: `DELETE a FROM ${MOVE_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid <= x.t
       JOIN messages m ON m.mid = a.mid AND ((x.g > 0 AND m.group_id = x.g) OR (x.g = 0 AND m.peer_lo = LEAST(x.u, x.p) AND m.peer_hi = GREATEST(x.u, x.p)))`,
        params: [list],
      },
    ],
  };
}

/**
 * The messages that are new, and their INSERT: a message whose sender
 * already has one with its cid (stored earlier: `earlier`, or earlier in this
 * batch) is answered with that one. A cid stored by another node at the same
 * moment makes the INSERT fail with a duplicate key; the caller's retry then
 * finds it stored. Until the INSERT has run, a new message's mid is NEW + its
 * place in it.
 */
function planInsert(batch: NewMessage[], earlier: { sender_id: number; cid: string; mid: number; ts: number }[]) {
  const out: StoredMessage[] = [];
  const cidKey = (sender: number, cid: string) => `${sender}\u0000${cid}`;
  const known = new Map<string, StoredMessage>();
  for (const r of earlier) known.set(cidKey(r.sender_id, r.cid), { mid: Number(r.mid), ts: Number(r.ts), duplicate: true });
  const fresh: NewMessage[] = [];
  const firstOfCid = new Map<string, StoredMessage>(); // cid key -> the batch's first new message with it
  for (const m of batch) {
    const key = m.cid === undefined ? undefined : cidKey(m.from, m.cid);
    const old = key === undefined ? undefined : (known.get(key) ?? firstOfCid.get(key));
    if (old) {
      out.push({ mid: old.mid, ts: old.ts, duplicate: true });
      continue;
    }
    const s: StoredMessage = { mid: NEW + fresh.length, ts: m.ts, duplicate: false };
    fresh.push(m);
    out.push(s);
    if (key !== undefined) firstOfCid.set(key, s);
  }
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
  const resolve = (real: (place: number) => number) => {
    for (const s of out) if (s.mid >= NEW) s.mid = real(s.mid - NEW);
  };
  return {
    /** Per message of `batch`: its result (mids of new ones NEW + place until the INSERT has run). */
    out,
    rows: fresh.length,
    /** One multi-row INSERT: consecutive ids (InnoDB autoinc lock mode 0 or 1). */
    statement(): Statement {
      const params: unknown[] = [];
      for (const m of fresh) for (const v of values(m)) params.push(v);
      return { sql: insert + `${row},`.repeat(fresh.length - 1) + row, params };
    },
    /** The multi-row INSERT ran: its first id. */
    stored: (insertId: number) => resolve((place) => insertId + place),
    /** Ids not consecutive: one INSERT per message, now, each with its own id. */
    async oneByOne(trips: RoundTrips) {
      const ids: number[] = [];
      for (const m of fresh) ids.push(((await trips.send([{ sql: insert + row, params: values(m) }]))[0] as unknown as ResultSetHeader).insertId);
      resolve((place) => ids[place] as number);
    },
  };
}

/**
 * Moves each touched conversation's position (in `positions`, written by the
 * caller) over the mids now acked, as far as they join up; the rest wait in
 * acked_above. A conversation without a positions row is not the user's (a
 * group they left): its acks count nothing.
 */
async function applyAcks(
  trips: RoundTrips,
  nAcks: number,
  touched: { conv: Conv; marks: { ack: number; mid: number }[] }[],
  positions: Map<string, Position>,
): Promise<{ acked: number[]; writes: Statement[] }> {
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
  if (work.length === 0) return { acked: counts, writes: [] };

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
  const lookups: Statement[] = [];
  if (groupWork.length > 0)
    lookups.push({
      sql: `SELECT x.i, m.mid FROM ${RANGE_LIST} STRAIGHT_JOIN messages m ON ${GROUP_RANGE} AND m.sender_id <> x.u`,
      params: [JSON.stringify(groupWork.map((w) => [w.id, w.conv.user, w.conv.group, w.at, w.hi]))],
    });
  if (directWork.length > 0)
    lookups.push({
      sql: `SELECT x.i, m.mid FROM ${RANGE_LIST} STRAIGHT_JOIN messages m ON ${DIRECT_RANGE} AND m.sender_id + 0 = x.c`,
      params: [JSON.stringify(directWork.map((w) => [w.id, w.conv.user, w.conv.peer, w.at, w.hi]))],
    });
  lookups.push({ sql: `SELECT x.i, a.mid FROM ${RANGE_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid > x.lo AND a.mid <= x.hi`, params: [ranges] });
  const found = await trips.send<{ i: number; mid: number }>(lookups);
  for (const r of found.slice(0, -1).flat()) add(r.i, r.mid);
  const above = new Map<number, Set<number>>();
  for (const r of found[found.length - 1] as { i: number; mid: number }[]) {
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
  const writes: Statement[] = [];
  if (drop.length > 0)
    writes.push({ sql: `DELETE a FROM ${USER_MID_LIST} STRAIGHT_JOIN acked_above a ON a.user_id = x.u AND a.mid = x.m`, params: [JSON.stringify(drop)] });
  if (keep.length > 0) writes.push({ sql: "INSERT IGNORE INTO acked_above (user_id, mid) VALUES " + "(?,?),".repeat(keep.length - 1) + "(?,?)", params: keep.flat() });
  return { acked: counts, writes };
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
