/**
 * The errors any request can get, which error wins when several apply, the
 * request id rules, field validation (bad_frame naming the field, ids,
 * code-point lengths), and what the server must ignore.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, PASSWORD, type Person, person, rawReply, register, sharedServer } from "../support/conformance.ts";
import { startTestServer, uniq } from "../support/server.ts";
import type { Wire } from "../support/wire.ts";

const srv = sharedServer();
const conn = () => srv.conn();
/** A logged-in user with a friend and a group, for requests that need them. */
let me: Person;
let friend: Person;
let group: number;

const TWO_53 = 2 ** 53;

beforeAll(async () => {
  me = await srv.fresh("me");
  friend = await srv.fresh("fr");
  await befriend(me, friend);
  group = (await me.w.ok({ type: "create_group", name: uniq("grp") })).group.id;
});

function err(code: string) {
  return expect.objectContaining({ type: "error", code, message: expect.any(String) });
}

/** An error reply without `re`, as for requests whose id could not be read. */
function errNoRe(code: string) {
  return { type: "error", code, message: expect.any(String) };
}

describe("generic errors", () => {
  test("a line that is not JSON gets bad_frame without re, and the connection stays usable", async () => {
    const w = await conn();
    expect(await rawReply(w, "{not json\n")).toEqual(errNoRe("bad_frame"));
    expect(await rawReply(w, '{"type":"ping","id":1\n')).toEqual(errNoRe("bad_frame"));
    expect(await w.req({ type: "ping", id: 50 })).toEqual({ type: "ok", re: 50 });
  });

  test("JSON that is not an object gets bad_frame without re", async () => {
    const w = await conn();
    for (const text of ["[1,2]", '"ping"', "42", "null", "true", '[{"type":"ping","id":1}]'])
      expect(await rawReply(w, `${text}\n`)).toEqual(errNoRe("bad_frame"));
  });

  test("a frame without a string type gets bad_frame naming type, with re", async () => {
    const w = await conn();
    const missing = await w.req({ id: 51 });
    expect(missing).toEqual({ type: "error", re: 51, code: "bad_frame", message: expect.stringContaining("type") });
    const numeric = await w.req({ type: 5, id: 52 });
    expect(numeric).toEqual({ type: "error", re: 52, code: "bad_frame", message: expect.stringContaining("type") });
  });

  test("an unknown type gets unknown_type with re, including names of Object's own properties", async () => {
    const w = await conn();
    for (const [i, type] of ["nope", "ok", "error", "hello", "msg", "__proto__", "constructor", "toString", "PING", ""].entries())
      expect(await w.req({ type, id: 60 + i })).toEqual({ type: "error", re: 60 + i, code: "unknown_type", message: expect.any(String) });
  });

  test("every operation but register, login and ping answers not_logged_in before login", async () => {
    const w = await conn();
    const requests = [
      { type: "logout" },
      { type: "add_friend", user: friend.id },
      { type: "send", to: friend.id, text: "x" },
      { type: "create_group", name: uniq("grp") },
      { type: "join_group", group },
      { type: "leave_group", group },
      { type: "group_send", group, text: "x" },
      { type: "ack", mids: [1] },
      { type: "history", with: friend.id },
      { type: "history", group },
      { type: "friends" },
      { type: "groups" },
    ];
    for (const r of requests) expect(await w.req(r)).toEqual(err("not_logged_in"));
    expect(await w.req({ type: "ping" })).toEqual(expect.objectContaining({ type: "ok" }));
    const name = uniq("nl");
    expect(await w.req({ type: "register", name, password: PASSWORD })).toEqual(expect.objectContaining({ type: "ok" }));
    expect(await w.req({ type: "login", name, password: PASSWORD })).toEqual(expect.objectContaining({ type: "ok" }));
  });

  test("every reply to a request without id has no re at all", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('{"type":"ping"}\n{"type":"nope"}\n{"type":"friends"}\n{"type":"send"}\n');
    const replies = (await framesUntilPing(w, from)).filter((f) => f.type === "ok" || f.type === "error");
    expect(replies).toEqual([{ type: "ok" }, errNoRe("unknown_type"), errNoRe("not_logged_in"), errNoRe("bad_frame")]);
    for (const r of replies) expect(Object.hasOwn(r, "re")).toBe(false);
  });
});

describe("rate limits", () => {
  test("a request over the rate limit gets rate_limited with its re: every request still gets exactly one reply", async () => {
    const slow = await startTestServer({ rateLimit: 1, rateBurst: 5 });
    try {
      const w = await slow.connect();
      const from = w.frames.length;
      w.write(Array.from({ length: 40 }, (_, i) => `{"type":"ping","id":${i}}\n`).join(""));
      await w.next((f) => f.re === 39, 10_000, from);
      const replies = w.frames.slice(from);
      expect(replies.map((r) => r.re)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(replies.slice(0, 5).every((r) => r.type === "ok")).toBe(true);
      const limited = replies.filter((r) => r.type === "error");
      expect(limited.length).toBeGreaterThan(0);
      for (const r of limited) expect(r).toEqual({ type: "error", re: r.re, code: "rate_limited", message: expect.any(String) });
      // The connection stays open.
      expect(w.closed).toBe(false);
      w.close();
    } finally {
      await slow.stop();
    }
  });
});

describe("request ids", () => {
  test("zero, large safe integers and strings up to 64 characters are echoed as re", async () => {
    const w = await conn();
    for (const id of [0, 1, TWO_53 - 1, "", "abc", "x".repeat(64), "😀".repeat(64), "名".repeat(64), '"quoted\\"\n']) {
      expect(await w.req({ type: "ping", id })).toEqual({ type: "ok", re: id });
    }
  });

  test("an id that is negative, fractional, 2^53 or more, too long or not a number or string gets bad_frame without re", async () => {
    const w = await conn();
    const bad = ["-1", "1.5", "9007199254740992", "9007199254740993", "1e300", JSON.stringify("x".repeat(65)), JSON.stringify("😀".repeat(65)), "null", "true", "[1]", '{"n":1}'];
    for (const id of bad) {
      const r = await rawReply(w, `{"type":"ping","id":${id}}\n`);
      expect(r).toEqual(errNoRe("bad_frame"));
      expect(r.message).toContain("id");
    }
  });

  test("the same id may be reused, and every reply carries its own request's id", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('{"type":"ping","id":"same"}\n{"type":"nope","id":"same"}\n{"type":"ping","id":7}\n');
    const replies = await framesUntilPing(w, from);
    expect(replies).toEqual([{ type: "ok", re: "same" }, { ...errNoRe("unknown_type"), re: "same" }, { type: "ok", re: 7 }]);
  });
});

describe("which error wins", () => {
  test("a malformed id wins over an unknown type", async () => {
    const w = await conn();
    expect(await rawReply(w, '{"type":"nope","id":-1}\n')).toEqual(errNoRe("bad_frame"));
  });

  test("unknown_type wins over malformed fields", async () => {
    const w = await conn();
    expect(await w.req({ type: "nope", to: "x", text: 5 })).toEqual(err("unknown_type"));
  });

  test("bad_frame for the fields wins over not_logged_in", async () => {
    const w = await conn();
    expect(await w.req({ type: "send", to: "x", text: "hi" })).toEqual(err("bad_frame"));
    expect(await w.req({ type: "ack", mids: [] })).toEqual(err("bad_frame"));
    expect(await w.req({ type: "history" })).toEqual(err("bad_frame"));
  });

  test("not_logged_in wins over the operation's own errors", async () => {
    const w = await conn();
    expect(await w.req({ type: "send", to: 9_000_000_000, text: "x" })).toEqual(err("not_logged_in"));
    expect(await w.req({ type: "join_group", group: 9_000_000_000 })).toEqual(err("not_logged_in"));
    expect(await w.req({ type: "history", with: 9_000_000_000 })).toEqual(err("not_logged_in"));
  });

  test("invalid wins over the operation's listed errors", async () => {
    // Sending to yourself: you are also not your own friend.
    expect(await me.w.req({ type: "send", to: me.id, text: "x" })).toEqual(err("invalid"));
    expect(await me.w.req({ type: "history", with: me.id })).toEqual(err("invalid"));
  });

  test("send: no_such_user wins over not_friend", async () => {
    // An unknown user is no friend either; the table lists no_such_user first.
    expect(await me.w.req({ type: "send", to: 9_000_000_001, text: "x" })).toEqual(err("no_such_user"));
  });

  test("login: bad_credentials wins over already_logged_in", async () => {
    expect(await me.w.req({ type: "login", name: me.name, password: "wrong-password" })).toEqual(err("bad_credentials"));
    expect(await me.w.req({ type: "login", token: "not-a-token" })).toEqual(err("bad_credentials"));
  });

  test("group operations: no_such_group wins over not_member", async () => {
    for (const r of [
      { type: "leave_group", group: 9_000_000_000 },
      { type: "group_send", group: 9_000_000_000, text: "x" },
      { type: "history", group: 9_000_000_000 },
    ])
      expect(await friend.w.req(r)).toEqual(err("no_such_group"));
  });
});

describe("field validation", () => {
  test("bad_frame names the offending field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "send", text: "x" }, "to"],
      [{ type: "send", to: friend.id }, "text"],
      [{ type: "send", to: "1", text: "x" }, "to"],
      [{ type: "send", to: friend.id, text: 5 }, "text"],
      [{ type: "send", to: friend.id, text: "" }, "text"],
      [{ type: "add_friend", user: 1.5 }, "user"],
      [{ type: "join_group", group: 0 }, "group"],
      [{ type: "group_send", group, text: ["x"] }, "text"],
      [{ type: "ack", mids: [1, "2"] }, "mids"],
      [{ type: "ack", mids: "1" }, "mids"],
      [{ type: "ack", mids: Array.from({ length: 1001 }, (_, i) => i + 1) }, "mids"],
      [{ type: "history", with: friend.id, limit: 0 }, "limit"],
      [{ type: "history", with: friend.id, limit: 101 }, "limit"],
      [{ type: "history", with: friend.id, limit: 2.5 }, "limit"],
      [{ type: "history", with: friend.id, before: -3 }, "before"],
      [{ type: "history", with: "me" }, "with"],
      [{ type: "create_group", name: "" }, "name"],
      [{ type: "create_group", name: uniq("g"), desc: 7 }, "desc"],
      [{ type: "create_group", name: uniq("g"), desc: "d".repeat(257) }, "desc"],
    ];
    for (const [frame, field] of cases) {
      const r = await me.w.req(frame);
      expect(r).toEqual(err("bad_frame"));
      if (!r.message.includes(field)) throw new Error(`${JSON.stringify(frame).slice(0, 100)}: message ${JSON.stringify(r.message)} does not name ${field}`);
    }
  });

  test("register checks name and password and names the field", async () => {
    const w = await conn();
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "", password: PASSWORD }, "name"],
      [{ name: "x".repeat(33), password: PASSWORD }, "name"],
      [{ name: " lead", password: PASSWORD }, "name"],
      [{ name: "trail ", password: PASSWORD }, "name"],
      [{ name: "tab\there", password: PASSWORD }, "name"],
      [{ name: "nl\nhere", password: PASSWORD }, "name"],
      [{ name: "nul\u0000here", password: PASSWORD }, "name"],
      [{ name: "del\u007fhere", password: PASSWORD }, "name"],
      [{ password: PASSWORD }, "name"],
      [{ name: 12, password: PASSWORD }, "name"],
      [{ name: uniq("r") }, "password"],
      [{ name: uniq("r"), password: "12345" }, "password"],
      [{ name: uniq("r"), password: "p".repeat(129) }, "password"],
    ];
    for (const [fields, field] of cases) {
      const r = await w.req({ type: "register", ...fields });
      expect(r).toEqual(err("bad_frame"));
      expect(r.message).toContain(field);
    }
  });

  test("ids of 2^53 or more, zero, negative, fractional or non-numeric ids are bad_frame", async () => {
    const bad = [TWO_53, TWO_53 + 2, 1e300, 0, -1, -TWO_53, 1.5, "7", null, true, [1], { id: 1 }];
    for (const v of bad) {
      for (const [frame, field] of [
        [{ type: "add_friend", user: v }, "user"],
        [{ type: "send", to: v, text: "x" }, "to"],
        [{ type: "join_group", group: v }, "group"],
        [{ type: "history", with: v }, "with"],
        [{ type: "history", with: friend.id, before: v }, "before"],
        [{ type: "ack", mids: [v] }, "mids"],
      ] as const) {
        const r = await me.w.req(frame);
        if (r.code !== "bad_frame" || !r.message.includes(field)) throw new Error(`${JSON.stringify(frame)} got ${JSON.stringify(r)}`);
      }
    }
  });

  test("ids written in JSON as 2^53 and above are bad_frame even though they round to a double", async () => {
    for (const big of ["9007199254740992", "9007199254740993", "18446744073709551615", "1e16"]) {
      const r = await rawReply(me.w, `{"type":"send","id":"big","to":${big},"text":"x"}\n`);
      expect(r).toEqual({ type: "error", re: "big", code: "bad_frame", message: expect.stringContaining("to") });
    }
  });

  test("the largest id, 2^53 - 1, is well formed and simply names nobody", async () => {
    expect(await me.w.req({ type: "add_friend", user: TWO_53 - 1 })).toEqual(err("no_such_user"));
    expect(await me.w.req({ type: "join_group", group: TWO_53 - 1 })).toEqual(err("no_such_group"));
    expect((await me.w.ok({ type: "ack", mids: [TWO_53 - 1] })).acked).toBe(0);
    expect((await me.w.ok({ type: "history", with: friend.id, before: TWO_53 - 1 })).messages).toBeArray();
  });

  test("login needs name or user with password, or a token alone", async () => {
    const w = await conn();
    for (const fields of [{}, { password: PASSWORD }, { name: me.name }, { token: me.token, password: PASSWORD }, { token: me.token, name: me.name }, { name: me.name, user: me.id, password: PASSWORD }])
      expect(await w.req({ type: "login", ...fields })).toEqual(err("bad_frame"));
  });

  test("history needs exactly one of with and group", async () => {
    expect(await me.w.req({ type: "history" })).toEqual(err("bad_frame"));
    expect(await me.w.req({ type: "history", with: friend.id, group })).toEqual(err("bad_frame"));
  });
});

describe("lengths count code points", () => {
  test("a name of 32 emoji is valid and one of 33 is not", async () => {
    const w = await conn();
    // Each server has a fresh database, so fixed names are free.
    const name = "😀".repeat(32);
    expect(await w.req({ type: "register", name, password: PASSWORD })).toEqual(expect.objectContaining({ type: "ok", user: { id: expect.any(Number), name } }));
    expect((await w.ok({ type: "login", name, password: PASSWORD })).user.name).toBe(name);
    const r = await w.req({ type: "register", name: "😀".repeat(33), password: PASSWORD });
    expect(r).toEqual(err("bad_frame"));
    expect(r.message).toContain("name");
  });

  test("a name of 32 CJK characters, or of letters and combining marks making 32 code points, is valid", async () => {
    const cjk = "名".repeat(32);
    expect(await register(srv.port, cjk)).toBeGreaterThan(0);
    // 16 letters each followed by a combining accent: 32 code points.
    const combining = "e\u0301".repeat(15) + "a\u0308";
    const w = await conn();
    expect((await w.ok({ type: "register", name: combining, password: PASSWORD })).user.name).toBe(combining);
    expect(await w.req({ type: "register", name: `${combining}x`, password: PASSWORD })).toEqual(err("bad_frame"));
  });

  test("a password of 6 emoji is long enough and one of 5 is not", async () => {
    const w = await conn();
    const name = uniq("pw");
    expect(await w.req({ type: "register", name, password: "🔑".repeat(5) })).toEqual(err("bad_frame"));
    await w.ok({ type: "register", name, password: "🔑".repeat(6) });
    await w.ok({ type: "login", name, password: "🔑".repeat(6) });
  });

  test("a text of 4096 CJK characters or 4096 emoji is sent and 4097 is not", async () => {
    for (const ch of ["中", "😀"]) {
      const ok = await me.w.req({ type: "send", to: friend.id, text: ch.repeat(4096) });
      expect(ok).toEqual(expect.objectContaining({ type: "ok", mid: expect.any(Number) }));
      expect((await friend.w.push("msg", (f) => f.mid === ok.mid)).text).toBe(ch.repeat(4096));
      const r = await me.w.req({ type: "send", to: friend.id, text: ch.repeat(4097) });
      expect(r).toEqual(err("bad_frame"));
      expect(r.message).toContain("text");
      const g = await me.w.req({ type: "group_send", group, text: ch.repeat(4097) });
      expect(g).toEqual(err("bad_frame"));
    }
  });

  test("a group name of 64 emoji and a description of 256 emoji are valid, one more is not", async () => {
    const name = "🎉".repeat(64);
    const r = await me.w.req({ type: "create_group", name, desc: "📝".repeat(256) });
    expect(r).toEqual(expect.objectContaining({ type: "ok", group: expect.objectContaining({ name, desc: "📝".repeat(256) }) }));
    expect(await me.w.req({ type: "create_group", name: "🎉".repeat(65) })).toEqual(err("bad_frame"));
    expect(await me.w.req({ type: "create_group", name: uniq("g"), desc: "📝".repeat(257) })).toEqual(err("bad_frame"));
    const groups = (await me.w.ok({ type: "groups" })).groups;
    expect(groups.find((g: { id: number }) => g.id === r.group.id)).toEqual(expect.objectContaining({ name, desc: "📝".repeat(256) }));
  });

  test("a text with an unpaired surrogate is not Unicode text and gets bad_frame", async () => {
    // JSON can escape a lone surrogate; no UTF-8 store can keep it, so history would differ from the push.
    for (const text of ["a\ud800b", "\udc00", "x\ud83d"]) {
      const r = await rawReply(me.w, `{"type":"send","to":${friend.id},"text":${JSON.stringify(text)}}\n`);
      expect(r).toEqual(errNoRe("bad_frame"));
      expect(r.message).toContain("text");
    }
    const w = await conn();
    expect(await w.req({ type: "register", name: `${uniq("s")}\ud800`, password: PASSWORD })).toEqual(err("bad_frame"));
  });
});

describe("what the server ignores", () => {
  test("unknown fields in any request are ignored", async () => {
    const extra = { future: { nested: [1, "two"] }, v: 2, from: 1, flag: true };
    const w = await conn();
    const name = uniq("ex");
    expect(await w.req({ type: "ping", ...extra })).toEqual(expect.objectContaining({ type: "ok" }));
    expect((await w.ok({ type: "register", name, password: PASSWORD, ...extra })).user.name).toBe(name);
    expect((await w.ok({ type: "login", name, password: PASSWORD, ...extra })).user.name).toBe(name);
    const self = await w.ok({ type: "friends", ...extra });
    expect(self.friends).toEqual([]);
    const f = await w.ok({ type: "add_friend", user: friend.id, ...extra });
    const sent = await w.ok({ type: "send", to: friend.id, text: "extra", ...extra });
    expect(f.friend.id).toBe(friend.id);
    const msg = await friend.w.push("msg", (m) => m.mid === sent.mid);
    expect(msg.text).toBe("extra");
    const g = await w.ok({ type: "create_group", name: uniq("g"), ...extra });
    await w.ok({ type: "group_send", group: g.group.id, text: "x", ...extra });
    await w.ok({ type: "history", with: friend.id, ...extra });
    await w.ok({ type: "groups", ...extra });
    expect((await friend.w.ok({ type: "ack", mids: [sent.mid], ...extra })).acked).toBe(1);
    await w.ok({ type: "leave_group", group: g.group.id, ...extra });
    await w.ok({ type: "logout", ...extra });
  });

  test("empty lines are ignored: they get no reply", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('\n\n\n{"type":"ping","id":"a"}\n\n{"type":"ping","id":"b"}\n\n');
    const frames = await framesUntilPing(w, from);
    expect(frames).toEqual([
      { type: "ok", re: "a" },
      { type: "ok", re: "b" },
    ]);
  });
});
