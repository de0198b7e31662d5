/**
 * The WebSocket transport (PROTOCOL.md, "WebSocket transport"): the same
 * frames on the web port's /ws, one per message both ways; bad messages get
 * bad_frame and the connection goes on; the frame limit; Origin; and the same
 * sessions as TCP, on one node and across two.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer, uniq, user } from "../support/server.ts";
import { waitUntil } from "../support/wait.ts";
import { Wire } from "../support/wire.ts";

let srv: TestServer;
let web: number;

beforeAll(async () => {
  srv = await startTestServer();
  web = srv.server.webPort as number;
});
afterAll(() => srv.stop());

/** Registers and logs in `name` over /ws. */
async function wsUser(port: number, name = uniq("ws")) {
  const w = await Wire.connectWs(port);
  await w.ok({ type: "register", name, password: "password-1" });
  const login = await w.ok({ type: "login", name, password: "password-1" });
  return { w, id: login.user.id as number, name };
}

describe("the web port", () => {
  test("its hello, like the chat port's, lists ws", async () => {
    const w = await Wire.connectWs(web);
    expect(w.hello?.features).toContain("ws");
    const t = await srv.connect();
    expect(t.hello?.features).toContain("ws");
    w.close();
    t.close();
  });

  test("with the web port off, hello does not list ws and nothing listens", async () => {
    const off = await startTestServer({ dbUrl: srv.dbUrl, webPort: 0 });
    try {
      expect(off.server.webPort).toBeUndefined();
      const t = await off.connect();
      expect(t.hello?.features).not.toContain("ws");
      t.close();
    } finally {
      await off.stop();
    }
  });

  test("answers each request in one message without a newline, with or without one at the end of the request", async () => {
    const w = await Wire.connectWs(web);
    w.write('{"type":"ping","id":1}');
    w.write('{"type":"ping","id":2}\n');
    await w.next((f) => f.re === 2);
    expect(w.frames.filter((f) => f.type === "ok").map((f) => f.re)).toEqual([1, 2]);
    expect(w.garbage).toEqual([]);
    w.close();
  });

  test("a message with two frames, or a binary one, is bad_frame and the connection goes on", async () => {
    const w = await Wire.connectWs(web);
    w.write('{"type":"ping","id":1}\n{"type":"ping","id":2}\n');
    const two = await w.next((f) => f.type === "error");
    expect(two.code).toBe("bad_frame");
    w.write(new TextEncoder().encode('{"type":"ping","id":3}'));
    const binary = await w.next((f) => f.type === "error" && f !== two);
    expect(binary.code).toBe("bad_frame");
    expect(binary.message).toContain("binary");
    await w.ok({ type: "ping", id: "after" });
    expect(w.frames.some((f) => f.re === 1 || f.re === 2 || f.re === 3)).toBe(false);
    w.close();
  });

  test("empty and white-space messages are ignored", async () => {
    const w = await Wire.connectWs(web);
    w.write("");
    w.write("  \t ");
    w.write("\n");
    await w.ok({ type: "ping", id: "after" });
    expect(w.frames.filter((f) => f.type !== "hello").map((f) => f.re)).toEqual(["after"]);
    w.close();
  });

  test("the frame limit counts the message's UTF-8 bytes plus one; past it, frame_too_large and the connection closes", async () => {
    const w = await Wire.connectWs(web);
    const frame = (bytes: number, id: string) => {
      const empty = JSON.stringify({ type: "ping", id, pad: "" });
      // "é" is two bytes in UTF-8: the limit is on bytes, not characters.
      const pad = "é".repeat(Math.floor((bytes - empty.length) / 2)) + "p".repeat((bytes - empty.length) % 2);
      return JSON.stringify({ type: "ping", id, pad });
    };
    const fits = frame(65_535, "fits");
    expect(Buffer.byteLength(fits)).toBe(65_535);
    w.write(fits);
    await w.next((f) => f.re === "fits");
    w.write(frame(65_536, "over"));
    const e = await w.next((f) => f.type === "error");
    expect(e.code).toBe("frame_too_large");
    await w.closedPromise(5_000);
  });

  test("a user on TCP and on the WebSocket at once gets a message on both, and either can send", async () => {
    const bob = await wsUser(web);
    const tcp = await Wire.connect(srv.port);
    await tcp.ok({ type: "login", name: bob.name, password: "password-1" });
    const alice = await user(srv.port, uniq("tcp"));
    await alice.w.ok({ type: "add_friend", user: bob.id });
    await alice.w.ok({ type: "send", to: bob.id, text: "to both" });
    const [a, b] = await Promise.all([bob.w.push("msg", (f) => f.text === "to both"), tcp.push("msg", (f) => f.text === "to both")]);
    expect(a.mid).toBe(b.mid);
    await bob.w.ok({ type: "send", to: alice.id, text: "from the browser" });
    const got = await alice.w.push("msg", (f) => f.text === "from the browser");
    expect(got.from).toBe(bob.id);
    for (const w of [bob.w, tcp, alice.w]) w.close();
  });

  test("requests that are no WebSocket upgrade get an HTTP answer: /ws 400, anything else 404 without a site", async () => {
    const ws = await fetch(`http://127.0.0.1:${web}/ws`);
    expect(ws.status).toBe(400);
    const other = await fetch(`http://127.0.0.1:${web}/anything`);
    expect(other.status).toBe(404);
  });
});

describe("Origin", () => {
  let listed: TestServer;
  beforeAll(async () => {
    listed = await startTestServer({ dbUrl: srv.dbUrl, webOrigins: ["https://chat.example.com"] });
  });
  afterAll(() => listed.stop());

  test("without an Origin header, the upgrade is accepted", async () => {
    const w = await Wire.connectWs(web);
    expect(w.hello?.type).toBe("hello");
    w.close();
  });

  test("the page's own origin is accepted", async () => {
    const w = await Wire.connectWs(web, { origin: `http://127.0.0.1:${web}` });
    expect(w.hello?.type).toBe("hello");
    w.close();
  });

  test("a foreign origin is refused before the upgrade with 403", async () => {
    await expect(Wire.connectWs(web, { origin: "https://evil.example" })).rejects.toThrow();
    const r = await fetch(`http://127.0.0.1:${web}/ws`, {
      headers: { Origin: "https://evil.example", Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" },
    });
    expect(r.status).toBe(403);
    expect(await r.text()).toContain("--web-origin");
  });

  test("an origin listed in --web-origin is accepted, and only there", async () => {
    const port = listed.server.webPort as number;
    const w = await Wire.connectWs(port, { origin: "https://chat.example.com" });
    expect(w.hello?.type).toBe("hello");
    w.close();
    await expect(Wire.connectWs(web, { origin: "https://chat.example.com" })).rejects.toThrow();
  });
});

describe("across two nodes", () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ redis: true, node: "ws-a" });
    b = await startTestServer({ redis: true, node: "ws-b", dbUrl: a.dbUrl });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
  });

  test("a WebSocket user on one node and a TCP user on the other chat both ways, and a second session on TCP hears it too", async () => {
    const carol = await wsUser(a.server.webPort as number);
    const dave = await user(b.port, uniq("tcp"));
    const carolTcp = await Wire.connect(b.port);
    await carolTcp.ok({ type: "login", name: carol.name, password: "password-1" });
    await dave.w.ok({ type: "add_friend", user: carol.id });
    await dave.w.ok({ type: "send", to: carol.id, text: "over the bus" });
    await Promise.all([carol.w.push("msg", (f) => f.text === "over the bus"), carolTcp.push("msg", (f) => f.text === "over the bus")]);
    await carol.w.ok({ type: "send", to: dave.id, text: "and back" });
    await dave.w.push("msg", (f) => f.text === "and back");
    carol.w.close();
    await waitUntil("the WebSocket closed", () => carol.w.closed);
    for (const w of [carolTcp, dave.w]) w.close();
  });
});
