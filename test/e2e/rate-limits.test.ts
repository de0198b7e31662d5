/**
 * Limits that protect the server from one client: a per-connection request
 * rate answered with rate_limited (never a silent drop), a per-address
 * connection limit, caps answered with limit_reached, and an idle timeout.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { fmt } from "../support/probes.ts";
import { waitUntil } from "../support/wait.ts";
import { Wire } from "../support/wire.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const PASSWORD = "password-1";
let servers: TestServer[] = [];

async function server(opts: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function login(port: number, name: string): Promise<{ c: Wire; id: number }> {
  const c = await Wire.connect(port);
  expect((await c.req({ type: "register", name, password: PASSWORD })).type).toBe("ok");
  const r = await c.req({ type: "login", name, password: PASSWORD });
  expect(r.type).toBe("ok");
  return { c, id: r.user.id };
}

/** Writes `n` requests at once; resolves with their replies, in arrival order. */
async function burst(c: Wire, n: number, make: (i: number) => Record<string, unknown>, tag: string) {
  const last = `${tag}-${n - 1}`;
  const before = c.frames.length;
  const done = c.arrival((f) => f.re === last, 20_000);
  c.write(Array.from({ length: n }, (_, i) => JSON.stringify({ ...make(i), id: `${tag}-${i}` }) + "\n").join(""));
  await done;
  return c.frames.slice(before).filter((f) => f.type === "ok" || f.type === "error");
}

describe("the per-connection rate limit", () => {
  it("answers rate_limited past the burst, one reply per request, in order", async () => {
    const s = await server({ rateLimit: 100, rateBurst: 20 });
    const c = await Wire.connect(s.port);
    const t0 = performance.now();
    const replies = await burst(c, 500, () => ({ type: "ping" }), "p");
    const elapsed = (performance.now() - t0) / 1000;
    expect(replies.map((f) => f.re)).toEqual(Array.from({ length: 500 }, (_, i) => `p-${i}`));
    const ok = replies.filter((f) => f.type === "ok").length;
    const limited = replies.filter((f) => f.code === "rate_limited").length;
    expect(ok + limited).toBe(500);
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(20 + Math.ceil(100 * elapsed)); // the burst, plus what refilled meanwhile
    expect(replies.find((f) => f.code === "rate_limited")?.message).toMatch(/slow down/);

    // The bucket refills at the configured rate.
    await Bun.sleep(250);
    const later = await burst(c, 10, () => ({ type: "ping" }), "q");
    expect(later.filter((f) => f.type === "ok").length).toBeGreaterThanOrEqual(10);
    console.log(`Rate limit 100/s, burst 20: 500 pings at once -> ${ok} ok, ${limited} rate_limited, 0 unanswered`);
    c.close();
  });

  it("stores exactly the messages it answered ok, none of the rate_limited ones", async () => {
    const s = await server({ rateLimit: 50, rateBurst: 30 });
    const a = await login(s.port, "rl_a");
    const b = await login(s.port, "rl_b");
    expect((await a.c.req({ type: "add_friend", user: b.id })).type).toBe("ok");
    b.c.close();
    await Bun.sleep(100); // the adds above spent tokens; let a few come back
    const replies = await burst(a.c, 300, (i) => ({ type: "send", to: b.id, text: `m${i}` }), "s");
    expect(replies.length).toBe(300);
    const okMids = replies.filter((f) => f.type === "ok").map((f) => f.mid);
    expect(replies.every((f) => f.type === "ok" || f.code === "rate_limited")).toBe(true);
    const again = await Wire.connect(s.port);
    const relog = await again.req({ type: "login", name: "rl_b", password: PASSWORD });
    expect(relog.pending).toBe(okMids.length);
    await waitUntil("replay", () => (again.frames.filter((f) => f.type === "msg").length >= okMids.length ? true : undefined));
    expect(again.frames.filter((f) => f.type === "msg").map((f) => f.mid)).toEqual(okMids);
    console.log(`Rate limit 50/s, burst 30: 300 sends at once -> ${okMids.length} ok and stored, ${300 - okMids.length} rate_limited and not stored`);
    for (const c of [a.c, again]) c.close();
  });

  it("can be turned off", async () => {
    const s = await server({ rateLimit: 0 });
    const c = await Wire.connect(s.port);
    const replies = await burst(c, 5000, () => ({ type: "ping" }), "z");
    expect(replies.filter((f) => f.type === "ok").length).toBe(5000);
    c.close();
  });
});

/** A connection from a chosen loopback source address, not waiting for a hello (the server may refuse it). */
const connectFrom = (port: number, localAddress: string) => Wire.connect(port, { localAddress, hello: false });
/** The first frame the server sent on `c`. */
const first = (c: Wire) => c.next(() => true);

describe("the per-address connection limit", () => {
  it("refuses the connection over the limit with a code, counts each address apart, and frees a slot on close", async () => {
    const s = await server({ maxConnsPerAddress: 3 });
    const three = await Promise.all([1, 2, 3].map(() => connectFrom(s.port, "127.0.0.1")));
    for (const c of three) expect((await first(c)).type).toBe("hello");

    const fourth = await connectFrom(s.port, "127.0.0.1");
    expect(await first(fourth)).toMatchObject({ type: "error", code: "rate_limited" });
    await fourth.closedPromise();

    // Another address has its own count.
    const other = await Promise.all([1, 2, 3].map(() => connectFrom(s.port, "127.0.0.2")));
    for (const c of other) expect((await first(c)).type).toBe("hello");

    three[0]?.close();
    await waitUntil("the server saw the close", () => (s.server.connections === 5 ? true : undefined));
    const again = await connectFrom(s.port, "127.0.0.1");
    expect((await first(again)).type).toBe("hello");
    expect(s.server.connections).toBe(6);
    for (const c of [...three, ...other, again]) c.close();
  });
});

describe("caps", () => {
  it("answers limit_reached past the most friends, naming the cap", async () => {
    const s = await server({ maxFriends: 2 });
    const a = await login(s.port, "cap_a");
    const others = [];
    for (const n of ["cap_b", "cap_c", "cap_d"]) others.push(await login(s.port, n));
    const [b, c, d] = others as [(typeof others)[0], (typeof others)[0], (typeof others)[0]];
    expect((await a.c.req({ type: "add_friend", user: b.id })).type).toBe("ok");
    expect((await a.c.req({ type: "add_friend", user: c.id })).type).toBe("ok");
    const third = await a.c.req({ type: "add_friend", user: d.id });
    expect(third).toMatchObject({ type: "error", code: "limit_reached" });
    expect(third.message).toContain("2 friends");
    for (const x of [a, b, c, d]) x.c.close();
  });

  it("still says already_friends, not limit_reached, when a full user adds an existing friend", async () => {
    const s = await server({ maxFriends: 1 });
    const a = await login(s.port, "cap1_a");
    const b = await login(s.port, "cap1_b");
    expect((await a.c.req({ type: "add_friend", user: b.id })).type).toBe("ok");
    expect((await a.c.req({ type: "add_friend", user: b.id })).code).toBe("already_friends");
    for (const x of [a, b]) x.c.close();
  });

  it("counts the cap for both users of a friendship: a full user cannot be added either", async () => {
    const s = await server({ maxFriends: 2 });
    const a = await login(s.port, "cap2_a");
    const b = await login(s.port, "cap2_b");
    const c = await login(s.port, "cap2_c");
    const d = await login(s.port, "cap2_d");
    expect((await a.c.req({ type: "add_friend", user: b.id })).type).toBe("ok");
    expect((await a.c.req({ type: "add_friend", user: c.id })).type).toBe("ok");
    // a has 2 friends; d adding a would give a a third.
    const r = await d.c.req({ type: "add_friend", user: a.id });
    const friendsOfA = (await a.c.req({ type: "friends" })).friends.length;
    expect({ code: r.code, friendsOfA }).toEqual({ code: "limit_reached", friendsOfA: 2 });
    for (const x of [a, b, c, d]) x.c.close();
  });

  it("answers limit_reached past the most groups per user and members per group", async () => {
    const s = await server({ maxGroupsPerUser: 2, maxGroupMembers: 3 });
    const a = await login(s.port, "capg_a");
    const g1 = (await a.c.req({ type: "create_group", name: "cap-g1" })).group.id;
    expect((await a.c.req({ type: "create_group", name: "cap-g2" })).type).toBe("ok");
    const third = await a.c.req({ type: "create_group", name: "cap-g3" });
    expect(third).toMatchObject({ type: "error", code: "limit_reached" });
    expect(third.message).toContain("2 groups");

    const b = await login(s.port, "capg_b");
    const other = (await b.c.req({ type: "create_group", name: "cap-g4" })).group.id;
    expect((await a.c.req({ type: "join_group", group: other })).code).toBe("limit_reached");
    expect((await a.c.req({ type: "leave_group", group: g1 })).type).toBe("ok");
    expect((await a.c.req({ type: "join_group", group: other })).type).toBe("ok");

    // `other` now has b (creator) and a; one more fits, then it is full.
    const c = await login(s.port, "capg_c");
    const d = await login(s.port, "capg_d");
    expect((await c.c.req({ type: "join_group", group: other })).type).toBe("ok");
    const full = await d.c.req({ type: "join_group", group: other });
    expect(full).toMatchObject({ type: "error", code: "limit_reached" });
    expect(full.message).toContain("3 members");
    for (const x of [a, b, c, d]) x.c.close();
  });

  it("caps a message at 4096 characters with a bad_frame naming text", async () => {
    const s = await server({});
    const a = await login(s.port, "capm_a");
    const b = await login(s.port, "capm_b");
    await a.c.req({ type: "add_friend", user: b.id });
    expect((await a.c.req({ type: "send", to: b.id, text: "😀".repeat(4096) })).type).toBe("ok");
    const long = await a.c.req({ type: "send", to: b.id, text: "x".repeat(4097) });
    expect(long).toMatchObject({ type: "error", code: "bad_frame" });
    expect(long.message).toStartWith("text:");
    for (const x of [a, b]) x.c.close();
  });
});

describe("the idle timeout", () => {
  it("closes a silent connection with idle_timeout and keeps a chatty one", async () => {
    const s = await server({ idleTimeoutMs: 300 });
    const friend = await login(s.port, "idle_friend");
    const silent = await login(s.port, "idle_silent");
    await friend.c.req({ type: "add_friend", user: silent.id });
    const started = Date.now();
    // The friend keeps talking; the other says nothing more.
    const chatty = (async () => {
      while (!silent.c.closed && Date.now() - started < 5000) {
        expect((await friend.c.req({ type: "ping" })).type).toBe("ok");
        await Bun.sleep(100);
      }
    })();
    await silent.c.closedPromise(5000);
    const took = Date.now() - started;
    await chatty;
    expect(silent.c.frames.at(-1)).toMatchObject({ type: "error", code: "idle_timeout" });
    expect(friend.c.closed).toBe(false);
    // Its session ended: the friend is told, and sees it offline.
    await friend.c.next((f) => f.type === "presence" && f.user === silent.id && f.online === false, 2000);
    const listed = await friend.c.req({ type: "friends" });
    expect(listed.friends).toEqual([{ id: silent.id, name: "idle_silent", online: false }]);
    console.log(`Idle timeout 300 ms: silent connection closed after ${fmt(took)} ms, a pinging one kept`);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(2000);
    friend.c.close();
  });
});
