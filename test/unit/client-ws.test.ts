/**
 * The client library over its WebSocket link, against a tiny scripted
 * WebSocket server (Bun.serve on a free port, no chat server behind it): one
 * frame per message both ways, hello first, the frame limit, reconnecting
 * with the token and sending an unanswered send again with its cid.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import {
  type ChatClient,
  type ChatClientOptions,
  ConnectError,
  ConnectionClosedError,
  connectClient,
  ConversationList,
  createClient,
  type MessagePush,
} from "../../src/client/index.ts";

type Frame = Record<string, any>;

/** One WebSocket connection as the stub sees it. */
class StubConn {
  readonly messages: Array<string | Buffer> = [];
  #waiters: Array<() => void> = [];
  #taken = 0;
  readonly gone = Promise.withResolvers<void>();
  constructor(readonly ws: ServerWebSocket<StubConn>) {}

  push(frame: Frame | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  ok(req: Frame, fields: Frame = {}): void {
    this.push({ type: "ok", re: req.id, ...fields });
  }

  /** The next request received, parsed. */
  async next(): Promise<Frame> {
    while (this.#taken >= this.messages.length) await new Promise<void>((r) => this.#waiters.push(r));
    return JSON.parse(String(this.messages[this.#taken++]));
  }

  received(message: string | Buffer): void {
    this.messages.push(message);
    for (const w of this.#waiters.splice(0)) w();
  }
}

class WsStub {
  readonly conns: StubConn[] = [];
  #waiters: Array<(c: StubConn) => void> = [];
  readonly server: Server<StubConn>;

  constructor(readonly hello: Frame = { type: "hello", version: 1, node: "w1", features: ["cid", "conversations", "ws"] }) {
    this.server = Bun.serve<StubConn>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, server) => {
        if (new URL(req.url).pathname === "/ws" && server.upgrade(req, { data: undefined as unknown as StubConn })) return;
        return new Response("not here", { status: 404 });
      },
      websocket: {
        open: (ws) => {
          const conn = new StubConn(ws);
          ws.data = conn;
          this.conns.push(conn);
          ws.send(JSON.stringify(this.hello));
          const w = this.#waiters.shift();
          if (w) w(conn);
        },
        message: (ws, message) => ws.data.received(message),
        close: (ws) => ws.data.gone.resolve(),
      },
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.server.port}/ws`;
  }

  /** The next connection to open (or the one just opened, when none was taken yet). */
  connection(index = this.conns.length): Promise<StubConn> {
    const c = this.conns[index];
    if (c) return Promise.resolve(c);
    return new Promise((r) => this.#waiters.push(r));
  }

  stop(): void {
    this.server.stop(true);
  }
}

let stub: WsStub | undefined;
const clients: ChatClient[] = [];

async function setup(options: ChatClientOptions = {}): Promise<{ client: ChatClient; conn: StubConn }> {
  stub ??= new WsStub();
  const connP = stub.connection();
  const client = await connectClient({ url: stub.url, ...options });
  clients.push(client);
  return { client, conn: await connP };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  stub?.stop();
  stub = undefined;
});

const msg = (mid: number, text = `m${mid}`): MessagePush => ({ type: "msg", mid, from: 8, name: "bob", to: 7, text, ts: 1_795_000_000_000 });

describe("ChatClient over WebSocket", () => {
  it("greets with the server's hello and its features", async () => {
    const { client } = await setup();
    expect(client.node).toBe("w1");
    expect(client.offers("ws")).toBe(true);
  });

  it("sends each request as one text message without the newline and matches the replies", async () => {
    const { client, conn } = await setup();
    const a = client.ping();
    const b = client.friends();
    const ra = await conn.next();
    const rb = await conn.next();
    expect(conn.messages.every((m) => typeof m === "string" && !m.endsWith("\n"))).toBe(true);
    expect([ra.type, rb.type]).toEqual(["ping", "friends"]);
    conn.ok(ra);
    conn.ok(rb, { friends: [{ id: 8, name: "bob", online: true }] });
    expect(await a).toBeGreaterThanOrEqual(0);
    expect(await b).toEqual([{ id: 8, name: "bob", online: true }]);
  });

  it("carries emoji, Chinese and right-to-left text both ways unchanged", async () => {
    const { client, conn } = await setup();
    const text = "😀 你好 שלום\nline two";
    const got = new Promise<MessagePush>((r) => client.onMessage(r));
    const sent = client.send(8, text);
    const req = await conn.next();
    expect(req.text).toBe(text);
    conn.ok(req, { mid: 5, ts: 1 });
    await sent;
    conn.push(msg(6, text));
    expect((await got).text).toBe(text);
  });

  it("keeps a ConversationList up to date as over TCP", async () => {
    const { client, conn } = await setup();
    const list = new ConversationList(client);
    const loaded = list.load();
    conn.ok(await conn.next(), { conversations: [] });
    await loaded;
    const changed = new Promise((r) => list.once("change", r));
    conn.push(msg(3, "hello"));
    await changed;
    expect(list.list().map((c) => [c.last.text, c.unread])).toEqual([["hello", 1]]);
    list.close();
  });

  it("drops the connection when the server sends a binary message", async () => {
    const { client, conn } = await setup();
    const lost = new Promise<{ error?: Error }>((r) => client.once("disconnected", r));
    conn.ws.sendBinary(new Uint8Array([123, 125]));
    expect((await lost).error?.message).toContain("binary");
  });

  it("drops the connection on a message that is not a frame, and on one over the frame limit", async () => {
    const a = await setup();
    const lostA = new Promise<{ error?: Error }>((r) => a.client.once("disconnected", r));
    a.conn.push("not json");
    expect((await lostA).error?.message).toContain("not a JSON object");

    const b = await setup({ maxFrame: 1024 });
    const lostB = new Promise<{ error?: Error }>((r) => b.client.once("disconnected", r));
    b.conn.push({ type: "msg", pad: "é".repeat(600) });
    expect((await lostB).error?.message).toContain("exceeds 1024 bytes");
  });

  it("ignores empty and white-space messages", async () => {
    const { client, conn } = await setup();
    conn.push("  ");
    const p = client.ping();
    conn.ok(await conn.next());
    await p;
    expect(client.connected).toBe(true);
  });

  it("reconnects after the server drops it, logs back in with the token and sends an unanswered send again with its cid", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    const login = client.login({ name: "alice", password: "s3cret-pw" });
    conn.ok(await conn.next(), { user: { id: 7, name: "alice" }, friends: [], groups: [], pending: 0, token: "t1" });
    await login;
    const sent = client.send(8, "once", { cid: "my-cid" });
    const first = await conn.next();
    expect(first.cid).toBe("my-cid");
    const nextConn = stub!.connection(1);
    conn.ws.close(1011, "gone");
    const again = await nextConn;
    const relogin = await again.next();
    expect(relogin).toMatchObject({ type: "login", token: "t1" });
    again.ok(relogin, { user: { id: 7, name: "alice" }, friends: [], groups: [], pending: 0, token: "t2" });
    const resent = await again.next();
    expect(resent).toMatchObject({ type: "send", to: 8, text: "once", cid: "my-cid" });
    again.ok(resent, { mid: 9, ts: 2, duplicate: true });
    expect(await sent).toEqual({ mid: 9, ts: 2, duplicate: true });
    expect(client.token).toBe("t2");
  });

  it("closes cleanly: the server sees the close and requests made after it reject", async () => {
    const { client, conn } = await setup();
    await client.close();
    await conn.gone.promise;
    await expect(client.ping()).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it("rejects connect() with ConnectError when nothing listens", async () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = probe.port;
    probe.stop(true);
    const client = createClient({ url: `ws://127.0.0.1:${port}/ws`, connectTimeoutMs: 5_000 });
    await expect(client.connect()).rejects.toBeInstanceOf(ConnectError);
  });

  it("rejects connect() with ConnectError when the path is not a WebSocket", async () => {
    stub = new WsStub();
    const client = createClient({ url: `ws://127.0.0.1:${stub.server.port}/nothing` });
    await expect(client.connect()).rejects.toBeInstanceOf(ConnectError);
  });

  it("refuses a url that is not ws:// or wss://, and TCP options given with one", () => {
    expect(() => createClient({ url: "http://127.0.0.1:6080/ws" })).toThrow(TypeError);
    expect(() => createClient({ url: "ws://127.0.0.1:6080/ws", port: 6000 })).toThrow("port cannot be given with url");
    expect(() => createClient({ url: "wss://example.test/ws", tls: true })).toThrow(TypeError);
    expect(() => createClient({ url: "ws://example.test/ws", tls: { ca: "PEM" } })).toThrow("for a wss:// URL");
    expect(() => createClient({ url: "wss://example.test/ws", tls: { ca: "PEM" } })).not.toThrow();
  });
});
