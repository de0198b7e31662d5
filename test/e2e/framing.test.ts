/**
 * Framing on a real socket: frames split across writes (byte by byte, inside
 * multi-byte UTF-8 characters), several frames per write, invalid UTF-8, the
 * 65536-byte limit, and replies in request order when requests are pipelined.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { closed, framesUntilPing, PASSWORD, rawReply, repliesFrom, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";
import type { Wire } from "../support/wire.ts";

const LIMIT = 65_536;
const enc = new TextEncoder();

const srv = sharedServer();
const conn = () => srv.conn();
/** A second connection whose ping round trip separates writes on another one. */
let barrier: Wire;

beforeAll(async () => {
  barrier = await srv.conn();
});

/**
 * Writes `bytes` in pieces cut at `cuts`, with a ping round trip on another
 * connection between pieces, so the server most likely reads each piece on its own.
 */
async function writeInPieces(w: Wire, bytes: Uint8Array, cuts: number[]) {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= start) continue;
    w.write(bytes.slice(start, cut));
    start = cut;
    await barrier.ok({ type: "ping" });
  }
}

/** A ping frame padded with an unknown field to exactly `size` bytes, newline included. */
function pingOfSize(size: number, id: string): string {
  const empty = JSON.stringify({ type: "ping", id, pad: "" });
  return `${JSON.stringify({ type: "ping", id, pad: "p".repeat(size - 1 - empty.length) })}\n`;
}

const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

describe("frames split across writes", () => {
  test("a frame sent one byte per write is read as one request", async () => {
    const w = await conn();
    const frame = enc.encode('{"type":"ping","id":"bytewise"}\n');
    const from = w.frames.length;
    await writeInPieces(
      w,
      frame,
      Array.from({ length: frame.length - 1 }, (_, i) => i + 1),
    );
    expect(await w.next((f) => f.re === "bytewise", 5000, from)).toEqual({ type: "ok", re: "bytewise" });
    expect(repliesFrom(w, from)).toHaveLength(1);
  });

  test("a name split inside its multi-byte characters, byte by byte, arrives intact", async () => {
    const w = await conn();
    const name = `名前😀é${uniq("").slice(-4)}`;
    const frame = enc.encode(`${JSON.stringify({ type: "register", id: "split", name, password: PASSWORD })}\n`);
    await writeInPieces(
      w,
      frame,
      Array.from({ length: frame.length - 1 }, (_, i) => i + 1),
    );
    const r = await w.next((f) => f.re === "split");
    expect(r).toEqual({ type: "ok", re: "split", user: { id: expect.any(Number), name } });
    expect((await w.ok({ type: "login", name, password: PASSWORD })).user.name).toBe(name);
  });

  test("a split after the second byte of a four-byte emoji is held until the rest arrives", async () => {
    const w = await conn();
    const text = `😀${uniq("")}`;
    const frame = enc.encode(`${JSON.stringify({ type: "register", id: "emoji", name: text, password: PASSWORD })}\n`);
    const at = frame.indexOf(0xf0); // the emoji's first byte
    await writeInPieces(w, frame, [at + 1, at + 2, at + 3]);
    expect((await w.next((f) => f.re === "emoji")).user.name).toBe(text);
  });

  test("the end of one frame and the start of the next in one write are both read", async () => {
    const w = await conn();
    const all = enc.encode('{"type":"ping","id":"one"}\n{"type":"ping","id":"two"}\n{"type":"ping","id":"three"}\n');
    const from = w.frames.length;
    // Cut in the middle of each frame: each write holds the end of one and the start of the next.
    await writeInPieces(w, all, [10, 40, 70]);
    await w.next((f) => f.re === "three", 5000, from);
    expect(repliesFrom(w, from)).toEqual([
      { type: "ok", re: "one" },
      { type: "ok", re: "two" },
      { type: "ok", re: "three" },
    ]);
  });
});

describe("several frames in one write", () => {
  test("each frame of a write gets its own reply, in order", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('{"type":"ping","id":1}\n{"type":"ping","id":2}\n{"type":"nope","id":3}\n{"type":"ping","id":4}\n');
    await w.next((f) => f.re === 4, 5000, from);
    expect(repliesFrom(w, from)).toEqual([
      { type: "ok", re: 1 },
      { type: "ok", re: 2 },
      { type: "error", re: 3, code: "unknown_type", message: expect.any(String) },
      { type: "ok", re: 4 },
    ]);
  });

  test("many pipelined requests of every kind are answered once each, in request order", async () => {
    const w = await conn();
    const name = uniq("pipe");
    const frames: Record<string, unknown>[] = [
      { type: "register", name, password: PASSWORD },
      { type: "friends" }, // not_logged_in: not yet
      { type: "login", name, password: PASSWORD },
      { type: "create_group", name: uniq("pg") },
      { type: "groups" },
      { type: "nope" },
      { type: "send", to: "x" },
      { type: "history", with: 9_000_000_000 },
    ];
    for (let i = 0; i < 300; i++) frames.push({ type: i % 3 === 0 ? "friends" : "ping" });
    frames.push({ type: "logout" }, { type: "friends" });
    const from = w.frames.length;
    w.write(frames.map((f, i) => `${JSON.stringify({ ...f, id: i })}\n`).join(""));
    await w.next((f) => f.re === frames.length - 1, 10_000, from);
    const replies = repliesFrom(w, from);
    expect(replies.map((r) => r.re)).toEqual(frames.map((_, i) => i));
    expect(replies.slice(0, 8).map((r) => r.code ?? r.type)).toEqual(["ok", "not_logged_in", "ok", "ok", "ok", "unknown_type", "bad_frame", "not_friend"]);
    expect(replies.slice(8, -2).every((r) => r.type === "ok")).toBe(true);
    expect(replies.slice(-2).map((r) => r.code ?? r.type)).toEqual(["ok", "not_logged_in"]);
  });

  test("a thousand pings written in one burst are answered in order", async () => {
    const w = await conn();
    const from = w.frames.length;
    let text = "";
    for (let i = 0; i < 1000; i++) text += `{"type":"ping","id":${i}}\n`;
    w.write(text);
    await w.next((f) => f.re === 999, 10_000, from);
    expect(repliesFrom(w, from).map((r) => r.re)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});

describe("blank lines", () => {
  test("empty and white-space-only lines (CRLF keep-alives) get no reply", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('\n\r\n   \n\t\r\n{"type":"ping","id":"after"}\r\n');
    await w.next((f) => f.re === "after", 5000, from);
    expect(w.frames.slice(from)).toEqual([{ type: "ok", re: "after" }]);
  });
});

describe("invalid UTF-8", () => {
  const cases: [string, number[]][] = [
    ["a lone 0xFF byte", [0xff]],
    ["a three-byte sequence cut short", [0xe4, 0xb8]],
    ["an overlong encoding of '/'", [0xc0, 0xaf]],
    ["an encoded surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf5, 0x80, 0x80, 0x80]],
    ["a continuation byte with no lead", [0x80]],
  ];
  for (const [what, bad] of cases)
    test(`a frame with ${what} gets bad_frame without re, and the connection goes on`, async () => {
      const w = await conn();
      const from = w.frames.length;
      w.write(bytes('{"type":"ping","id":"u","x":"', bad, '"}\n{"type":"ping","id":"after"}\n'));
      await w.next((f) => f.re === "after", 5000, from);
      expect(repliesFrom(w, from)).toEqual([
        { type: "error", code: "bad_frame", message: expect.any(String) },
        { type: "ok", re: "after" },
      ]);
      expect(w.closed).toBe(false);
    });
});

describe("the frame size limit", () => {
  test("a frame of exactly 65536 bytes, newline included, is accepted", async () => {
    const w = await conn();
    const frame = pingOfSize(LIMIT, "max");
    expect(enc.encode(frame).length).toBe(LIMIT);
    expect(await rawReply(w, frame)).toEqual({ type: "ok", re: "max" });
  });

  test("a frame of 65537 bytes gets frame_too_large without re and the connection closes", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write(pingOfSize(LIMIT + 1, "over"));
    await closed(w);
    expect(w.frames.slice(from)).toEqual([{ type: "error", code: "frame_too_large", message: expect.any(String) }]);
  });

  test("a frame limit counts bytes, not characters: 30000 CJK characters are too large", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write(`${JSON.stringify({ type: "ping", id: "cjk", pad: "中".repeat(30_000) })}\n`);
    await closed(w);
    expect(w.frames.slice(from)).toEqual([{ type: "error", code: "frame_too_large", message: expect.any(String) }]);
  });

  test("more than 65536 bytes without a newline get frame_too_large and the connection closes", async () => {
    const w = await conn();
    const from = w.frames.length;
    w.write('{"type":"ping","pad":"');
    w.write("p".repeat(LIMIT));
    await closed(w);
    expect(w.frames.slice(from)).toEqual([{ type: "error", code: "frame_too_large", message: expect.any(String) }]);
  });

  test("an oversized frame trickled in small writes without a newline is caught too", async () => {
    const w = await conn();
    const from = w.frames.length;
    const chunk = "p".repeat(8192);
    const done = closed(w);
    let sent = 0;
    // Write until the server gives up; it must, before the line ever ends.
    while (!w.closed && sent < LIMIT * 2) {
      w.write(chunk);
      sent += chunk.length;
      await barrier.ok({ type: "ping" });
    }
    await done;
    expect(sent).toBeLessThanOrEqual(LIMIT + chunk.length * 3);
    expect(w.frames.slice(from)).toEqual([{ type: "error", code: "frame_too_large", message: expect.any(String) }]);
  });

  test("requests before an oversized frame are answered first, slow ones included; nothing after it is", async () => {
    const w = await conn();
    const name = uniq("big");
    const from = w.frames.length;
    const before = [
      { type: "register", id: "r", name, password: PASSWORD },
      { type: "login", id: "l", name, password: PASSWORD },
      { type: "ping", id: "p" },
    ];
    w.write(`${before.map((f) => JSON.stringify(f)).join("\n")}\n${pingOfSize(LIMIT + 100, "big")}{"type":"ping","id":"c"}\n`);
    await closed(w);
    const got = w.frames.slice(from);
    expect(got.map((f) => f.re ?? f.code)).toEqual(["r", "l", "p", "frame_too_large"]);
    expect(got.slice(0, 3).every((f) => f.type === "ok")).toBe(true);
    expect(got[3]).toEqual({ type: "error", code: "frame_too_large", message: expect.any(String) });
  });

  test("a large frame within the limit, split across many writes, is accepted", async () => {
    const w = await conn();
    const frame = enc.encode(pingOfSize(LIMIT, "large"));
    const from = w.frames.length;
    await writeInPieces(w, frame, [1, 1000, 30_000, 65_534, 65_535]);
    expect(await w.next((f) => f.re === "large", 5000, from)).toEqual({ type: "ok", re: "large" });
    const after = await framesUntilPing(w, from);
    expect(after).toEqual([{ type: "ok", re: "large" }]);
  });
});
