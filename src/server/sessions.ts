/**
 * Sessions begin and end here, whatever ends them (logout, a closed socket,
 * shutdown, a ban): the roster learns of them, presence counts them, and the user's
 * friends hear when the user comes online or goes offline, including when
 * the node the user was on died.
 */
import type { EndReason } from "../cluster/envelope.ts";
import type { Presence } from "../cluster/presence.ts";
import type { Db } from "../store/db.ts";
import { friendIds, friendIdsOf } from "../store/friends.ts";
import { groupIdsOf } from "../store/groups.ts";
import type { Conn } from "./conn.ts";
import type { Hub } from "./hub.ts";
import type { Roster } from "./roster.ts";
import { Session, type SessionHooks } from "./session.ts";

export interface SessionsDeps {
  node: string;
  db: Db;
  roster: Roster;
  hub: Hub;
  presence: Presence;
  hooks: SessionHooks;
}

/** What a login found: the user, their friends and groups (the session's caches), and its tokens. */
export interface Opening {
  user: { id: number; name: string };
  friends: Iterable<number>;
  groups: Iterable<number>;
  tokens: string[];
}

const END_MESSAGES: Record<EndReason, string> = {
  banned: "this account has been banned",
  account_deleted: "this account has been deleted",
};

/** Reads of a user whose sessions keep changing while they are read, before the refresh leaves them be. */
const REFRESH_ROUNDS = 5;

export class Sessions {
  readonly #d: SessionsDeps;

  constructor(deps: SessionsDeps) {
    this.#d = deps;
  }

  /**
   * Logs `conn` in. From here live pushes reach the session, held until
   * `session.live()` (after the login's replay).
   */
  async open(conn: Conn, o: Opening): Promise<Session> {
    const friends = new Set(o.friends);
    const groups = new Set(o.groups);
    const session = new Session(`${this.#d.node}:${conn.id}`, o.user, conn, o.tokens, this.#d.hooks, { friends, groups });
    conn.attach(session);
    const first = this.#d.roster.add(session, { friends, groups });
    if (await this.#d.presence.up(o.user.id, first)) this.#tellFriends(o.user.id, session.friends, true);
    return session;
  }

  /** Ends a session; presence goes offline with its user's last session. Ending twice is harmless. */
  async end(session: Session) {
    if (!session.end()) return;
    const last = this.#d.roster.remove(session);
    if (await this.#d.presence.down(session.user.id, last)) this.#tellFriends(session.user.id, session.friends, false);
  }

  /**
   * Re-reads the friends and groups of every user with a session here. While
   * the bus was away, other nodes' changes (a friend removed, a kick) did not
   * reach this node's caches; the database has them. A user whose sessions
   * changed while the database was read is read again (at most a few times:
   * then the changes that came keep the caches as current as they are).
   * Resolves with how many users were read.
   */
  async refreshCaches(): Promise<number> {
    const { roster, db } = this.#d;
    let users = [...roster.users()];
    const total = users.length;
    for (let round = 0; users.length > 0 && round < REFRESH_ROUNDS; round++) {
      const again: number[] = [];
      for (let i = 0; i < users.length; i += 500) {
        const chunk = users.slice(i, i + 500);
        const seen = new Map(chunk.map((u) => [u, roster.changesOf(u)]));
        const [friends, groups] = await Promise.all([friendIdsOf(db, chunk), groupIdsOf(db, chunk)]);
        for (const u of chunk) if (!roster.reset(u, friends.get(u) ?? [], groups.get(u) ?? [], seen.get(u) as number)) again.push(u);
      }
      users = again;
    }
    return total;
  }

  /**
   * Ends every session of `user` on this node: each gets an `error` frame
   * with code `reason` and no `re`, then its connection closes. Returns how
   * many there were.
   */
  async endUser(user: number, reason: EndReason): Promise<number> {
    const sessions = [...(this.#d.roster.sessionsOf(user) ?? [])];
    const frame = JSON.stringify({ type: "error", code: reason, message: END_MESSAGES[reason] }) + "\n";
    for (const s of sessions) s.closeWith(frame);
    await Promise.all(sessions.map((s) => this.end(s)));
    return sessions.length;
  }

  /** `user`'s last session was on a node that died (presence reaped it). */
  async wentOffline(user: number) {
    this.#tellFriends(user, await friendIds(this.#d.db, user), false);
  }

  #tellFriends(user: number, friends: Iterable<number>, online: boolean) {
    const frame = JSON.stringify({ type: "presence", user, online }) + "\n";
    for (const f of friends) this.#d.hub.toUser(f, frame);
  }
}
