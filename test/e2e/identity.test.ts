/**
 * Identity comes only from the login on the connection: fields that name a
 * user in a request never make the client act as someone else; logout ends
 * only its own session and revokes its tokens; token login.
 */
import { describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, PASSWORD, type Person, person, register, session, sharedServer } from "../support/conformance.ts";
import { startTestServer, uniq } from "../support/server.ts";
import { waitUntil } from "../support/wait.ts";
import type { Wire } from "../support/wire.ts";

const srv = sharedServer();
const fresh = (prefix = "id") => srv.fresh(prefix);
const conn = () => srv.conn();

function err(code: string) {
  return expect.objectContaining({ type: "error", code });
}

describe("a client cannot act as another user", () => {
  test("from, user, sender, name and user_id fields in send are ignored: the message is from the logged-in user", async () => {
    const a = await fresh();
    const b = await fresh();
    const c = await fresh();
    await befriend(a, b);
    await befriend(c, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "who am i", from: c.id, user: c.id, sender: c.id, user_id: c.id, name: c.name });
    expect(await b.w.push("msg", (f) => f.mid === m.mid)).toEqual({ type: "msg", mid: m.mid, from: a.id, name: a.name, to: b.id, text: "who am i", ts: m.ts });
    const history = (await b.w.ok({ type: "history", with: a.id })).messages;
    expect(history).toEqual([expect.objectContaining({ mid: m.mid, from: a.id, name: a.name })]);
    expect((await b.w.ok({ type: "history", with: c.id })).messages).toEqual([]);
  });

  test("a group message claiming another sender is from the logged-in user", async () => {
    const a = await fresh();
    const c = await fresh();
    const g = (await c.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await a.w.ok({ type: "join_group", group: g });
    const m = await a.w.ok({ type: "group_send", group: g, text: "hi", from: c.id, user: c.id, name: c.name });
    expect(await c.w.push("msg", (f) => f.mid === m.mid)).toEqual(expect.objectContaining({ from: a.id, name: a.name }));
  });

  test("a send to a user who is a friend of someone else, but not of the sender, is refused whatever from says", async () => {
    const a = await fresh();
    const b = await fresh();
    const c = await fresh();
    await befriend(c, b);
    expect(await a.w.req({ type: "send", to: b.id, text: "x", from: c.id })).toEqual(err("not_friend"));
    expect(await a.w.req({ type: "history", with: b.id, user: c.id })).toEqual(err("not_friend"));
  });

  test("an ack naming another user acks nothing of theirs", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const m = await a.w.ok({ type: "send", to: b.id, text: "x" });
    expect((await a.w.ok({ type: "ack", mids: [m.mid], user: b.id })).acked).toBe(0);
    expect((await b.w.ok({ type: "ack", mids: [m.mid] })).acked).toBe(1);
  });

  test("a group history request naming another user is refused for a non-member", async () => {
    const a = await fresh();
    const c = await fresh();
    const g = (await c.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    expect(await a.w.req({ type: "history", group: g, user: c.id })).toEqual(err("not_member"));
    expect(await a.w.req({ type: "group_send", group: g, text: "x", user: c.id })).toEqual(err("not_member"));
  });

  test("a login by user id with another user's password is bad_credentials", async () => {
    const a = await fresh();
    const bName = uniq("id");
    await register(srv.port, bName, "other-password");
    const w = await conn();
    expect(await w.req({ type: "login", user: a.id, password: "other-password" })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", name: bName, password: PASSWORD })).toEqual(err("bad_credentials"));
  });

  test("names match exactly at login: a trailing space or different case is bad_credentials", async () => {
    const name = uniq("Exact");
    await register(srv.port, name);
    const w = await conn();
    expect(await w.req({ type: "login", name: `${name} `, password: PASSWORD })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", name: name.toLowerCase(), password: PASSWORD })).toEqual(err("bad_credentials"));
    expect((await w.ok({ type: "login", name, password: PASSWORD })).user.name).toBe(name);
  });
});

describe("logout", () => {
  test("logout ends only this session: the user's other session keeps sending and receiving", async () => {
    const a1 = await fresh();
    const a2 = await session(srv.port, a1.name);
    srv.keep(a2.w);
    const b = await fresh();
    await befriend(a1, b);
    await a1.w.ok({ type: "logout" });
    const from = a1.w.frames.length;
    expect(await a1.w.req({ type: "send", to: b.id, text: "x" })).toEqual(err("not_logged_in"));
    const sent = await a2.w.ok({ type: "send", to: b.id, text: "still here" });
    await b.w.push("msg", (f) => f.mid === sent.mid);
    const m = await b.w.ok({ type: "send", to: a1.id, text: "for a" });
    expect((await a2.w.push("msg", (f) => f.mid === m.mid)).text).toBe("for a");
    // The logged-out connection gets no pushes for the user any more.
    expect((await framesUntilPing(a1.w, from)).filter((f) => f.type === "msg")).toEqual([]);
  });

  test("after logout and a login as another user, the connection acts only as the new user", async () => {
    const a = await fresh();
    const b = await fresh();
    const c = await fresh();
    await befriend(a, c);
    await befriend(b, c);
    await a.w.ok({ type: "logout" });
    const ok = await a.w.ok({ type: "login", name: b.name, password: PASSWORD });
    expect(ok.user).toEqual({ id: b.id, name: b.name });
    const m = await a.w.ok({ type: "send", to: c.id, text: "as b" });
    expect(await c.w.push("msg", (f) => f.mid === m.mid)).toEqual(expect.objectContaining({ from: b.id, name: b.name }));
    // Messages for the old user no longer arrive here.
    const from = a.w.frames.length;
    const forA = await c.w.ok({ type: "send", to: a.id, text: "for a" });
    expect((await framesUntilPing(a.w, from)).filter((f) => f.mid === forA.mid)).toEqual([]);
  });

  test("the token of a logged-out session no longer works", async () => {
    const a = await fresh();
    await a.w.ok({ type: "logout" });
    const w = await conn();
    expect(await w.req({ type: "login", token: a.token })).toEqual(err("bad_credentials"));
  });

  test("logout revokes the token the session logged in with and the one it was given, not other sessions' tokens", async () => {
    const a1 = await fresh();
    const viaToken = await conn();
    const t2 = (await viaToken.ok({ type: "login", token: a1.token })).token;
    const other = await session(srv.port, a1.name);
    srv.keep(other.w);
    await viaToken.ok({ type: "logout" });
    for (const token of [a1.token, t2]) expect(await (await conn()).req({ type: "login", token })).toEqual(err("bad_credentials"));
    // The session that first got a1.token is still logged in, and another session's token still works.
    expect((await a1.w.ok({ type: "friends" })).friends).toEqual([]);
    expect((await (await conn()).ok({ type: "login", token: other.token })).user.id).toBe(a1.id);
  });

  test("closing the connection without logout leaves its token working", async () => {
    const a = await fresh();
    a.w.close();
    await a.w.closedPromise();
    const w = await conn();
    expect((await w.ok({ type: "login", token: a.token })).user).toEqual({ id: a.id, name: a.name });
  });
});

describe("token login", () => {
  test("a token logs the same user in and returns a fresh token, while the old one keeps working", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const w = await conn();
    const ok = await w.ok({ type: "login", token: a.token });
    expect(ok.user).toEqual({ id: a.id, name: a.name });
    expect(ok.friends).toEqual([{ id: b.id, name: b.name, online: true }]);
    expect(ok.token).toEqual(expect.any(String));
    expect(ok.token).not.toBe(a.token);
    const w2 = await conn();
    const ok2 = await w2.ok({ type: "login", token: a.token });
    expect(ok2.token).not.toBe(ok.token);
    expect(ok2.user.id).toBe(a.id);
    // The fresh token works too.
    expect((await (await conn()).ok({ type: "login", token: ok.token })).user.id).toBe(a.id);
  });

  test("a session logged in by token acts as the token's user", async () => {
    const a = await fresh();
    const b = await fresh();
    await befriend(a, b);
    const w = await conn();
    await w.ok({ type: "login", token: a.token });
    const m = await w.ok({ type: "send", to: b.id, text: "via token" });
    expect(await b.w.push("msg", (f) => f.mid === m.mid)).toEqual(expect.objectContaining({ from: a.id, name: a.name }));
  });

  test("a token with one character changed is bad_credentials", async () => {
    const a = await fresh();
    const flipped = (a.token[0] === "A" ? "B" : "A") + a.token.slice(1);
    expect(await (await conn()).req({ type: "login", token: flipped })).toEqual(err("bad_credentials"));
  });

  test("an expired token is bad_credentials", async () => {
    const short = await startTestServer({ tokenTtlMs: 1 });
    try {
      const name = uniq("exp");
      await register(short.port, name);
      const w = await short.connect();
      const { token } = await w.ok({ type: "login", name, password: PASSWORD });
      // The token lives 1 ms; the clock has to pass that, there is no event to wait for.
      await Bun.sleep(5);
      const w2 = await short.connect();
      expect(await w2.req({ type: "login", token })).toEqual(err("bad_credentials"));
      w.close();
      w2.close();
    } finally {
      await short.stop();
    }
  });

  test("expired tokens are deleted from the database, live ones kept", async () => {
    const short = await startTestServer({ tokenTtlMs: 1, tokenPurgeIntervalMs: 50 });
    try {
      const name = uniq("purge");
      await register(short.port, name);
      const w = await short.connect();
      await w.ok({ type: "login", name, password: PASSWORD });
      const count = async () => ((await short.pool.query("SELECT COUNT(*) AS n FROM tokens")) as [{ n: number }[], unknown])[0][0]?.n;
      expect(await count()).toBe(1);
      await waitUntil("the expired token to be purged", async () => (await count()) === 0, 5000);
      w.close();
    } finally {
      await short.stop();
    }
  });
});
