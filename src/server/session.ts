/**
 * A logged-in session: one user on one connection. It caches what the hot
 * path checks (friends, groups) and, while the login's pending messages are
 * being replayed, holds live pushes back so that they come after the replay.
 *
 * It also keeps the protocol's order promise: within one conversation a
 * connection never receives a smaller mid after a larger one. A message that
 * would break it (two nodes committed messages of one conversation at once and
 * their pushes crossed) is not written; it stays pending and arrives at the
 * user's next login. The hub's reorder window makes that rare.
 */
import type { MsgRef } from "../cluster/envelope.ts";

export type { MsgRef };

export interface PushTarget {
  /** Queues one frame (a JSON line with its newline) for the socket. */
  write(line: string): void;
  /** Gives the connection up: its client is too far behind. Its messages stay pending. */
  overflow(): void;
  /** Closes the connection once what is queued is sent. */
  end(): void;
  readonly closed: boolean;
}

/** What a session reports to its server. */
export interface SessionHooks {
  /** A message was not written because a larger mid of its conversation had been. */
  outOfOrder(): void;
}

/** Live pushes held during a replay beyond which the connection is given up. */
const MAX_HELD = 10_000;

/** A live push held during the replay; `done` once written (or replayed) ahead of the rest. */
interface Held {
  line: string;
  msg?: MsgRef;
  done?: boolean;
}

/** One conversation's held messages, ascending by mid, from `head` on not yet written. */
interface HeldQueue {
  items: Held[];
  head: number;
}

const byMid = (a: Held, b: Held) => (a.msg as MsgRef).mid - (b.msg as MsgRef).mid;

/** The conversation a message belongs to: its group, or the unordered pair of its users. */
export function conversationOf(m: { from: number; to?: number; group?: number }): string {
  if (m.group !== undefined) return `g${m.group}`;
  const to = m.to as number;
  return m.from < to ? `${m.from}:${to}` : `${to}:${m.from}`;
}

export class Session {
  /** Friends as last seen; a miss is checked against the database. Only the Roster changes it. */
  readonly friends: ReadonlySet<number>;
  /** Groups this user is a member of. Only the Roster changes it. */
  readonly groups: ReadonlySet<number>;
  #held: Held[] | null = [];
  /**
   * The held messages by conversation. A replayed message first writes the
   * held ones of its conversation with smaller mids: the replay skips a
   * message that the user's other session acked meanwhile, and its live push
   * must not then come after a larger mid (and be dropped). Made with the
   * first held message, gone with the replay: an idle session carries none.
   */
  #heldByConv: Map<string, HeldQueue> | null = null;
  /** Highest mid written per conversation (a message replayed and then pushed live goes out once). */
  readonly #lastMid = new Map<string, number>();
  #ended = false;
  #tokens: readonly string[];
  /** When a `typing` of this session was last forwarded, per conversation (ms). */
  readonly #typedAt = new Map<string, number>();

  constructor(
    /** Unique within the cluster: node id and connection number. */
    readonly key: string,
    readonly user: { id: number; name: string },
    readonly out: PushTarget,
    /** Tokens to revoke at logout: the one issued to this session and the one it logged in with. */
    tokens: readonly string[],
    readonly hooks: SessionHooks,
    caches: { friends: ReadonlySet<number>; groups: ReadonlySet<number> } = { friends: new Set(), groups: new Set() },
  ) {
    this.friends = caches.friends;
    this.groups = caches.groups;
    this.#tokens = tokens;
  }

  /** Tokens to revoke at logout: the one issued to this session and the one it logged in with. */
  get tokens(): readonly string[] {
    return this.#tokens;
  }

  /** The session's tokens are now these (a password change revoked the others and issued one). */
  replaceTokens(tokens: readonly string[]) {
    this.#tokens = tokens;
  }

  get ended(): boolean {
    return this.#ended || this.out.closed;
  }

  /** Marks the session ended; false when it already was. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  /**
   * Whether a `typing` in `conv` goes on to the others: at most one per
   * session and conversation every `everyMs` (those in between are dropped,
   * not delayed).
   */
  mayForwardTyping(conv: string, now: number, everyMs = 2000): boolean {
    const last = this.#typedAt.get(conv);
    if (last !== undefined && now - last < everyMs) return false;
    if (this.#typedAt.size >= 1000) this.#typedAt.clear(); // bounded: a fresh start costs one extra forward each
    this.#typedAt.set(conv, now);
    return true;
  }

  /**
   * The server ends this session (its user was banned): `line`, an error
   * frame that answers no request, goes out at once, ahead of any held push,
   * then the connection closes. Undelivered messages stay pending.
   */
  closeWith(line: string) {
    if (this.out.closed) return;
    this.out.write(line);
    this.out.end();
  }

  /** A live push; `msg` marks a message, for order. */
  push(line: string, msg?: MsgRef) {
    if (this.ended) return;
    if (this.#held) {
      if (this.#held.length >= MAX_HELD) return this.out.overflow();
      const h: Held = { line, msg };
      this.#held.push(h);
      if (msg) this.#queueHeld(h, msg);
      return;
    }
    this.#write(line, msg);
  }

  #queueHeld(h: Held, msg: MsgRef) {
    const byConv = (this.#heldByConv ??= new Map());
    let q = byConv.get(msg.conv);
    if (!q) byConv.set(msg.conv, (q = { items: [], head: 0 }));
    const { items } = q;
    // Almost always ascending; a push that crossed another goes in its place.
    let at = items.length;
    while (at > q.head && (items[at - 1]!.msg as MsgRef).mid > msg.mid) at--;
    items.splice(at, 0, h);
  }

  /**
   * A message replayed from the pending table, written before the live pushes
   * held meanwhile, except those of its conversation with smaller mids.
   */
  replay(line: string, msg: MsgRef) {
    if (this.ended) return;
    const q = this.#heldByConv?.get(msg.conv);
    while (q && q.head < q.items.length && (q.items[q.head]!.msg as MsgRef).mid <= msg.mid) {
      const h = q.items[q.head++]!;
      h.done = true;
      if ((h.msg as MsgRef).mid < msg.mid) this.#write(h.line, h.msg);
    }
    this.#write(line, msg);
  }

  /** Ends the replay: held pushes go out in their order, their messages in mid order, minus what the replay wrote. */
  live() {
    const held = this.#held;
    this.#held = null;
    this.#heldByConv = null;
    if (!held || this.ended) return;
    const messages = held.filter((h) => h.msg && !h.done).sort(byMid);
    let next = 0;
    for (const h of held) {
      if (h.done) continue;
      if (!h.msg) this.out.write(h.line);
      else {
        const m = messages[next++] as Held;
        this.#write(m.line, m.msg);
      }
    }
  }

  #write(line: string, msg: MsgRef | undefined) {
    if (msg) {
      const last = this.#lastMid.get(msg.conv);
      if (last !== undefined && msg.mid <= last) {
        if (msg.mid < last) this.hooks.outOfOrder();
        return;
      }
      this.#lastMid.set(msg.conv, msg.mid);
    }
    this.out.write(line);
  }
}
