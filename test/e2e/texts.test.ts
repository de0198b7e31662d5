/**
 * Texts and names round-trip verbatim: quotes, backslashes, NUL, newlines,
 * emoji, Chinese, right-to-left and combining characters come back exactly
 * as sent, through send, push, history, pending replay, and register/login.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { befriend, framesUntilPing, PASSWORD, type Person, person, register, session, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";
import type { Wire } from "../support/wire.ts";

const srv = sharedServer();
const fresh = (prefix = "tx") => srv.fresh(prefix);

const TEXTS: [string, string][] = [
  ["double and single quotes", `she said "hi" and 'bye'`],
  ["backslashes and escape look-alikes", String.raw`C:\path\to\n not a newline \u0041 \" \\`],
  ["NUL characters", "before\u0000middle\u0000\u0000after"],
  ["newlines, carriage returns and tabs", "line 1\nline 2\r\nline 3\ttabbed\n\n"],
  ["emoji, with skin tones and ZWJ sequences", "😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵"],
  ["Chinese", "你好，世界。这是一条中文消息。"],
  ["right-to-left scripts and marks", "שלום עולם \u200f مرحبا بالعالم \u202bembedded\u202c"],
  ["combining characters, not normalized", "e\u0301 a\u0308 n\u0303 \u1100\u1161\u11a8 Z\u0351\u0364\u0346"],
  ["precomposed and decomposed forms side by side", "\u00e9 vs e\u0301"],
  ["line and paragraph separators", "a\u2028b\u2029c"],
  ["other control characters", "\u0001\u001b[31mred\u001b[0m\u007f\u0085\u009f"],
  ["a byte order mark and zero-width characters", "\ufeffstart\u200b\u200c\u200dend"],
  ["leading and trailing white space", "   padded   "],
  ["only white space", " \t "],
  ["something that looks like a frame", '{"type":"ok","re":1}\n{"type":"msg"}'],
  ["characters outside the BMP", "𝄞 𠜎 🀄 \u{10FFFD}"],
  ["a single character", "x"],
];

describe("texts round-trip verbatim", () => {
  let a: Person;
  let a2: Person;
  let b: Person;
  beforeAll(async () => {
    a = await fresh();
    a2 = await session(srv.port, a.name);
    srv.keep(a2.w);
    b = await fresh();
    await befriend(a, b);
  });

  for (const [what, text] of TEXTS)
    test(`${what} come back unchanged in the ok's push, the sender's other session and history`, async () => {
      const m = await a.w.ok({ type: "send", to: b.id, text });
      const expected = { type: "msg", mid: m.mid, from: a.id, name: a.name, to: b.id, text, ts: m.ts };
      expect(await b.w.push("msg", (f) => f.mid === m.mid)).toEqual(expected);
      expect(await a2.w.push("msg", (f) => f.mid === m.mid)).toEqual(expected);
      const h = (await b.w.ok({ type: "history", with: a.id, before: m.mid + 1, limit: 1 })).messages;
      expect(h).toEqual([{ mid: m.mid, from: a.id, name: a.name, to: b.id, text, ts: m.ts }]);
      expect(h[0].text.length).toBe(text.length);
    });

  test("every text comes back unchanged in the pending replay at login", async () => {
    const c = await fresh();
    const dName = uniq("tx");
    const d = await register(srv.port, dName);
    await befriend(c, { id: d });
    const sent: { mid: number; ts: number; text: string }[] = [];
    for (const [, text] of TEXTS) {
      const { mid, ts } = await c.w.ok({ type: "send", to: d, text });
      sent.push({ mid, ts, text });
    }
    const w = await srv.ts.connect();
    srv.keep(w);
    const ok = await w.ok({ type: "login", name: dName, password: PASSWORD });
    expect(ok.pending).toBe(TEXTS.length);
    const got = await framesUntilPing(w, w.frames.indexOf(ok) + 1);
    expect(got).toEqual(sent.map((s) => ({ type: "msg", mid: s.mid, from: c.id, name: c.name, to: d, text: s.text, ts: s.ts })));
  });

  test("every text comes back unchanged in a group, live and in its history", async () => {
    const c = await fresh();
    const e = await fresh();
    const g = (await c.w.ok({ type: "create_group", name: uniq("g") })).group.id;
    await e.w.ok({ type: "join_group", group: g });
    const sent = [];
    for (const [, text] of TEXTS) {
      const m = await c.w.ok({ type: "group_send", group: g, text });
      sent.push({ mid: m.mid, from: c.id, name: c.name, group: g, text, ts: m.ts });
      expect(await e.w.push("msg", (f) => f.mid === m.mid)).toEqual({ type: "msg", ...sent[sent.length - 1] });
    }
    expect((await e.w.ok({ type: "history", group: g })).messages).toEqual(sent);
  });

  test("a newline inside a text is escaped: on the wire a raw 0x0A only ends frames", async () => {
    const c = await fresh();
    const dName = uniq("tx");
    const d = await register(srv.port, dName);
    await befriend(c, { id: d });
    const text = "one\ntwo\r\nthree\u2028four";
    const m = await c.w.ok({ type: "send", to: d, text });
    // Read the replay with a bare socket, bytes as they come.
    const chunks: Uint8Array[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const decoder = new TextDecoder();
    let seen = "";
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: srv.port,
      socket: {
        data(_s, chunk) {
          chunks.push(new Uint8Array(chunk));
          seen += decoder.decode(chunk, { stream: true });
          if (seen.includes('"re":"end"')) resolveDone();
        },
      },
    });
    socket.write(`${JSON.stringify({ type: "login", name: dName, password: PASSWORD })}\n${JSON.stringify({ type: "ping", id: "end" })}\n`);
    await done;
    socket.end();
    const lines = seen.split("\n");
    expect(lines.pop()).toBe(""); // every frame ends with its newline
    const frames = lines.map((l) => JSON.parse(l));
    expect(frames.map((f) => f.type)).toEqual(["hello", "ok", "msg", "ok"]);
    expect(frames[2]).toEqual({ type: "msg", mid: m.mid, from: c.id, name: c.name, to: d, text, ts: m.ts });
    expect(lines[2]).toContain(String.raw`one\ntwo\r\nthree`);
  });
});

describe("names round-trip verbatim", () => {
  const NAMES: [string, string][] = [
    ["quotes and a backslash", `O'Brien "the" \\ one`],
    ["Chinese", "张伟的账号"],
    ["emoji", "🦊 fox 🦊"],
    ["right-to-left script", "דוד מלך"],
    ["Arabic with a right-to-left mark", "سارة\u200f"],
    ["combining characters", "Ame\u0301lie Zoe\u0308"],
    ["the precomposed form of the same", "Amélie Zoë"],
    ["characters outside the BMP", "𝓐𝓵𝓲𝓬𝓮"],
    ["inner spaces", "two  inner   spaces"],
  ];

  for (const [what, base] of NAMES)
    test(`a name with ${what} comes back unchanged from register, login, friends, pushes and groups`, async () => {
      const name = `${base}${uniq("").slice(-3)}`;
      const w = await srv.ts.connect();
      srv.keep(w);
      const reg = await w.ok({ type: "register", name, password: PASSWORD });
      expect(reg.user.name).toBe(name);
      const login = await w.ok({ type: "login", name, password: PASSWORD });
      expect(login.user).toEqual({ id: reg.user.id, name });
      const me = { w, id: reg.user.id, name, token: login.token, login };

      const other = await fresh();
      await befriend(me, other);
      expect((await other.w.push("friend_added", (f) => f.friend.id === me.id)).friend.name).toBe(name);
      expect((await other.w.ok({ type: "friends" })).friends).toEqual([{ id: me.id, name, online: true }]);
      const m = await w.ok({ type: "send", to: other.id, text: "hi" });
      expect((await other.w.push("msg", (f) => f.mid === m.mid)).name).toBe(name);
      expect((await other.w.ok({ type: "history", with: me.id })).messages[0].name).toBe(name);

      const g = (await other.w.ok({ type: "create_group", name: uniq("g") })).group.id;
      const joined = await w.ok({ type: "join_group", group: g });
      expect(joined.group.members.find((x: { id: number }) => x.id === me.id).name).toBe(name);
      expect((await other.w.push("member_joined", (f) => f.user.id === me.id)).user).toEqual({ id: me.id, name });

      // And the name logs in by token and by id just the same.
      const byToken = await srv.ts.connect();
      srv.keep(byToken);
      expect((await byToken.ok({ type: "login", token: login.token })).user).toEqual({ id: me.id, name });
      const byId = await srv.ts.connect();
      srv.keep(byId);
      expect((await byId.ok({ type: "login", user: me.id, password: PASSWORD })).user).toEqual({ id: me.id, name });
    });

  test("precomposed and decomposed spellings are different names", async () => {
    const suffix = uniq("").slice(-4);
    const decomposed = `Ame\u0301lie${suffix}`;
    const precomposed = `Am\u00e9lie${suffix}`;
    const one = await register(srv.port, decomposed);
    const two = await register(srv.port, precomposed);
    expect(one).not.toBe(two);
    const w = await srv.ts.connect();
    srv.keep(w);
    expect((await w.ok({ type: "login", name: precomposed, password: PASSWORD })).user).toEqual({ id: two, name: precomposed });
  });

  test("group names and descriptions come back unchanged", async () => {
    const a = await fresh();
    const name = `群组 "q" \\ 🎉 עברית e\u0301 ${uniq("").slice(-3)}`;
    const desc = "line\nbreaks, NUL\u0000, emoji 🎉, \"quotes\", \\ and 中文";
    const created = await a.w.ok({ type: "create_group", name, desc });
    expect(created.group).toEqual({ id: expect.any(Number), name, desc, role: "creator" });
    const b = await fresh();
    expect((await b.w.ok({ type: "join_group", group: created.group.id })).group).toEqual(expect.objectContaining({ name, desc }));
    expect((await a.w.ok({ type: "groups" })).groups[0]).toEqual(expect.objectContaining({ name, desc }));
  });
});
