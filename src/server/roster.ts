/**
 * Who is here, and what each session may do: the node's sessions by user and
 * by group, and each session's cached friends and groups (the hot path checks
 * them instead of the database). The roster is the only writer of those
 * caches; they change by named events (RosterChange), from this node's
 * handlers or from other nodes through the hub.
 */
import type { RosterChange } from "../cluster/envelope.ts";
import type { Session } from "./session.ts";

/** Told when the first session of a user or a group's member arrives here, and when the last one leaves. */
export interface RosterWatcher {
  userArrived(user: number): void;
  userLeft(user: number): void;
  groupArrived(group: number): void;
  groupLeft(group: number): void;
}

interface Caches {
  friends: Set<number>;
  groups: Set<number>;
}

export class Roster {
  readonly #byUser = new Map<number, Set<Session>>();
  readonly #byGroup = new Map<number, Set<Session>>();
  readonly #caches = new Map<Session, Caches>();
  /**
   * Per user with sessions here, the number of the last change to them (or
   * of the last session added), from one counter that only grows: a user who
   * leaves and comes back never shows an old number again.
   */
  readonly #lastChange = new Map<number, number>();
  #changes = 0;
  #watcher: RosterWatcher | undefined;

  /** The one watcher (the hub, which subscribes to channels). */
  watch(watcher: RosterWatcher) {
    this.#watcher = watcher;
  }

  get sessionCount(): number {
    return this.#caches.size;
  }

  get userCount(): number {
    return this.#byUser.size;
  }

  sessionsOf(user: number): ReadonlySet<Session> | undefined {
    return this.#byUser.get(user);
  }

  inGroup(group: number): ReadonlySet<Session> | undefined {
    return this.#byGroup.get(group);
  }

  isLocal(user: number): boolean {
    return this.#byUser.has(user);
  }

  users(): Iterable<number> {
    return this.#byUser.keys();
  }

  /** Every session, for shutdown. */
  all(): Session[] {
    return [...this.#caches.keys()];
  }

  /**
   * Registers a session with the caches it was made with (the roster writes
   * them from now on). True when it is its user's first on this node.
   */
  add(s: Session, caches: Caches): boolean {
    let set = this.#byUser.get(s.user.id);
    const first = !set;
    if (!set) this.#byUser.set(s.user.id, (set = new Set()));
    set.add(s);
    this.#caches.set(s, caches);
    this.#lastChange.set(s.user.id, ++this.#changes);
    if (first) this.#watcher?.userArrived(s.user.id);
    for (const g of caches.groups) this.#index(g, s);
    return first;
  }

  /** Unregisters a session; true when it was its user's last on this node. */
  remove(s: Session): boolean {
    const caches = this.#caches.get(s);
    const set = this.#byUser.get(s.user.id);
    if (!caches || !set?.delete(s)) return false;
    this.#caches.delete(s);
    for (const g of caches.groups) this.#unindex(g, s);
    if (set.size > 0) return false;
    this.#byUser.delete(s.user.id);
    this.#lastChange.delete(s.user.id);
    this.#watcher?.userLeft(s.user.id);
    return true;
  }

  /** Applies a change to every session of `user` here, or only to `only`. */
  apply(user: number, change: RosterChange, only?: Session) {
    if (only) return this.#applyTo(only, change);
    const set = this.#byUser.get(user);
    if (set) for (const s of set) this.#applyTo(s, change);
  }

  /**
   * Where the changes to `user`'s sessions here stand: taken before the
   * database is read for `reset`, which refuses when it moved meanwhile.
   */
  changesOf(user: number): number {
    return this.#lastChange.get(user) ?? 0;
  }

  /**
   * Sets the friends and groups of every session of `user` here to what the
   * database says (after an outage of the bus, when changes from other nodes
   * may have been missed). `seen` is changesOf(user) from before the read:
   * when a change came (or a session started) since, the read may not show
   * it (a kick arriving while the database was read would be undone), and
   * nothing is set: false, read again.
   */
  reset(user: number, friends: Iterable<number>, groups: Iterable<number>, seen: number): boolean {
    const set = this.#byUser.get(user);
    if (!set) return true; // gone meanwhile: nothing to mend
    if (this.changesOf(user) !== seen) return false;
    const f = new Set(friends);
    const g = new Set(groups);
    for (const s of set) {
      const c = this.#caches.get(s) as Caches;
      for (const x of [...c.friends]) if (!f.has(x)) this.#applyTo(s, { kind: "friend_removed", friend: x });
      for (const x of f) this.#applyTo(s, { kind: "friend_added", friend: x });
      for (const x of [...c.groups]) if (!g.has(x)) this.#applyTo(s, { kind: "group_left", group: x });
      for (const x of g) this.#applyTo(s, { kind: "group_joined", group: x });
    }
    return true;
  }

  /** The database showed `s`'s user a friend of `friend`: a cache miss filled. */
  sawFriend(s: Session, friend: number) {
    this.#applyTo(s, { kind: "friend_added", friend });
  }

  /** The database showed whether `s`'s user is a member of `group`: a cache miss filled, or a stale entry mended. */
  sawMembership(s: Session, group: number, member: boolean) {
    this.#applyTo(s, member ? { kind: "group_joined", group } : { kind: "group_left", group });
  }

  #applyTo(s: Session, change: RosterChange) {
    const c = this.#caches.get(s);
    if (!c) return; // ended already
    this.#lastChange.set(s.user.id, ++this.#changes);
    switch (change.kind) {
      case "friend_added":
        c.friends.add(change.friend);
        return;
      case "friend_removed":
        c.friends.delete(change.friend);
        return;
      case "group_joined":
        if (c.groups.has(change.group)) return;
        c.groups.add(change.group);
        this.#index(change.group, s);
        return;
      case "group_left":
        if (!c.groups.delete(change.group)) return;
        this.#unindex(change.group, s);
        return;
      default:
        throw new TypeError(`unknown roster change ${JSON.stringify(change satisfies never)}`);
    }
  }

  #index(group: number, s: Session) {
    let set = this.#byGroup.get(group);
    if (!set) {
      this.#byGroup.set(group, (set = new Set()));
      this.#watcher?.groupArrived(group);
    }
    set.add(s);
  }

  #unindex(group: number, s: Session) {
    const set = this.#byGroup.get(group);
    if (!set?.delete(s) || set.size > 0) return;
    this.#byGroup.delete(group);
    this.#watcher?.groupLeft(group);
  }
}
