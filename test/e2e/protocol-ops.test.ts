/**
 * Every operation of PROTOCOL.md against a real server: the exact shape of
 * its `ok`, and every error code the table lists for it.
 */
import { describe, expect, test } from "bun:test";
import { FEATURES } from "../../src/protocol/features.ts";
import { befriend, PASSWORD, person, register, session, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";
import type { Wire } from "../support/wire.ts";

const srv = sharedServer({ node: "ops-1" });
const fresh = (prefix = "op") => srv.fresh(prefix);
const conn = () => srv.conn();

function err(code: string) {
  return expect.objectContaining({ type: "error", code, message: expect.any(String) });
}

describe("hello", () => {
  test("the server greets every connection with hello, protocol version 1, its node id and the extensions it offers", async () => {
    const w = await conn();
    expect(w.frames[0]).toEqual({ type: "hello", version: 1, node: "ops-1", features: [...FEATURES, "ws"] });
  });
});

describe("register", () => {
  test("returns the new user's id and name", async () => {
    const w = await conn();
    const name = uniq("reg");
    const r = await w.req({ type: "register", id: 7001, name, password: PASSWORD });
    expect(r).toEqual({ type: "ok", re: 7001, user: { id: expect.any(Number), name } });
    expect(r.user.id).toBeGreaterThan(0);
  });

  test("gives each user a different id", async () => {
    const a = await register(srv.port, uniq("reg"));
    const b = await register(srv.port, uniq("reg"));
    expect(a).not.toBe(b);
  });

  test("answers name_taken for a name already registered", async () => {
    const w = await conn();
    const name = uniq("reg");
    await w.ok({ type: "register", name, password: PASSWORD });
    expect(await w.req({ type: "register", name, password: "another-pw" })).toEqual(err("name_taken"));
  });
});

describe("login", () => {
  test("by name returns the user, friends, groups, the pending and unread counts and a token", async () => {
    const name = uniq("lg");
    const id = await register(srv.port, name);
    const w = await conn();
    const r = await w.req({ type: "login", id: 7009, name, password: PASSWORD });
    expect(r).toEqual({ type: "ok", re: 7009, user: { id, name }, friends: [], groups: [], pending: 0, unread: 0, requests: 0, token: expect.any(String) });
    expect(r.token.length).toBeGreaterThan(0);
    expect(r.token.length).toBeLessThanOrEqual(256);
  });

  test("by user id logs the same user in", async () => {
    const name = uniq("lg");
    const id = await register(srv.port, name);
    const w = await conn();
    expect((await w.ok({ type: "login", user: id, password: PASSWORD })).user).toEqual({ id, name });
  });

  test("by token alone logs the token's user in", async () => {
    const p = await fresh("lg");
    const w = await conn();
    const r = await w.ok({ type: "login", token: p.token });
    expect(r.user).toEqual({ id: p.id, name: p.name });
    expect(Object.keys(r).sort()).toEqual(["friends", "groups", "pending", "re", "requests", "token", "type", "unread", "user"]);
  });

  test("lists friends with their online state and groups with their members", async () => {
    const a = await fresh("lg");
    const b = await fresh("lg");
    const cName = uniq("lg");
    const c = await register(srv.port, cName);
    await befriend(a, b);
    await befriend(a, { id: c });
    const g = (await a.w.ok({ type: "create_group", name: uniq("g"), desc: "d" })).group;
    await b.w.ok({ type: "join_group", group: g.id });
    const again = await session(srv.port, a.name);
    srv.keep(again.w);
    expect(again.login.friends).toEqual([
      { id: b.id, name: b.name, online: true },
      { id: c, name: cName, online: false },
    ]);
    expect(again.login.groups).toEqual([
      {
        id: g.id,
        name: g.name,
        desc: "d",
        role: "creator",
        members: [
          { id: a.id, name: a.name, role: "creator", online: true },
          { id: b.id, name: b.name, role: "normal", online: true },
        ],
      },
    ]);
  });

  test("answers bad_credentials for a wrong password, an unknown name, an unknown id and an invalid token", async () => {
    const name = uniq("lg");
    const id = await register(srv.port, name);
    const w = await conn();
    expect(await w.req({ type: "login", name, password: "wrong-password" })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", user: id, password: "wrong-password" })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", name: uniq("nobody"), password: PASSWORD })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", user: 9_000_000_000, password: PASSWORD })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", token: "not-a-token" })).toEqual(err("bad_credentials"));
    // Still not logged in after all of that.
    expect(await w.req({ type: "friends" })).toEqual(err("not_logged_in"));
  });

  test("answers already_logged_in on a connection that is logged in", async () => {
    const a = await fresh("lg");
    const other = uniq("lg");
    await register(srv.port, other);
    expect(await a.w.req({ type: "login", name: a.name, password: PASSWORD })).toEqual(err("already_logged_in"));
    expect(await a.w.req({ type: "login", name: other, password: PASSWORD })).toEqual(err("already_logged_in"));
    expect(await a.w.req({ type: "login", token: a.token })).toEqual(err("already_logged_in"));
    // The session is unchanged.
    expect((await a.w.ok({ type: "friends" })).friends).toEqual([]);
  });
});

describe("logout", () => {
  test("replies an empty ok, keeps the connection open, and needs a new login for further operations", async () => {
    const a = await fresh("lo");
    expect(await a.w.req({ type: "logout", id: 7003 })).toEqual({ type: "ok", re: 7003 });
    expect(await a.w.req({ type: "friends" })).toEqual(err("not_logged_in"));
    expect(await a.w.req({ type: "ping", id: 7004 })).toEqual({ type: "ok", re: 7004 });
    const again = await a.w.ok({ type: "login", name: a.name, password: PASSWORD });
    expect(again.user.id).toBe(a.id);
  });

  test("after logout the connection may register a new user and log in as that user", async () => {
    const a = await fresh("lo");
    await a.w.ok({ type: "logout" });
    const name = uniq("lo");
    const reg = await a.w.ok({ type: "register", name, password: PASSWORD });
    expect((await a.w.ok({ type: "login", name, password: PASSWORD })).user).toEqual(reg.user);
  });

  test("answers not_logged_in when nobody is logged in", async () => {
    const w = await conn();
    expect(await w.req({ type: "logout" })).toEqual(err("not_logged_in"));
  });
});

describe("add_friend", () => {
  test("returns the friend with its online state", async () => {
    const a = await fresh("af");
    const b = await fresh("af");
    const cName = uniq("af");
    const c = await register(srv.port, cName);
    expect(await a.w.req({ type: "add_friend", id: 7005, user: b.id })).toEqual({ type: "ok", re: 7005, friend: { id: b.id, name: b.name, online: true } });
    expect(await a.w.req({ type: "add_friend", id: 7006, user: c })).toEqual({ type: "ok", re: 7006, friend: { id: c, name: cName, online: false } });
  });

  test("answers no_such_user for an id nobody has", async () => {
    const a = await fresh("af");
    expect(await a.w.req({ type: "add_friend", user: 9_000_000_000 })).toEqual(err("no_such_user"));
  });

  test("answers already_friends from either side once they are friends", async () => {
    const a = await fresh("af");
    const b = await fresh("af");
    await befriend(a, b);
    expect(await a.w.req({ type: "add_friend", user: b.id })).toEqual(err("already_friends"));
    expect(await b.w.req({ type: "add_friend", user: a.id })).toEqual(err("already_friends"));
  });

  test("answers invalid for adding yourself", async () => {
    const a = await fresh("af");
    expect(await a.w.req({ type: "add_friend", user: a.id })).toEqual(err("invalid"));
  });
});

describe("friends", () => {
  test("lists both sides of every friendship with their online state", async () => {
    const a = await fresh("fr");
    const b = await fresh("fr");
    await befriend(a, b);
    expect(await a.w.req({ type: "friends", id: "f" })).toEqual({ type: "ok", re: "f", friends: [{ id: b.id, name: b.name, online: true }] });
    expect((await b.w.ok({ type: "friends" })).friends).toEqual([{ id: a.id, name: a.name, online: true }]);
    b.w.close();
    await a.w.push("presence", (f) => f.user === b.id && f.online === false);
    expect((await a.w.ok({ type: "friends" })).friends).toEqual([{ id: b.id, name: b.name, online: false }]);
  });
});

describe("send", () => {
  test("returns the new message's mid and timestamp", async () => {
    const a = await fresh("sd");
    const b = await fresh("sd");
    await befriend(a, b);
    const before = Date.now();
    const r = await a.w.req({ type: "send", id: 7007, to: b.id, text: "hello" });
    expect(r).toEqual({ type: "ok", re: 7007, mid: expect.any(Number), ts: expect.any(Number) });
    expect(Number.isSafeInteger(r.mid) && r.mid > 0).toBe(true);
    expect(r.ts).toBeGreaterThanOrEqual(before - 1000);
    expect(r.ts).toBeLessThanOrEqual(Date.now() + 1000);
    const push = await b.w.push("msg", (f) => f.mid === r.mid);
    expect(push).toEqual({ type: "msg", mid: r.mid, from: a.id, name: a.name, to: b.id, text: "hello", ts: r.ts });
  });

  test("answers no_such_user for an id nobody has", async () => {
    const a = await fresh("sd");
    expect(await a.w.req({ type: "send", to: 9_000_000_000, text: "x" })).toEqual(err("no_such_user"));
  });

  test("answers not_friend for a user who is not a friend", async () => {
    const a = await fresh("sd");
    const b = await fresh("sd");
    expect(await a.w.req({ type: "send", to: b.id, text: "x" })).toEqual(err("not_friend"));
    expect(await b.w.req({ type: "send", to: a.id, text: "x" })).toEqual(err("not_friend"));
  });

  test("answers invalid for a message to yourself", async () => {
    const a = await fresh("sd");
    expect(await a.w.req({ type: "send", to: a.id, text: "x" })).toEqual(err("invalid"));
  });
});

describe("create_group", () => {
  test("returns the group with the creator role, and an empty description when none is given", async () => {
    const a = await fresh("cg");
    const name = uniq("grp");
    const r = await a.w.req({ type: "create_group", id: 7001, name });
    expect(r).toEqual({ type: "ok", re: 7001, group: { id: expect.any(Number), name, desc: "", role: "creator" } });
    const withDesc = await a.w.ok({ type: "create_group", name: uniq("grp"), desc: "about things" });
    expect(withDesc.group.desc).toBe("about things");
    expect(withDesc.group.id).not.toBe(r.group.id);
  });

  test("answers group_name_taken for a name in use, whoever asks", async () => {
    const a = await fresh("cg");
    const b = await fresh("cg");
    const name = uniq("grp");
    await a.w.ok({ type: "create_group", name });
    expect(await a.w.req({ type: "create_group", name })).toEqual(err("group_name_taken"));
    expect(await b.w.req({ type: "create_group", name, desc: "x" })).toEqual(err("group_name_taken"));
  });
});

describe("join_group", () => {
  test("returns the group with the normal role and every member with role and online state", async () => {
    const a = await fresh("jg");
    const b = await fresh("jg");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp"), desc: "dd" })).group;
    const r = await b.w.req({ type: "join_group", id: 7002, group: g.id });
    expect(r).toEqual({
      type: "ok",
      re: 7002,
      group: {
        id: g.id,
        name: g.name,
        desc: "dd",
        role: "normal",
        members: [
          { id: a.id, name: a.name, role: "creator", online: true },
          { id: b.id, name: b.name, role: "normal", online: true },
        ],
      },
    });
  });

  test("shows members who are offline as offline", async () => {
    const a = await fresh("jg");
    const b = await fresh("jg");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    // Its only session ends before the ok of logout.
    await a.w.ok({ type: "logout" });
    const r = await b.w.ok({ type: "join_group", group: g.id });
    expect(r.group.members).toEqual([
      { id: a.id, name: a.name, role: "creator", online: false },
      { id: b.id, name: b.name, role: "normal", online: true },
    ]);
  });

  test("answers no_such_group for an id no group has", async () => {
    const a = await fresh("jg");
    expect(await a.w.req({ type: "join_group", group: 9_000_000_000 })).toEqual(err("no_such_group"));
  });

  test("answers already_member for the creator and for a member joining again", async () => {
    const a = await fresh("jg");
    const b = await fresh("jg");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    expect(await a.w.req({ type: "join_group", group: g.id })).toEqual(err("already_member"));
    await b.w.ok({ type: "join_group", group: g.id });
    expect(await b.w.req({ type: "join_group", group: g.id })).toEqual(err("already_member"));
  });
});

describe("leave_group", () => {
  test("replies an empty ok and the user is no longer a member", async () => {
    const a = await fresh("lv");
    const b = await fresh("lv");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    await b.w.ok({ type: "join_group", group: g.id });
    expect(await b.w.req({ type: "leave_group", id: 7008, group: g.id })).toEqual({ type: "ok", re: 7008 });
    expect((await b.w.ok({ type: "groups" })).groups).toEqual([]);
    expect(await b.w.req({ type: "group_send", group: g.id, text: "x" })).toEqual(err("not_member"));
    // And may join again.
    expect((await b.w.ok({ type: "join_group", group: g.id })).group.role).toBe("normal");
  });

  test("answers no_such_group for an id no group has", async () => {
    const a = await fresh("lv");
    expect(await a.w.req({ type: "leave_group", group: 9_000_000_000 })).toEqual(err("no_such_group"));
  });

  test("answers not_member for a group the user never joined or already left", async () => {
    const a = await fresh("lv");
    const b = await fresh("lv");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    expect(await b.w.req({ type: "leave_group", group: g.id })).toEqual(err("not_member"));
    await b.w.ok({ type: "join_group", group: g.id });
    await b.w.ok({ type: "leave_group", group: g.id });
    expect(await b.w.req({ type: "leave_group", group: g.id })).toEqual(err("not_member"));
  });
});

describe("group_send", () => {
  test("returns mid and timestamp and pushes the message to the other members", async () => {
    const a = await fresh("gs");
    const b = await fresh("gs");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    await b.w.ok({ type: "join_group", group: g.id });
    const r = await a.w.req({ type: "group_send", id: 7004, group: g.id, text: "to all" });
    expect(r).toEqual({ type: "ok", re: 7004, mid: expect.any(Number), ts: expect.any(Number) });
    expect(await b.w.push("msg", (f) => f.mid === r.mid)).toEqual({
      type: "msg",
      mid: r.mid,
      from: a.id,
      name: a.name,
      group: g.id,
      text: "to all",
      ts: r.ts,
    });
  });

  test("answers no_such_group for an id no group has", async () => {
    const a = await fresh("gs");
    expect(await a.w.req({ type: "group_send", group: 9_000_000_000, text: "x" })).toEqual(err("no_such_group"));
  });

  test("answers not_member for a group the user is not in", async () => {
    const a = await fresh("gs");
    const b = await fresh("gs");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    expect(await b.w.req({ type: "group_send", group: g.id, text: "x" })).toEqual(err("not_member"));
  });
});

describe("ack", () => {
  test("returns how many of the given mids were pending", async () => {
    const a = await fresh("ak");
    const b = await fresh("ak");
    await befriend(a, b);
    const m1 = (await a.w.ok({ type: "send", to: b.id, text: "1" })).mid;
    const m2 = (await a.w.ok({ type: "send", to: b.id, text: "2" })).mid;
    expect(await b.w.req({ type: "ack", id: 7001, mids: [m1] })).toEqual({ type: "ok", re: 7001, acked: 1 });
    expect(await b.w.req({ type: "ack", id: 7002, mids: [m1, m2, 9_000_000_000] })).toEqual({ type: "ok", re: 7002, acked: 1 });
    expect(await b.w.req({ type: "ack", id: 7003, mids: [m1, m2] })).toEqual({ type: "ok", re: 7003, acked: 0 });
  });

  test("counts a mid given twice once", async () => {
    const a = await fresh("ak");
    const b = await fresh("ak");
    await befriend(a, b);
    const m = (await a.w.ok({ type: "send", to: b.id, text: "1" })).mid;
    expect((await b.w.ok({ type: "ack", mids: [m, m, m] })).acked).toBe(1);
  });

  test("accepts 1000 mids in one ack", async () => {
    const a = await fresh("ak");
    const mids = Array.from({ length: 1000 }, (_, i) => 8_000_000_000 + i);
    expect((await a.w.ok({ type: "ack", mids })).acked).toBe(0);
  });
});

describe("history", () => {
  test("returns the conversation's messages as msg bodies, ascending by mid", async () => {
    const a = await fresh("hs");
    const b = await fresh("hs");
    await befriend(a, b);
    const m1 = await a.w.ok({ type: "send", to: b.id, text: "one" });
    const m2 = await b.w.ok({ type: "send", to: a.id, text: "two" });
    const r = await a.w.req({ type: "history", id: 7011, with: b.id });
    expect(r).toEqual({
      type: "ok",
      re: 7011,
      messages: [
        { mid: m1.mid, from: a.id, name: a.name, to: b.id, text: "one", ts: m1.ts },
        { mid: m2.mid, from: b.id, name: b.name, to: a.id, text: "two", ts: m2.ts },
      ],
    });
  });

  test("returns an empty list for a friend with no messages yet", async () => {
    const a = await fresh("hs");
    const b = await fresh("hs");
    await befriend(a, b);
    expect((await a.w.ok({ type: "history", with: b.id })).messages).toEqual([]);
  });

  test("returns a group's messages with the group id and no recipient", async () => {
    const a = await fresh("hs");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    const m = await a.w.ok({ type: "group_send", group: g.id, text: "hey" });
    expect((await a.w.ok({ type: "history", group: g.id })).messages).toEqual([
      { mid: m.mid, from: a.id, name: a.name, group: g.id, text: "hey", ts: m.ts },
    ]);
  });

  test("answers not_friend for a user who is not a friend, or does not exist", async () => {
    const a = await fresh("hs");
    const b = await fresh("hs");
    expect(await a.w.req({ type: "history", with: b.id })).toEqual(err("not_friend"));
    expect(await a.w.req({ type: "history", with: 9_000_000_000 })).toEqual(err("not_friend"));
  });

  test("answers not_member for a group the user is not in", async () => {
    const a = await fresh("hs");
    const b = await fresh("hs");
    const g = (await a.w.ok({ type: "create_group", name: uniq("grp") })).group;
    expect(await b.w.req({ type: "history", group: g.id })).toEqual(err("not_member"));
  });

  test("answers no_such_group for an id no group has", async () => {
    const a = await fresh("hs");
    expect(await a.w.req({ type: "history", group: 9_000_000_000 })).toEqual(err("no_such_group"));
  });
});

describe("groups", () => {
  test("lists the user's groups with role, description and members", async () => {
    const a = await fresh("gr");
    const b = await fresh("gr");
    const g1 = (await a.w.ok({ type: "create_group", name: uniq("grp"), desc: "first" })).group;
    const g2 = (await b.w.ok({ type: "create_group", name: uniq("grp") })).group;
    await a.w.ok({ type: "join_group", group: g2.id });
    expect(await a.w.req({ type: "groups", id: 7012 })).toEqual({
      type: "ok",
      re: 7012,
      groups: [
        { id: g1.id, name: g1.name, desc: "first", role: "creator", members: [{ id: a.id, name: a.name, role: "creator", online: true }] },
        {
          id: g2.id,
          name: g2.name,
          desc: "",
          role: "normal",
          members: [
            { id: b.id, name: b.name, role: "creator", online: true },
            { id: a.id, name: a.name, role: "normal", online: true },
          ],
        },
      ],
    });
  });
});

describe("ping", () => {
  test("replies an empty ok, logged in or not", async () => {
    const w = await conn();
    expect(await w.req({ type: "ping", id: 7001 })).toEqual({ type: "ok", re: 7001 });
    const a = await fresh("pg");
    expect(await a.w.req({ type: "ping", id: "p" })).toEqual({ type: "ok", re: "p" });
  });
});
