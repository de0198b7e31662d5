/**
 * Delivery. Pushes for a user or a group go to the sessions here (the
 * roster knows them) and, through the bus, to the other nodes that have
 * sessions of that user or members of that group. Messages from several
 * nodes in one conversation go through the reorder buffer.
 */
import type { Bus } from "../cluster/bus.ts";
import {
  channelTarget,
  decodeEnvelope,
  type EndReason,
  encodeEnvelope,
  groupChannel,
  type MsgRef,
  type PushEnvelope,
  type RosterChange,
  userChannel,
} from "../cluster/envelope.ts";
import type { Logger } from "../log.ts";
import { ReorderBuffer } from "./reorder.ts";
import type { Roster } from "./roster.ts";
import type { Session } from "./session.ts";

export interface HubOptions {
  node: string;
  bus: Bus;
  roster: Roster;
  log: Logger;
  /** Longest wait of a push in a conversation fed by several nodes, ms (reorder.ts). Default 50. */
  orderWindowMs?: number;
  /** Every session of `user` here must end (an operator banned the user); the sessions' owner does it. */
  endSessions?: (user: number, reason: EndReason) => void;
  /** A message sent at `ts` (ms) was written to its recipients' sessions here (the push latency metric). */
  pushed?: (ts: number) => void;
}

export interface PushOptions {
  /** The session that must not get it (the requesting one). */
  except?: Session;
  /** Marks a chat message, for order. */
  msg?: MsgRef;
  /** A change to the target user's sessions, applied before the frame is written. */
  change?: RosterChange;
  /** The message's `ts`, on the push to its recipients: its send-to-push latency is measured. */
  sentAt?: number;
}

export class Hub {
  readonly node: string;
  readonly #bus: Bus;
  readonly #roster: Roster;
  readonly #log: Logger;
  readonly #order: ReorderBuffer;
  readonly #endSessions: (user: number, reason: EndReason) => void;
  readonly #pushed: (ts: number) => void;
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
   * Users another node announced itself for since this node began registering
   * them (listening): presence's "only here" must not undo what such an
   * announcement said. Its reply and the announcement come on two Redis
   * connections, and a busy event loop may read them in either order.
   */
  readonly #heard = new Set<number>();

  constructor(o: HubOptions) {
    this.node = o.node;
    this.#bus = o.bus;
    this.#roster = o.roster;
    this.#log = o.log;
    this.#endSessions = o.endSessions ?? (() => {});
    this.#pushed = o.pushed ?? (() => {});
    // With one node (the in-process bus) every message comes from here, in order.
    this.#order = new ReorderBuffer({
      windowMs: o.bus.state === "local" ? 0 : (o.orderWindowMs ?? 50),
      onError: (e) => o.log.error("push_failed", { error: e }),
    });
    o.bus.onMessage((channel, message) => this.#fromBus(channel, message));
    o.roster.watch({
      userArrived: (user) => {
        this.#elsewhere.add(user);
        void this.#bus.subscribe(userChannel(user));
      },
      userLeft: (user) => {
        this.#elsewhere.delete(user);
        this.#heard.delete(user);
        this.#bus.unsubscribe(userChannel(user));
      },
      groupArrived: (group) => void this.#bus.subscribe(groupChannel(group)),
      groupLeft: (group) => this.#bus.unsubscribe(groupChannel(group)),
    });
  }

  /** Resolves once pushes for `user` from other nodes reach this one (its channel is subscribed). */
  listening(user: number): Promise<void> {
    this.#heard.delete(user);
    return this.#bus.subscribe(userChannel(user));
  }

  /** Tells the nodes that already have sessions of `user` that this one has some too. */
  announce(user: number) {
    if (this.#bus.state !== "local") this.#bus.publish(userChannel(user), encodeEnvelope({ kind: "here", origin: this.node }));
  }

  /** Presence found no other node with sessions of `user`. */
  onlyHere(user: number) {
    if (!this.#heard.has(user)) this.#elsewhere.delete(user);
  }

  /** What the hub knew of other nodes may be stale (Redis was away): assume every user may be elsewhere. */
  forgetWhereabouts() {
    for (const user of this.#roster.users()) this.#elsewhere.add(user);
  }

  /** A push (a frame line, a change, or both) to every session of `user` on every node, except `except`. */
  toUser(user: number, frame: string | undefined, opts: PushOptions = {}) {
    const env: PushEnvelope = { kind: "push", origin: this.node, frame, except: opts.except?.key, msg: opts.msg, change: opts.change, sentAt: opts.sentAt };
    this.#deliverUser(user, env);
    // A push to a user's *other* sessions (`except` given: the sender's copy of its
    // own message, cache updates) needs no publish when this node has all of them.
    // Pushes to a user as a recipient always publish: those must not depend on what
    // this node has heard of other nodes.
    const onlyHere = opts.except !== undefined && this.#roster.isLocal(user) && !this.#elsewhere.has(user);
    if (this.#bus.state !== "local" && !onlyHere) this.#bus.publish(userChannel(user), encodeEnvelope(env));
  }

  /** A push to the sessions of every member of `group` on every node, except `except` (or every session of `exceptUser`). */
  toGroup(group: number, frame: string, opts: { except?: Session; exceptUser?: number; msg?: MsgRef; sentAt?: number } = {}) {
    const env: PushEnvelope = { kind: "push", origin: this.node, frame, except: opts.except?.key, exceptUser: opts.exceptUser, msg: opts.msg, sentAt: opts.sentAt };
    this.#deliverGroup(group, env);
    if (this.#bus.state !== "local") this.#bus.publish(groupChannel(group), encodeEnvelope(env));
  }

  /** Ends every session of `user`, here and on every other node (each gets an `error` with code `reason`). */
  endEverywhere(user: number, reason: EndReason) {
    this.#endSessions(user, reason);
    if (this.#bus.state !== "local") this.#bus.publish(userChannel(user), encodeEnvelope({ kind: "end_sessions", origin: this.node, reason }));
  }

  /** Drops held pushes (shutdown: their messages are pending anyway). */
  close() {
    this.#order.close();
  }

  #deliverUser(user: number, env: PushEnvelope) {
    if (env.change) this.#roster.apply(user, env.change);
    this.#deliver(env, () => this.#roster.sessionsOf(user));
  }

  #deliverGroup(group: number, env: PushEnvelope) {
    this.#deliver(env, () => this.#roster.inGroup(group));
  }

  /** Writes `env.frame` to the sessions `targets()` returns (looked up again when a held message goes). */
  #deliver(env: PushEnvelope, targets: () => ReadonlySet<Session> | undefined) {
    const { frame, except, msg, sentAt } = env;
    if (frame === undefined) return;
    const set = targets();
    if (!msg) {
      if (set) for (const s of set) if (s.key !== except && s.user.id !== env.exceptUser) s.push(frame);
      return;
    }
    const run =
      set && reaches(set, except)
        ? () => {
            pushAll(targets(), frame, except, msg);
            // Once per message and node, however many sessions got it.
            if (sentAt !== undefined) this.#pushed(sentAt);
          }
        : undefined;
    this.#order.deliver(env.origin, msg, run);
  }

  #fromBus(channel: string, message: string) {
    const env = decodeEnvelope(message);
    const target = channelTarget(channel);
    if (!env || !target) return this.#log.warn("bus_bad_message", { channel });
    if (env.origin === this.node) return; // delivered locally when it was sent
    if (env.kind === "here") {
      if ("user" in target && this.#roster.isLocal(target.user)) {
        this.#elsewhere.add(target.user);
        this.#heard.add(target.user);
      }
      return;
    }
    if (env.kind === "end_sessions") {
      if ("user" in target) this.#endSessions(target.user, env.reason);
      return;
    }
    try {
      if ("user" in target) this.#deliverUser(target.user, env);
      else this.#deliverGroup(target.group, env);
    } catch (e) {
      this.#log.warn("bus_bad_message", { channel, error: e });
    }
  }
}

function pushAll(sessions: ReadonlySet<Session> | undefined, line: string, except: string | undefined, msg: MsgRef) {
  if (sessions) for (const s of sessions) if (s.key !== except) s.push(line, msg);
}

/** Whether a push to `set` reaches any session but `except`. */
function reaches(set: ReadonlySet<Session>, except: string | undefined): boolean {
  for (const s of set) if (s.key !== except) return true;
  return false;
}
