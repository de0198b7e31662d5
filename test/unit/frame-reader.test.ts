/**
 * The frame reader without sockets: bytes in, lines out. Splits anywhere,
 * several frames per chunk, UTF-8 split across chunks, invalid UTF-8, the
 * byte limit exactly at its edge.
 */
import { describe, expect, it } from "bun:test";
import { BAD_UTF8, DEFAULT_MAX_FRAME, type Frame, FrameReader, TOO_LARGE } from "../../src/protocol/frame-reader.ts";

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

/** Feeds `chunks` to a fresh reader and returns every frame it produced. */
function feed(chunks: Uint8Array[], maxFrame?: number): Frame[] {
  const r = new FrameReader(maxFrame);
  return chunks.flatMap((c) => r.push(c));
}

function splitAt(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, b.length]) {
    out.push(b.slice(prev, c));
    prev = c;
  }
  return out;
}

describe("FrameReader", () => {
  const frames = ['{"type":"ping","id":1}', '{"type":"send","to":2,"text":"héllo 你好 😀"}', '{"type":"ping","id":"x"}'];
  const stream = bytes(frames.map((f) => f + "\n").join(""));

  it("returns several frames from one chunk, in order", () => {
    expect(feed([stream])).toEqual(frames);
  });

  it("returns the same frames wherever the stream is split once", () => {
    for (let cut = 0; cut <= stream.length; cut++) expect(feed(splitAt(stream, [cut]))).toEqual(frames);
  });

  it("returns the same frames wherever the stream is split twice", () => {
    for (let a = 0; a <= stream.length; a += 3) for (let b = a; b <= stream.length; b += 5) expect(feed(splitAt(stream, [a, b]))).toEqual(frames);
  });

  it("reassembles a stream fed one byte at a time", () => {
    const ones = Array.from(stream, (b) => Uint8Array.of(b));
    expect(feed(ones)).toEqual(frames);
  });

  it("decodes a multi-byte character split between chunks", () => {
    for (const ch of ["é", "你", "😀"]) {
      const b = bytes(`{"text":"${ch}"}\n`);
      const start = b.indexOf(0x3a) + 2; // first byte of the character
      for (let k = 1; k < bytes(ch).length; k++) expect(feed(splitAt(b, [start + k]))).toEqual([`{"text":"${ch}"}`]);
    }
  });

  it("answers BAD_UTF8 for invalid UTF-8 and goes on with the next frame", () => {
    const bad = [
      [0xff],
      [0xc3, 0x28], // a lead byte without its continuation
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // an encoded UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xe4, 0xbd], // truncated at the end of the line
    ];
    for (const b of bad) {
      const chunk = new Uint8Array([...bytes('{"a":"'), ...b, ...bytes('"}\n{"type":"ping"}\n')]);
      expect(feed([chunk])).toEqual([BAD_UTF8, '{"type":"ping"}']);
    }
  });

  it("does not let a character split across two lines count as valid", () => {
    // The first line ends in a lead byte; the next line starts with its continuation.
    const chunk = new Uint8Array([0x61, 0xe4, 0x0a, 0xbd, 0xa0, 0x62, 0x0a, ...bytes("ok\n")]);
    expect(feed([chunk])).toEqual([BAD_UTF8, BAD_UTF8, "ok"]);
  });

  it("skips empty lines", () => {
    expect(feed([bytes("\n\n{}\n\n\n{}\n"), bytes("\n")])).toEqual(["{}", "{}"]);
    expect(feed([bytes("\n"), bytes("\n")])).toEqual([]);
  });

  it("keeps a carriage return, which JSON.parse reads as white space", () => {
    const out = feed([bytes('{"type":"ping"}\r\n')]);
    expect(out).toEqual(['{"type":"ping"}\r']);
    expect(JSON.parse(out[0] as string)).toEqual({ type: "ping" });
    // A lone CR is a line of the reader's (the server skips blank lines itself).
    expect(feed([bytes("\r\n")])).toEqual(["\r"]);
  });

  it("accepts a frame of exactly the limit, newline included", () => {
    const line = "x".repeat(DEFAULT_MAX_FRAME - 1);
    expect(feed([bytes(line + "\n")])).toEqual([line]);
    // The same, split in the middle and just before the newline.
    expect(feed(splitAt(bytes(line + "\n"), [30_000, DEFAULT_MAX_FRAME - 1]))).toEqual([line]);
  });

  it("answers TOO_LARGE for one byte more", () => {
    const line = "x".repeat(DEFAULT_MAX_FRAME);
    expect(feed([bytes(line + "\n")])).toEqual([TOO_LARGE]);
    expect(feed(splitAt(bytes(line + "\n"), [DEFAULT_MAX_FRAME]))).toEqual([TOO_LARGE]);
  });

  it("answers TOO_LARGE as soon as the limit is passed without a newline", () => {
    const r = new FrameReader(DEFAULT_MAX_FRAME);
    expect(r.push(bytes("y".repeat(DEFAULT_MAX_FRAME - 1)))).toEqual([]);
    expect(r.buffered).toBe(DEFAULT_MAX_FRAME - 1);
    // One more byte and the line can no longer fit its newline.
    expect(r.push(bytes("y"))).toEqual([TOO_LARGE]);
    expect(r.buffered).toBe(0);
  });

  it("answers nothing after TOO_LARGE: the connection is to be closed", () => {
    const r = new FrameReader(16);
    expect(r.push(bytes("{}\n" + "z".repeat(20) + "\n{}\n"))).toEqual(["{}", TOO_LARGE]);
    expect(r.push(bytes("{}\n"))).toEqual([]);
  });

  it("applies a small limit at its exact edge", () => {
    expect(feed([bytes("abc\n")], 4)).toEqual(["abc"]);
    expect(feed([bytes("abcd\n")], 4)).toEqual([TOO_LARGE]);
    expect(feed([bytes("abcd")], 4)).toEqual([TOO_LARGE]);
    expect(feed([bytes("ab"), bytes("c"), bytes("\n")], 4)).toEqual(["abc"]);
    expect(feed([bytes("ab"), bytes("cd")], 4)).toEqual([TOO_LARGE]);
  });

  it("counts bytes, not characters, against the limit", () => {
    // 3 characters, 9 bytes: over a 9-byte limit once the newline is counted.
    expect(feed([bytes("你好吗\n")], 10)).toEqual(["你好吗"]);
    expect(feed([bytes("你好吗\n")], 9)).toEqual([TOO_LARGE]);
  });

  it("copies a partial line: the caller may reuse its buffer", () => {
    const r = new FrameReader();
    const buf = bytes('{"a":1');
    expect(r.push(buf)).toEqual([]);
    buf.fill(0x21);
    expect(r.push(bytes("}\n"))).toEqual(['{"a":1}']);
  });

  it("copies a partial line from a Buffer too, whose slice() is only a view", () => {
    const r = new FrameReader();
    const buf = Buffer.from("abc");
    expect(r.push(buf)).toEqual([]);
    buf.fill(0x7a);
    expect(r.push(Buffer.from("d\n"))).toEqual(["abcd"]);
  });

  it("rejects a limit that cannot hold a frame", () => {
    expect(() => new FrameReader(1)).toThrow(TypeError);
    expect(() => new FrameReader(Number.NaN)).toThrow(TypeError);
  });
});
