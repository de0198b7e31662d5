/**
 * A seeded fuzz of the frame reader and request validation over real sockets,
 * against a server process: random bytes, mutated valid frames of every op,
 * hostile values (deep nesting, huge numbers, long strings, lone surrogates),
 * invalid UTF-8, frames cut anywhere, writes split anywhere. Every frame must
 * get exactly one reply (counted against a ping barrier after each batch;
 * empty and blank lines are no frames),
 * frames over the limit close the connection with frame_too_large, nothing is
 * `internal`, memory stays bounded, and the server still answers at the end.
 *
 * CHAT_FUZZ_SEED=<n> replays a run; CHAT_FUZZ_LONG=1 runs ten times the cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ERROR_CODES } from "../../src/protocol/errors.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { fmt, rssMiB } from "../support/probes.ts";
import { Wire } from "../support/wire.ts";

const LONG = !!process.env.CHAT_FUZZ_LONG;
const SEED = Number(process.env.CHAT_FUZZ_SEED ?? 20_240_601);
const CASES = LONG ? 1_000_000 : 100_000;
const CONNS = 4;
const BATCH = 1000;
const MAX_LINE = 65_535; // the default limit less its newline
const PASSWORD = "password-1";

type Rand = () => number;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)] as T;
const enc = new TextEncoder();

interface Who {
  name: string;
  id: number;
  friend: number;
  group: number;
  token: string;
}

const CHARS = ["a", "Z", "0", " ", "é", "你", "😀", "\u0000", "\u001f", "\u007f", "\u0085", "\u2028", "\ufeff", "\\", '"', "\n", "\t"];

function randomText(r: Rand, max: number): string {
  let s = "";
  const n = int(r, max + 1);
  for (let i = 0; i < n; i++) s += pick(r, CHARS);
  return s;
}

/** A valid request of every op, filled from the connection's user where it has one. */
const TEMPLATES: ((r: Rand, w: Who) => Record<string, unknown>)[] = [
  (r) => ({ type: "register", name: `fz${int(r, 1e9)}`, password: PASSWORD }),
  (_r, w) => ({ type: "login", name: w.name, password: PASSWORD }),
  (_r, w) => ({ type: "login", user: w.id, password: PASSWORD }),
  (_r, w) => ({ type: "login", token: w.token }),
  () => ({ type: "logout" }),
  (_r, w) => ({ type: "add_friend", user: w.friend }),
  (r, w) => ({ type: "send", to: w.friend, text: randomText(r, 40) || "x" }),
  (r) => ({ type: "create_group", name: `g${int(r, 1e9)}`, desc: "fuzz" }),
  (_r, w) => ({ type: "join_group", group: w.group }),
  (_r, w) => ({ type: "leave_group", group: w.group }),
  (r, w) => ({ type: "group_send", group: w.group, text: randomText(r, 40) || "y" }),
  (r) => ({ type: "ack", mids: Array.from({ length: 1 + int(r, 5) }, () => 1 + int(r, 1000)) }),
  (_r, w) => ({ type: "history", with: w.friend, limit: 5 }),
  (_r, w) => ({ type: "history", group: w.group, before: 1_000_000 }),
  () => ({ type: "friends" }),
  () => ({ type: "groups" }),
  () => ({ type: "ping" }),
];

function valid(r: Rand, w: Who): Record<string, unknown> {
  const f = pick(r, TEMPLATES)(r, w);
  if (r() < 0.7) f.id = r() < 0.5 ? int(r, 1e6) : `q${int(r, 1e6)}`;
  return f;
}

const RAW_VALUES = [
  "0", "-0", "-1", "1.5", "1e400", "-1e400", "1E+2", "9007199254740991", "9007199254740992", "9007199254740993",
  "123456789012345678901234567890123456789", "0.0000001", "5e-324", "1e-400", "null", "true", "false", "[]", "{}",
  '""', '"\\ud800"', '"\\udc00x"', '"\\u0000"', '"a\\u0085b"', "[1,2,3]", '{"a":1}', '"1"', "NaN", "Infinity", "undefined",
  "01", "1.", ".5", "+1", "0x10", '"\\uZZZZ"', '"\\', "[", "{", '{"type":"ping"}', '"__proto__"',
];

/** A hostile JSON value (sometimes not JSON at all), as text. */
function hostileValue(r: Rand): string {
  switch (int(r, 8)) {
    case 0: {
      const depth = 1 + int(r, r() < 0.1 ? 20_000 : 200);
      return "[".repeat(depth) + "]".repeat(depth);
    }
    case 1: {
      const depth = 1 + int(r, 3000);
      return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    }
    case 2:
      return JSON.stringify(pick(r, ["x".repeat(4096), "x".repeat(4097), "😀".repeat(4096), "😀".repeat(4097), "é".repeat(33), "w".repeat(65)]));
    case 3:
      return JSON.stringify(randomText(r, r() < 0.1 ? 10_000 : 80));
    case 4:
      return JSON.stringify(Array.from({ length: pick(r, [0, 1, 1000, 1001, 5000]) }, (_, i) => i + 1));
    case 5:
      return String((r() - 0.5) * 10 ** int(r, 400));
    default:
      return pick(r, RAW_VALUES);
  }
}

const KEYS = ["type", "id", "name", "password", "user", "token", "to", "text", "group", "desc", "mids", "with", "before", "limit", "from", "__proto__", "constructor"];
const TYPES = ['"toString"', '"__proto__"', '"constructor"', '"hasOwnProperty"', '"PING"', '"ok"', '"msg"', '""', "null", "1"];

/** A valid request with one field replaced, added or duplicated. */
function structural(r: Rand, w: Who): string {
  const entries = Object.entries(valid(r, w)).map(([k, v]) => [k, JSON.stringify(v)] as [string, string]);
  const n = 1 + int(r, 3);
  for (let i = 0; i < n; i++) {
    const what = int(r, 4);
    const value = what === 3 ? pick(r, TYPES) : hostileValue(r);
    if (what === 0 && entries.length) (entries[int(r, entries.length)] as [string, string])[1] = value;
    else if (what === 3) entries.push(["type", value]); // a second type key: JSON.parse keeps the last
    else entries.push([pick(r, KEYS), value]);
  }
  return "{" + entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",") + "}";
}

const TOKENS = ["\\", '"', "{", "}", "[", "]", ",", ":", "\\u", "\\ud800", "1e999", "-", "null", "\u0000", "\r", " "];

function mutateBytes(r: Rand, b: Uint8Array): Uint8Array {
  let out = Array.from(b);
  const n = 1 + int(r, 4);
  for (let i = 0; i < n; i++) {
    const at = int(r, out.length + 1);
    switch (int(r, 6)) {
      case 0:
        if (out.length) out[Math.min(at, out.length - 1)] = int(r, 256);
        break;
      case 1:
        out.splice(at, 0, ...Array.from({ length: 1 + int(r, 8) }, () => int(r, 256)));
        break;
      case 2:
        out.splice(at, 1 + int(r, 8));
        break;
      case 3:
        out.splice(at, 0, ...out.slice(at, at + 1 + int(r, 16)));
        break;
      case 4:
        out = out.slice(0, at);
        break;
      default:
        out.splice(at, 0, ...enc.encode(pick(r, TOKENS)));
    }
  }
  return Uint8Array.from(out);
}

const INVALID_UTF8 = [[0xff], [0xfe], [0xc3, 0x28], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe4, 0xbd], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];

/** One fuzz case: bytes for the wire, without the final newline (it may hold others). */
function fuzzCase(r: Rand, w: Who): Uint8Array {
  const k = r();
  if (k < 0.12) return Uint8Array.from({ length: int(r, 257) }, () => int(r, 256)); // random bytes, newlines included
  if (k < 0.22) {
    const alphabet = enc.encode('{}[]":,0123456789-.eE tfnrul\\ab');
    return Uint8Array.from({ length: int(r, 120) }, () => alphabet[int(r, alphabet.length)] as number);
  }
  if (k < 0.47) return mutateBytes(r, enc.encode(JSON.stringify(valid(r, w))));
  if (k < 0.72) return enc.encode(structural(r, w));
  if (k < 0.78) {
    const b = enc.encode(JSON.stringify(valid(r, w)));
    return b.subarray(0, int(r, b.length)); // cut anywhere
  }
  if (k < 0.84) {
    const b = Array.from(enc.encode(JSON.stringify({ ...valid(r, w), text: "héllo 你好 😀" })));
    b.splice(int(r, b.length + 1), 0, ...pick(r, INVALID_UTF8));
    return Uint8Array.from(b);
  }
  if (k < 0.88) {
    const depth = int(r, r() < 0.1 ? MAX_LINE : 2000);
    return enc.encode(pick(r, ["[", "{", '{"a":', "[{", '"'])!.repeat(depth)).subarray(0, MAX_LINE);
  }
  if (k < 0.93) return enc.encode(`{"type":"${pick(r, ["send", "ack", "history", "add_friend", "ping"])}","id":${pick(r, RAW_VALUES)},"to":${pick(r, RAW_VALUES)},"mids":[${pick(r, RAW_VALUES)}],"with":${pick(r, RAW_VALUES)},"text":"t"}`);
  return enc.encode(JSON.stringify(valid(r, w)));
}

const strict = new TextDecoder("utf-8", { fatal: true });

/** Whether the server answers this line: empty and blank lines (white space only) are no requests. */
function isRequestLine(line: Uint8Array): boolean {
  if (line.length === 0) return false;
  if ((line[0] as number) > 32) return true;
  try {
    return strict.decode(line).trim() !== "";
  } catch {
    return true; // invalid UTF-8 is answered with bad_frame
  }
}

/** Lines in `bytes` the server will answer, and the longest line. */
function lines(bytes: Uint8Array): { count: number; longest: number } {
  let count = 0;
  let longest = 0;
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl === -1) break;
    if (isRequestLine(bytes.subarray(start, nl))) count++;
    longest = Math.max(longest, nl - start);
    start = nl + 1;
  }
  return { count, longest };
}

let node: NodeProcess;

beforeAll(async () => {
  node = await spawnNode({ node: "fuzz", mysqlUrl: await freshDatabase(), args: ["--rate-limit", "0"] });
});

afterAll(async () => {
  await node?.kill();
});

async function account(name: string): Promise<Wire> {
  const c = await Wire.connect(node.port, { keep: false });
  expect((await c.req({ type: "register", name, password: PASSWORD })).type).toBe("ok");
  return c;
}

describe("fuzzing the frame reader and request validation", () => {
  it(`answers every one of ${fmt(CASES)} hostile frames exactly once, and survives`, async () => {
    // Two users who are friends and share a group, so that valid mutations reach the handlers and the database.
    const ca = await account("fz_a");
    const cb = await account("fz_b");
    const la = await ca.req({ type: "login", name: "fz_a", password: PASSWORD });
    const lb = await cb.req({ type: "login", name: "fz_b", password: PASSWORD });
    expect((await ca.req({ type: "add_friend", user: lb.user.id })).type).toBe("ok");
    const group = (await ca.req({ type: "create_group", name: "fuzz-group" })).group.id;
    expect((await cb.req({ type: "join_group", group })).type).toBe("ok");
    ca.close();
    cb.close(); // closing keeps the tokens valid (only logout revokes them)
    const whoA: Who = { name: "fz_a", id: la.user.id, friend: lb.user.id, group, token: la.token };
    const whoB: Who = { name: "fz_b", id: lb.user.id, friend: la.user.id, group, token: lb.token };

    const rssBefore = rssMiB(node.proc.pid);
    const started = performance.now();
    let sent = 0;
    let frames = 0;
    let bytes = 0;
    let oks = 0;
    const codes = new Map<string, number>();
    const perConn = Math.ceil(CASES / CONNS);

    const worker = async (k: number) => {
      const r = prng(SEED + k);
      const who = k % 2 === 0 ? whoA : whoB;
      const c = await Wire.connect(node.port, { keep: false });
      // Half the connections fuzz logged in, half anonymous.
      if (k < CONNS / 2) expect((await c.req({ type: "login", name: who.name, password: PASSWORD })).type).toBe("ok");
      for (let done = 0, batch = 0; done < perConn; batch++) {
        const n = Math.min(BATCH, perConn - done);
        const parts: Uint8Array[] = [];
        for (let i = 0; i < n; i++) {
          let one = fuzzCase(r, who);
          if (one.length > MAX_LINE) one = one.subarray(0, MAX_LINE);
          parts.push(one, Uint8Array.of(0x0a));
        }
        const barrier = `barrier-${k}-${batch}-${SEED}`;
        parts.push(enc.encode(JSON.stringify({ type: "ping", id: barrier }) + "\n"));
        const all = Buffer.concat(parts);
        const { count, longest } = lines(all);
        expect(longest).toBeLessThanOrEqual(MAX_LINE);
        const before = c.replies;
        const reply = c.arrival((f) => f.re === barrier, 30_000);
        // Written in pieces of random size: the server's reads split frames anywhere.
        for (let at = 0; at < all.length; ) {
          const size = 1 + int(r, r() < 0.5 ? 64 : 8192);
          c.write(all.subarray(at, at + size));
          at += size;
        }
        let got: Awaited<typeof reply>;
        try {
          got = await reply;
        } catch (e) {
          const file = `${tmpdir()}/chat-fuzz-${SEED}-${k}-${batch}.bin`;
          writeFileSync(file, all);
          throw new Error(`conn ${k} batch ${batch} (seed ${SEED}, bytes in ${file}): ${(e as Error).message}`);
        }
        if (got.replies - before !== count) {
          const file = `${tmpdir()}/chat-fuzz-${SEED}-${k}-${batch}.bin`;
          writeFileSync(file, all);
          throw new Error(`conn ${k} batch ${batch}: ${count} frames got ${got.replies - before} replies (seed ${SEED}, bytes in ${file})`);
        }
        done += n;
        sent += n;
        frames += count;
        bytes += all.length;
      }
      for (const [code, n] of c.codes) codes.set(code, (codes.get(code) ?? 0) + n);
      oks += c.replies - [...c.codes.values()].reduce((x, y) => x + y, 0);
      expect(c.garbage).toEqual([]);
      c.close();
    };
    await Promise.all(Array.from({ length: CONNS }, (_, k) => worker(k)));
    const seconds = (performance.now() - started) / 1000;

    // Over the limit: frame_too_large, then the server closes the connection.
    const oversize: Uint8Array[] = [
      enc.encode("[".repeat(100_000)), // no newline at all
      enc.encode("x".repeat(65_536) + "\n"),
      enc.encode('{"type":"send","to":1,"text":"' + "😀".repeat(20_000) + '"}\n'),
      enc.encode('{"type":"ping","id":1}\n{"type":"ping","id":2}\n' + "{".repeat(70_000) + "\n"),
    ];
    const r = prng(SEED ^ 0x5a5a);
    for (let i = 0; i < 16; i++) oversize.push(Uint8Array.from({ length: 65_536 + int(r, 100_000) }, () => int(r, 256) || 0x0b).map((x) => (x === 0x0a ? 0x0b : x)));
    let closedWithCode = 0;
    for (const big of oversize) {
      const c = await Wire.connect(node.port);
      c.write(big);
      await c.closedPromise();
      const replies = c.frames.filter((f) => f.type === "ok" || f.type === "error");
      expect(replies.at(-1)).toMatchObject({ type: "error", code: "frame_too_large" });
      expect(replies.at(-1)?.re).toBeUndefined();
      // Frames before the big one were answered first.
      if (big === oversize[3]) expect(replies.map((f) => f.re ?? f.code)).toEqual([1, 2, "frame_too_large"]);
      closedWithCode++;
    }
    // Exactly at the limit: answered, not closed.
    const edge = await Wire.connect(node.port);
    const atLimit = '{"type":"ping","id":"edge","pad":"' + "p".repeat(MAX_LINE - 36) + '"}';
    expect(Buffer.byteLength(atLimit)).toBe(MAX_LINE);
    expect((await edge.req({ type: "ping" })).type).toBe("ok");
    edge.write(atLimit + "\n");
    expect((await edge.arrival((f) => f.re === "edge")).frame.type).toBe("ok");
    expect(edge.closed).toBe(false);
    edge.close();

    // Still alive: a fresh connection gets hello and a ping answer.
    expect(node.proc.exitCode).toBeNull();
    const fresh = await Wire.connect(node.port);
    expect(fresh.hello).toMatchObject({ type: "hello", version: 1, node: "fuzz" });
    expect((await fresh.req({ type: "ping" })).type).toBe("ok");
    fresh.close();
    expect((await node.health()).status).toBe(200);

    Bun.gc(true);
    const rssAfter = rssMiB(node.proc.pid);
    const failed = node.log().split("\n").filter((l) => / ERROR (request_failed|dispatch_failed)/.test(l));
    const codeList = [...codes].sort((x, y) => y[1] - x[1]).map(([c, n]) => `${c} ${fmt(n)}`).join(", ");
    console.log(
      `Fuzz (seed ${SEED}): ${fmt(sent)} cases, ${fmt(frames)} frames, ${(bytes / 2 ** 20).toFixed(1)} MiB over ${CONNS} connections in ${seconds.toFixed(1)} s ` +
        `(${fmt(Math.round(frames / seconds))} frames/s); every frame answered once (${fmt(oks)} ok); ${closedWithCode} oversize frames closed with frame_too_large; ` +
        `server RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB; errors: ${codeList}`,
    );
    expect(failed).toEqual([]);
    expect(codes.get("internal") ?? 0).toBe(0);
    for (const code of codes.keys()) expect(ERROR_CODES as readonly string[]).toContain(code);
    expect(rssAfter - rssBefore).toBeLessThan(300);
  }, LONG ? 900_000 : 90_000);
});
