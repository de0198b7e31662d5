/**
 * The conversations benchmark's data, written with SQL (registering 500
 * friends and 200 groups through the protocol would take longer than the
 * measurement): one user with `friends` friends and `groups` groups, every
 * conversation with `messages` messages, and the delivery and read positions
 * the server would have kept for them (sql/002_positions.sql), so that some
 * conversations are read, some have unread messages and some have messages
 * still pending.
 *
 * Mids go round by round over the conversations (message r of every
 * conversation, then message r + 1), so that every conversation's last
 * message is recent and the list's order interleaves friends and groups.
 */
import mysql from "mysql2/promise";

export interface SeedOptions {
  friends: number;
  groups: number;
  /** messages per conversation */
  messages: number;
  /** members of each group besides the user (taken from the friends, round robin) */
  groupMembers: number;
  /** every `unreadEvery`-th conversation has `unread` unread messages, of which `pending` are not delivered yet */
  unreadEvery: number;
  unread: number;
  pending: number;
  /** a PHC argon2id string for the password every user gets */
  passwordHash: string;
}

export interface Seeded {
  user: { id: number; name: string };
  conversations: number;
  messages: number;
  /** what the server should answer: the login reply's `unread` and `pending` */
  unread: number;
  pending: number;
  ms: number;
}

const CHUNK = 2000;

async function insertRows(db: mysql.Connection, head: string, rows: unknown[][]) {
  for (let i = 0; i < rows.length; i += CHUNK) await db.query(`${head} VALUES ?`, [rows.slice(i, i + CHUNK)]);
}

export async function seed(db: mysql.Connection, o: SeedOptions): Promise<Seeded> {
  const t0 = performance.now();
  const now = Date.now();
  const names = ["conv_me", ...Array.from({ length: o.friends }, (_, i) => `conv_f${i}`)];
  await insertRows(
    db,
    "INSERT INTO users (name, password_hash, created_at)",
    names.map((n) => [n, o.passwordHash, now]),
  );
  const [users] = (await db.query("SELECT id, name FROM users WHERE name IN (?)", [names])) as unknown as [{ id: number; name: string }[]];
  const idOf = new Map(users.map((u) => [u.name, Number(u.id)]));
  const me = idOf.get("conv_me")!;
  const friends = names.slice(1).map((n) => idOf.get(n)!);

  await insertRows(
    db,
    "INSERT INTO friends (user_id, friend_id, created_at)",
    friends.flatMap((f) => [
      [me, f, now],
      [f, me, now],
    ]),
  );
  await insertRows(
    db,
    "INSERT INTO chat_groups (name, description, creator_id, created_at)",
    Array.from({ length: o.groups }, (_, k) => [`conv_g${k}`, "conversations benchmark", me, now]),
  );
  const [gs] = (await db.query("SELECT id, name FROM chat_groups WHERE name LIKE 'conv\\_g%' ORDER BY id")) as unknown as [{ id: number; name: string }[]];
  const groups = gs.map((g) => Number(g.id));
  const membersOf = groups.map((_, k) => Array.from({ length: Math.min(o.groupMembers, friends.length) }, (_, j) => friends[(k * o.groupMembers + j) % friends.length]!));
  await insertRows(
    db,
    "INSERT INTO group_members (group_id, user_id, role, joined_at)",
    groups.flatMap((g, k) => [[g, me, "creator", now], ...membersOf[k]!.map((u) => [g, u, "normal", now])]),
  );

  // Conversations: friends first, then groups; message r of conversation c has mid base + r * n + c.
  type Conv = { group: number; peer: number; members: number[] };
  const convs: Conv[] = [
    ...friends.map((f) => ({ group: 0, peer: f, members: [f] })),
    ...groups.map((g, k) => ({ group: g, peer: 0, members: membersOf[k]! })),
  ];
  const n = convs.length;
  const [[top]] = (await db.query("SELECT COALESCE(MAX(mid), 0) AS top FROM messages")) as unknown as [[{ top: number }]];
  const base = Number(top!.top) + 1;
  const midOf = (c: number, r: number) => base + r * n + c;
  const rows: unknown[][] = [];
  for (let r = 0; r < o.messages; r++)
    for (let c = 0; c < n; c++) {
      const conv = convs[c]!;
      // Alternately the user and the other side (a group's members in turn); the last one from the other side, so it can be unread.
      const fromMe = (o.messages - 1 - r) % 2 === 1;
      const other = conv.members[r % conv.members.length]!;
      const from = fromMe ? me : other;
      const ts = now - (o.messages - r) * 60_000;
      const text = `message ${r} of conversation ${c}`;
      if (conv.group > 0) rows.push([midOf(c, r), from, null, conv.group, null, null, text, ts]);
      else {
        const to = fromMe ? conv.peer : me;
        rows.push([midOf(c, r), from, to, null, Math.min(from, to), Math.max(from, to), text, ts]);
      }
    }
  await insertRows(db, "INSERT INTO messages (mid, sender_id, recipient_id, group_id, peer_lo, peer_hi, body, ts)", rows);

  // Positions. The user: read up to the last message, or `unread` messages short of it (the
  // last of those `pending` not delivered either). Everybody else: read and delivered to the last.
  let unread = 0;
  let pending = 0;
  const fromOthers = (c: number, k: number) => {
    // mids of the last k messages of conversation c that the user did not send
    const out: number[] = [];
    for (let r = o.messages - 1; r >= 0 && out.length < k; r--) if ((o.messages - 1 - r) % 2 === 0) out.push(midOf(c, r));
    return out;
  };
  const positions: unknown[][] = [];
  convs.forEach((conv, c) => {
    const last = midOf(c, o.messages - 1);
    let read = last;
    let acked = last;
    if (o.unread > 0 && c % o.unreadEvery === 0) {
      const theirs = fromOthers(c, o.unread);
      read = theirs[theirs.length - 1]! - 1;
      unread += theirs.length;
      const notDelivered = theirs.slice(0, Math.min(o.pending, theirs.length));
      if (notDelivered.length > 0) {
        acked = notDelivered[notDelivered.length - 1]! - 1;
        // Everything the user was sent above `acked` is pending: count it as the server will.
        pending += fromOthers(c, o.messages).filter((mid) => mid > acked).length;
      }
    }
    positions.push([me, conv.group, conv.peer, acked, read]);
    for (const u of conv.members) positions.push([u, conv.group, conv.group > 0 ? 0 : me, last, last]);
  });
  await insertRows(db, "INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto)", positions);
  return { user: { id: me, name: "conv_me" }, conversations: n, messages: rows.length, unread, pending, ms: Math.round(performance.now() - t0) };
}
