/**
 * The roster and the hub without sockets: the roster owns the session
 * indexes and caches and changes them only by named events; the hub applies
 * the events that come over the bus and routes pushes to the right sessions.
 */
import { describe, expect, it } from "bun:test";
import type { Bus } from "../../src/cluster/bus.ts";
import { decodeEnvelope, encodeEnvelope, groupChannel, userChannel } from "../../src/cluster/envelope.ts";
import { silentLogger } from "../../src/log.ts";
import { Hub } from "../../src/server/hub.ts";
import { Roster } from "../../src/server/roster.ts";
import { Session } from "../../src/server/session.ts";

let nextKey = 1;
function session(roster: Roster, user: number, opts: { friends?: number[]; groups?: number[] } = {}) {
  const written: string[] = [];
  const friends = new Set(opts.friends ?? []);
  const groups = new Set(opts.groups ?? []);
  const out = { write: (l: string) => void written.push(l), overflow() {}, end() {}, closed: false };
  const s = new Session(`n1:${nextKey++}`, { id: user, name: `u${user}` }, out, [], { outOfOrder() {} }, { friends, groups });
  s.live();
  const first = roster.add(s, { friends, groups });
  return { s, written, first };
}

/** A bus that records what is published and subscribed, and delivers what a test injects. */
function fakeBus() {
  const published: { channel: string; message: string }[] = [];
  const subscribed = new Set<string>();
  let handler: (channel: string, message: string) => void = () => {};
  const bus: Bus = {
    state: "up",
    publish: (channel, message) => void published.push({ channel, message }),
    subscribe: async (channel) => void subscribed.add(channel),
    unsubscribe: (channel) => void subscribed.delete(channel),
    onMessage: (fn) => void (handler = fn),
    async close() {},
  };
  return { bus, published, subscribed, inject: (channel: string, message: string) => handler(channel, message) };
}

describe("the roster", () => {
  it("indexes sessions by user and by group, and tells its watcher of the first and the last", () => {
    const roster = new Roster();
    const events: string[] = [];
    roster.watch({
      userArrived: (u) => void events.push(`+u${u}`),
      userLeft: (u) => void events.push(`-u${u}`),
      groupArrived: (g) => void events.push(`+g${g}`),
      groupLeft: (g) => void events.push(`-g${g}`),
    });
    const a = session(roster, 1, { groups: [10] });
    const b = session(roster, 1, { groups: [10, 11] });
    expect([a.first, b.first]).toEqual([true, false]);
    expect(roster.sessionsOf(1)?.size).toBe(2);
    expect(roster.inGroup(11)?.size).toBe(1);
    expect(roster.remove(a.s)).toBe(false);
    expect(roster.remove(b.s)).toBe(true);
    expect(roster.remove(b.s)).toBe(false);
    expect(events).toEqual(["+u1", "+g10", "+g11", "-g10", "-g11", "-u1"]);
    expect(roster.sessionCount).toBe(0);
    expect(roster.inGroup(10)).toBeUndefined();
  });

  it("changes every session of a user by a named event, and one session when asked", () => {
    const roster = new Roster();
    const a = session(roster, 1);
    const b = session(roster, 1);
    roster.apply(1, { kind: "friend_added", friend: 5 });
    roster.apply(1, { kind: "group_joined", group: 7 });
    expect([a.s.friends.has(5), b.s.friends.has(5)]).toEqual([true, true]);
    expect(roster.inGroup(7)?.size).toBe(2);
    roster.apply(1, { kind: "group_left", group: 7 }, a.s);
    expect([a.s.groups.has(7), b.s.groups.has(7)]).toEqual([false, true]);
    expect(roster.inGroup(7)?.size).toBe(1);
  });

  it("ignores changes for a session that has ended", () => {
    const roster = new Roster();
    const a = session(roster, 1);
    roster.remove(a.s);
    roster.sawMembership(a.s, 3, true);
    expect(a.s.groups.has(3)).toBe(false);
    expect(roster.inGroup(3)).toBeUndefined();
  });
});

describe("resetting a user's caches to the database's", () => {
  it("takes the database's friends and groups for every session of the user, and moves them between the group indexes", () => {
    const roster = new Roster();
    const events: string[] = [];
    roster.watch({ userArrived() {}, userLeft() {}, groupArrived: (g) => void events.push(`+g${g}`), groupLeft: (g) => void events.push(`-g${g}`) });
    const a = session(roster, 1, { friends: [5, 6], groups: [10, 11] });
    const b = session(roster, 1, { friends: [5], groups: [10] });
    const other = session(roster, 2, { groups: [11] });
    expect(roster.reset(1, [6, 7], [11, 12], roster.changesOf(1))).toBe(true);
    for (const s of [a.s, b.s]) {
      expect([...s.friends].sort()).toEqual([6, 7]);
      expect([...s.groups].sort()).toEqual([11, 12]);
    }
    expect(roster.inGroup(10)).toBeUndefined();
    expect(roster.inGroup(11)).toEqual(new Set([a.s, b.s, other.s]));
    expect(events).toEqual(["+g10", "+g11", "+g12", "-g10"]);
  });

  it("refuses when a change came after the read began: the database may not show it", () => {
    const roster = new Roster();
    const a = session(roster, 1, { groups: [10] });
    const seen = roster.changesOf(1);
    // A kick arrives while the database is read; the read saw the user still a member.
    roster.apply(1, { kind: "group_left", group: 10 });
    expect(roster.reset(1, [], [10], seen)).toBe(false);
    expect(a.s.groups.has(10)).toBe(false);
    // So does a session that started meanwhile (its login read the database after this read).
    const again = roster.changesOf(1);
    session(roster, 1, { groups: [20] });
    expect(roster.reset(1, [], [], again)).toBe(false);
    expect(roster.reset(1, [], [20], roster.changesOf(1))).toBe(true);
    expect(roster.inGroup(10)).toBeUndefined();
    expect(roster.inGroup(20)?.size).toBe(2);
  });

  it("never shows an old count again for a user who left and came back", () => {
    const roster = new Roster();
    const a = session(roster, 1);
    const seen = roster.changesOf(1);
    roster.remove(a.s);
    session(roster, 1, { groups: [3] });
    expect(roster.reset(1, [], [], seen)).toBe(false);
    expect(roster.reset(2, [], [3], 0)).toBe(true); // nobody here: nothing to do
  });
});

describe("the hub", () => {
  it("subscribes to a user's channel with their first session here and leaves it with the last", () => {
    const { bus, subscribed } = fakeBus();
    const roster = new Roster();
    new Hub({ node: "n1", bus, roster, log: silentLogger });
    const a = session(roster, 4, { groups: [9] });
    expect(subscribed).toEqual(new Set([userChannel(4), groupChannel(9)]));
    roster.remove(a.s);
    expect(subscribed.size).toBe(0);
  });

  it("applies a change from another node before writing the frame that came with it", () => {
    const { bus, inject } = fakeBus();
    const roster = new Roster();
    new Hub({ node: "n1", bus, roster, log: silentLogger });
    const a = session(roster, 4);
    const frame = '{"type":"member_joined","group":9,"user":{"id":4,"name":"u4"}}\n';
    inject(userChannel(4), encodeEnvelope({ kind: "push", origin: "n2", frame, change: { kind: "group_joined", group: 9 } }));
    expect(a.s.groups.has(9)).toBe(true);
    expect(a.written).toEqual([frame]);
    // From now on the session gets the group's pushes.
    inject(groupChannel(9), encodeEnvelope({ kind: "push", origin: "n2", frame: "g\n" }));
    expect(a.written).toEqual([frame, "g\n"]);
  });

  it("skips the excepted session and its own node's envelopes, and survives garbage on the bus", () => {
    const { bus, inject } = fakeBus();
    const roster = new Roster();
    new Hub({ node: "n1", bus, roster, log: silentLogger });
    const a = session(roster, 4);
    const b = session(roster, 4);
    inject(userChannel(4), encodeEnvelope({ kind: "push", origin: "n2", frame: "x\n", except: a.s.key }));
    inject(userChannel(4), encodeEnvelope({ kind: "push", origin: "n1", frame: "mine\n" }));
    inject(userChannel(4), "not json");
    inject(userChannel(4), '{"kind":"push","origin":"n2","frame":7}');
    inject(userChannel(4), encodeEnvelope({ kind: "push", origin: "n2", frame: "y\n", change: { kind: "nonsense" } as never }));
    expect(a.written).toEqual([]);
    expect(b.written).toEqual(["x\n"]);
  });

  it("hands an order to end a user's sessions to their owner, and ignores one with a reason it does not know", () => {
    const { bus, inject } = fakeBus();
    const roster = new Roster();
    const ended: [number, string][] = [];
    new Hub({ node: "n1", bus, roster, log: silentLogger, endSessions: (user, reason) => void ended.push([user, reason]) });
    const a = session(roster, 4);
    inject(userChannel(4), encodeEnvelope({ kind: "end_sessions", origin: "admin", reason: "banned" }));
    inject(userChannel(4), '{"kind":"end_sessions","origin":"admin","reason":"bored"}');
    inject(groupChannel(9), encodeEnvelope({ kind: "end_sessions", origin: "admin", reason: "banned" }));
    expect(ended).toEqual([[4, "banned"]]);
    expect(a.written).toEqual([]);
  });

  it("publishes a recipient's push always, and the sender's own copy only while the sender may be elsewhere", () => {
    const { bus, published } = fakeBus();
    const roster = new Roster();
    const hub = new Hub({ node: "n1", bus, roster, log: silentLogger });
    const me = session(roster, 1);
    hub.toUser(2, "to-recipient\n");
    hub.toUser(1, "own-copy\n", { except: me.s });
    expect(published.map((p) => p.channel)).toEqual([userChannel(2), userChannel(1)]);
    hub.onlyHere(1);
    hub.toUser(1, "own-copy-2\n", { except: me.s });
    expect(published).toHaveLength(2);
    const env = decodeEnvelope((published[0] as { message: string }).message);
    expect(env).toEqual({ kind: "push", origin: "n1", frame: "to-recipient\n" });
  });
});
