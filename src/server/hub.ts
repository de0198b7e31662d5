/**
 * Who is connected here, and delivery to them. Pushes for a user or a group go
 * to the local sessions directly and, through the bus, to the other nodes that
 * have sessions of that user or members of that group.
 */
import type { Bus } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import type { MsgRef, Session } from "./session.ts";

/** How long a node still counts as feeding a conversation after its last message there. */
const MIXED_FOR_MS = 10_000;

/**
 * Per conversation: the nodes its messages came from lately (with when) and,
 * while there is more than one, the pushes waiting to go out in mid order.
 */
interface Order {
  origins: Map<string, number>;
  held: { mid: number; origin: string; at: number; run: () => void }[];
}

/** Side effects a push carries to the target user's sessions on every node. */
export interface Effects {
  /** The user joined (+id) or left (-id) this group. */
  group?: number;
  /** The user has a new friend. */
  friend?: number;
  /** The origin node now has sessions of this user. */
  here?: true;
}

/** What travels on the bus. `o` origin node, `x` session key to skip, `f` the frame line, `m` its mid and `c` conversation. */
interface Envelope {
  o: string;
  x?: string;
  f?: string;
  m?: number;
  c?: string;
  e?: Effects;
}

export const userChannel = (id: number) => `chat:u:${id}`;
export const groupChannel = (id: number) => `chat:g:${id}`;

export class Hub {
  readonly #byUser = new Map<number, Set<Session>>();
  readonly #byGroup = new Map<number, Set<Session>>();
  /**
   * Users with sessions here who may also have sessions on other nodes. The
   * copy of a sender's own message for its other sessions needs no publish
   * when they are all here: one publish per message instead of two. A user
   * starts as "maybe elsewhere" until presence says this is their only node;
   * an announcement from another node, or a Redis reconnect, makes them
   * "maybe" again.
   */
  readonly #elsewhere = new Set<number>();
  /**
   * Message order. Each node pushes its own messages in mid order (one group
   * commit after another), and Redis hands one publisher's messages to a
   * subscriber in the order they were published: from each node, mids reach
   * this hub in increasing order. But two nodes committing messages of one
   * conversation at once may have their pushes cross on the way here. While a
   * conversation's messages come from more than one node, a push waits until
   * every other node feeding it has shown a larger mid (so nothing smaller can
   * still come from there), at most `orderWindowMs`. One that still comes too
   * late is not pushed (Session) and waits for the next login.
   */
  readonly #order = new Map<string, Order>();
  readonly #waiting = new Set<Order>();
  /** Per node, the largest mid seen from it. */
  readonly #highest = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #releaseQueued = false;
  #swept = performance.now();

  constructor(
    readonly node: string,
    readonly bus: Bus,
    readonly log: Logger,
    readonly orderWindowMs = 50,
  ) {
    bus.onMessage((channel, message) => this.#fromBus(channel, message));
  }

  get sessionCount(): number {
    let n = 0;
    for (const s of this.#byUser.values()) n += s.size;
    return n;
  }

  get userCount(): number {
    return this.#byUser.size;
  }

  sessionsOf(user: number): ReadonlySet<Session> | undefined {
    return this.#byUser.get(user);
  }

  /** Registers a session; true when it is its user's first on this node. */
  add(s: Session): boolean {
    let set = this.#byUser.get(s.user.id);
    const first = !set;
    if (!set) {
      this.#byUser.set(s.user.id, (set = new Set()));
      this.#elsewhere.add(s.user.id);
      void this.bus.subscribe(userChannel(s.user.id));
    }
    set.add(s);
    for (const g of s.groups) this.#addToGroup(g, s);
    return first;
  }

  /** Unregisters a session; true when it was its user's last on this node. */
  remove(s: Session): boolean {
    const set = this.#byUser.get(s.user.id);
    if (!set?.delete(s)) return false;
    for (const g of s.groups) this.#removeFromGroup(g, s);
    if (set.size > 0) return false;
    this.#byUser.delete(s.user.id);
    this.#elsewhere.delete(s.user.id);
    this.bus.unsubscribe(userChannel(s.user.id));
    return true;
  }

  /** Resolves once pushes for `user` from other nodes reach this one (its channel is subscribed). */
  listening(user: number): Promise<void> {
    return this.bus.subscribe(userChannel(user));
  }

  /** Tells the nodes that already have sessions of `user` that this one has some too. */
  announce(user: number) {
    if (this.bus.state !== "local") this.bus.publish(userChannel(user), JSON.stringify({ o: this.node, e: { here: true } } satisfies Envelope));
  }

  /** Presence found no other node with sessions of `user`. */
  onlyHere(user: number) {
    this.#elsewhere.delete(user);
  }

  /** What the hub knew of other nodes may be stale (Redis was away): assume every user may be elsewhere. */
  forgetWhereabouts() {
    for (const user of this.#byUser.keys()) this.#elsewhere.add(user);
  }

  /** Every session, for shutdown. */
  all(): Session[] {
    const out: Session[] = [];
    for (const set of this.#byUser.values()) out.push(...set);
    return out;
  }

  /**
   * A push to every session of `user` on every node, except `except`. `effects`
   * update those sessions' caches before the frame (if any) is written.
   */
  toUser(user: number, line: string | undefined, opts: { except?: Session; msg?: MsgRef; effects?: Effects } = {}) {
    this.#deliverUser(this.node, user, line, opts.except?.key, opts.msg, opts.effects);
    // A push to a user's *other* sessions (`except` given: the sender's copy of its
    // own message, cache updates) needs no publish when this node has all of them.
    // Pushes to a user as a recipient always publish: those must not depend on what
    // this node has heard of other nodes.
    const onlyHere = opts.except !== undefined && this.#byUser.has(user) && !this.#elsewhere.has(user);
    if (this.bus.state !== "local" && !onlyHere)
      this.bus.publish(
        userChannel(user),
        JSON.stringify({ o: this.node, x: opts.except?.key, f: line, m: opts.msg?.mid, c: opts.msg?.conv, e: opts.effects } satisfies Envelope),
      );
  }

  /** A push to the sessions of every member of `group` on every node, except `except`. */
  toGroup(group: number, line: string, opts: { except?: Session; msg?: MsgRef } = {}) {
    this.#deliverGroup(this.node, group, line, opts.except?.key, opts.msg);
    if (this.bus.state !== "local")
      this.bus.publish(groupChannel(group), JSON.stringify({ o: this.node, x: opts.except?.key, f: line, m: opts.msg?.mid, c: opts.msg?.conv } satisfies Envelope));
  }

  /** Adds or removes a group in one session's cache and the group index. */
  setMember(s: Session, group: number, member: boolean) {
    if (member === s.groups.has(group)) return;
    if (member) {
      s.groups.add(group);
      if (this.#byUser.get(s.user.id)?.has(s)) this.#addToGroup(group, s);
    } else {
      s.groups.delete(group);
      this.#removeFromGroup(group, s);
    }
  }

  #deliverUser(origin: string, user: number, line: string | undefined, except: string | undefined, msg: MsgRef | undefined, effects: Effects | undefined) {
    if (msg && line !== undefined) return this.#deliverMessage(origin, msg, line, except, this.#byUser, user);
    const set = this.#byUser.get(user);
    if (!set) return;
    if (effects?.here) this.#elsewhere.add(user);
    for (const s of set) {
      if (effects?.friend) s.friends.add(effects.friend);
      if (effects?.group) this.setMember(s, Math.abs(effects.group), effects.group > 0);
      if (line !== undefined && s.key !== except) s.push(line);
    }
  }

  #deliverGroup(origin: string, group: number, line: string, except: string | undefined, msg: MsgRef | undefined) {
    if (msg) return this.#deliverMessage(origin, msg, line, except, this.#byGroup, group);
    const set = this.#byGroup.get(group);
    if (set) for (const s of set) if (s.key !== except) s.push(line);
  }

  /** A message for the sessions of `index.get(key)` (a user's or a group's; looked up again when a held push goes). */
  #deliverMessage(origin: string, msg: MsgRef, line: string, except: string | undefined, index: Map<number, Set<Session>>, key: number) {
    this.#progress(origin, msg.mid);
    const set = index.get(key);
    if (!set || !reaches(set, except)) return;
    if (!this.#mustWait(msg, origin)) return pushAll(set, line, except, msg);
    this.#hold(msg, origin, () => pushAll(index.get(key), line, except, msg));
  }

  /** A message from `origin` with this mid: held pushes that waited for it may go. */
  #progress(origin: string, mid: number) {
    if (mid <= (this.#highest.get(origin) ?? 0)) return;
    this.#highest.set(origin, mid);
    if (this.#waiting.size > 0 && !this.#releaseQueued) {
      this.#releaseQueued = true;
      queueMicrotask(() => {
        this.#releaseQueued = false;
        this.#release();
      });
    }
  }

  /** Notes where a message came from; true when its pushes must wait their turn (the conversation is fed by several nodes). */
  #mustWait(msg: MsgRef, origin: string): boolean {
    // With one node (the in-process bus) every message comes from here, in order.
    if (!(this.orderWindowMs > 0) || this.bus.state === "local") return false;
    const now = performance.now();
    let o = this.#order.get(msg.conv);
    if (!o) this.#order.set(msg.conv, (o = { origins: new Map(), held: [] }));
    o.origins.set(origin, now);
    if (o.origins.size > 1) for (const [n, at] of o.origins) if (now - at > MIXED_FOR_MS) o.origins.delete(n);
    if (now - this.#swept > MIXED_FOR_MS) this.#sweep(now);
    return o.origins.size > 1 || o.held.length > 0;
  }

  /** Holds `run` (the pushes of one message) until its turn: in mid order, once nothing smaller can come, or after the window. */
  #hold(msg: MsgRef, origin: string, run: () => void) {
    const o = this.#order.get(msg.conv) as Order;
    const now = performance.now();
    let i = o.held.length;
    while (i > 0 && (o.held[i - 1] as { mid: number }).mid > msg.mid) i--;
    o.held.splice(i, 0, { mid: msg.mid, origin, at: now, run });
    this.#waiting.add(o);
    this.#release();
  }

  /** Whether every other node feeding the conversation has shown a mid above `mid`. */
  #nothingSmallerToCome(o: Order, mid: number, origin: string): boolean {
    for (const n of o.origins.keys()) if (n !== origin && (this.#highest.get(n) ?? 0) < mid) return false;
    return true;
  }

  /** Pushes, in mid order, every held message whose turn has come or whose wait is over. */
  #release() {
    const now = performance.now();
    for (const o of this.#waiting) {
      for (let h = o.held[0]; h && (h.at + this.orderWindowMs <= now || this.#nothingSmallerToCome(o, h.mid, h.origin)); h = o.held[0]) {
        o.held.shift();
        try {
          h.run();
        } catch (e) {
          this.log.error("push_failed", { error: e }); // one message's push, not the others behind it
        }
      }
      if (o.held.length === 0) this.#waiting.delete(o);
    }
    if (this.#waiting.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#release();
      }, Math.max(1, this.orderWindowMs / 4));
  }

  /** Forgets conversations with no message here for a while. */
  #sweep(now: number) {
    this.#swept = now;
    for (const [conv, o] of this.#order) if (o.held.length === 0 && now - Math.max(...o.origins.values()) > MIXED_FOR_MS) this.#order.delete(conv);
  }

  #addToGroup(group: number, s: Session) {
    let set = this.#byGroup.get(group);
    if (!set) {
      this.#byGroup.set(group, (set = new Set()));
      void this.bus.subscribe(groupChannel(group));
    }
    set.add(s);
  }

  #removeFromGroup(group: number, s: Session) {
    const set = this.#byGroup.get(group);
    if (!set?.delete(s) || set.size > 0) return;
    this.#byGroup.delete(group);
    this.bus.unsubscribe(groupChannel(group));
  }

  #fromBus(channel: string, message: string) {
    let env: Envelope;
    try {
      env = JSON.parse(message);
    } catch (e) {
      this.log.warn("bus_bad_message", { channel, error: e });
      return;
    }
    if (env.o === this.node) return; // delivered locally when it was sent
    const id = Number(channel.slice(channel.lastIndexOf(":") + 1));
    const msg = env.m !== undefined && env.c !== undefined ? { mid: env.m, conv: env.c } : undefined;
    if (channel.startsWith("chat:u:")) this.#deliverUser(env.o, id, env.f, env.x, msg, env.e);
    else if (channel.startsWith("chat:g:") && env.f !== undefined) this.#deliverGroup(env.o, id, env.f, env.x, msg);
  }
}

function pushAll(sessions: Set<Session> | undefined, line: string, except: string | undefined, msg: MsgRef) {
  if (sessions) for (const s of sessions) if (s.key !== except) s.push(line, msg);
}

/** Whether a push to `set` reaches any session but `except`. */
function reaches(set: ReadonlySet<Session>, except: string | undefined): boolean {
  for (const s of set) if (s.key !== except) return true;
  return false;
}
