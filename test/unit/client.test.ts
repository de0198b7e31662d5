/**
 * The client library against a scripted fake server (Bun.listen on a free
 * port): request/reply matching, errors, pushes, framing, autoAck, reconnect
 * with token relogin, heartbeat and clean shutdown.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { PassThrough, Writable } from "node:stream";
import { runConsole } from "../../src/client/console.ts";
import {
  type ChatClient,
  type ChatClientOptions,
  ConnectionClosedError,
  connectClient,
  createClient,
  FrameTooLargeError,
  type MessagePush,
  type Push,
  RequestError,
} from "../../src/client/index.ts";
import { type FakeConn, FakeServer, type Frame } from "../support/fake-server.ts";

let server: FakeServer;
const clients: ChatClient[] = [];

async function setup(options: ChatClientOptions = {}): Promise<{ client: ChatClient; conn: FakeConn }> {
  server ??= FakeServer.start();
  const connP = server.connection();
  const client = await connectClient({ port: server.port, ...options });
  clients.push(client);
  return { client, conn: await connP };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server?.stop();
  server = undefined as unknown as FakeServer;
});

function collect<T>(client: ChatClient, event: "msg" | "push"): T[] {
  const out: T[] = [];
  client.on(event, (e) => out.push(e as T));
  return out;
}

/** Resolves with the next `event` the client emits. */
function nextEvent<T>(client: ChatClient, event: Parameters<ChatClient["once"]>[0]): Promise<T> {
  return new Promise((resolve) => client.once(event, (e) => resolve(e as T)));
}

const msg = (mid: number, text = `m${mid}`): MessagePush => ({
  type: "msg",
  mid,
  from: 8,
  name: "bob",
  to: 7,
  text,
  ts: 1_795_000_000_000,
});

describe("ChatClient requests", () => {
  it("exposes the node from the server's hello", async () => {
    server = FakeServer.start();
    server.nodeName = "n7";
    const { client } = await setup();
    expect(client.node).toBe("n7");
    expect(client.state).toBe("open");
  });

  it("sends {type, id, ...fields} with increasing ids and resolves the matching reply", async () => {
    const { client, conn } = await setup();
    const a = client.send(8, "one");
    const b = client.send(9, "two");
    const fa = await conn.nextOf("send");
    const fb = await conn.nextOf("send");
    expect(fa).toEqual({ type: "send", id: fa.id, to: 8, text: "one" });
    expect(fb.id).toBe(fa.id + 1);
    // Answer out of order: matching is by `re`, not by position.
    conn.ok(fb, { mid: 2, ts: 20 });
    conn.ok(fa, { mid: 1, ts: 10 });
    expect(await a).toEqual({ mid: 1, ts: 10 });
    expect(await b).toEqual({ mid: 2, ts: 20 });
    expect(client.inFlight).toBe(0);
  });

  it("rejects with a RequestError carrying the server's code and message", async () => {
    const { client, conn } = await setup();
    server.script = (c, f) => {
      if (f.type !== "send") return false;
      c.send({ type: "error", re: f.id, code: "not_friend", message: "user 9 is not your friend" });
      return true;
    };
    const err = await client.send(9, "hi").catch((e) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect(err.code).toBe("not_friend");
    expect(err.message).toBe("user 9 is not your friend");
    expect(err.op).toBe("send");
    expect(conn.closed).toBe(false);
  });

  it("maps each convenience method to its protocol op and fields", async () => {
    const { client, conn } = await setup();
    server.script = (c, f) => {
      const replies: Record<string, Frame> = {
        register: { user: { id: 7, name: f.name } },
        add_friend: { friend: { id: f.user, name: "bob", online: true } },
        create_group: { group: { id: 3, name: f.name, desc: f.desc ?? "", role: "creator" } },
        join_group: { group: { id: f.group, name: "g", desc: "", role: "normal", members: [] } },
        leave_group: {},
        group_send: { mid: 5, ts: 1 },
        ack: { acked: f.mids?.length },
        history: { messages: [msg(4)] },
        friends: { friends: [{ id: 8, name: "bob", online: false }] },
        groups: { groups: [] },
        logout: {},
      };
      const r = replies[f.type];
      if (!r) return false;
      c.ok(f, r);
      return true;
    };
    expect(await client.register("alice", "s3cret-pw")).toEqual({ id: 7, name: "alice" });
    expect((await client.login({ user: 7, password: "s3cret-pw" })).user.id).toBe(7);
    expect(await client.addFriend(8)).toEqual({ id: 8, name: "bob", online: true });
    expect((await client.createGroup("devs", "we code")).id).toBe(3);
    expect((await client.joinGroup(4)).id).toBe(4);
    await client.leaveGroup(4);
    expect(await client.groupSend(4, "hi all")).toEqual({ mid: 5, ts: 1 });
    expect(await client.ack([1, 2])).toBe(2);
    expect(await client.history({ with: 8, before: 10, limit: 5 })).toEqual([msg(4)]);
    expect(await client.friends()).toEqual([{ id: 8, name: "bob", online: false }]);
    expect(await client.groups()).toEqual([]);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    await client.logout();
    const sent = conn.frames.map(({ id, ...rest }) => rest);
    expect(sent).toEqual([
      { type: "register", name: "alice", password: "s3cret-pw" },
      { type: "login", user: 7, password: "s3cret-pw" },
      { type: "add_friend", user: 8 },
      { type: "create_group", name: "devs", desc: "we code" },
      { type: "join_group", group: 4 },
      { type: "leave_group", group: 4 },
      { type: "group_send", group: 4, text: "hi all" },
      { type: "ack", mids: [1, 2] },
      { type: "history", with: 8, before: 10, limit: 5 },
      { type: "friends" },
      { type: "groups" },
      { type: "ping" },
      { type: "logout" },
    ]);
  });

  it("maps the group administration methods to their ops and fields", async () => {
    const { client, conn } = await setup();
    server.script = (c, f) => {
      if (!["set_role", "kick", "group_unban", "update_group", "delete_group"].includes(f.type)) return false;
      c.ok(f, f.type === "update_group" ? { group: { id: f.group, name: f.name ?? "old", desc: f.desc ?? "d" } } : {});
      return true;
    };
    await client.setRole(4, 8, "admin");
    await client.kick(4, 8);
    await client.kick(4, 9, { ban: true });
    await client.unban(4, 9);
    expect(await client.updateGroup(4, { name: "renamed" })).toEqual({ id: 4, name: "renamed", desc: "d" });
    expect(await client.updateGroup(4, { desc: "" })).toEqual({ id: 4, name: "old", desc: "" });
    await client.deleteGroup(4);
    expect(conn.frames.map(({ id, ...rest }) => rest)).toEqual([
      { type: "set_role", group: 4, user: 8, role: "admin" },
      { type: "kick", group: 4, user: 8 },
      { type: "kick", group: 4, user: 9, ban: true },
      { type: "group_unban", group: 4, user: 9 },
      { type: "update_group", group: 4, name: "renamed" },
      { type: "update_group", group: 4, desc: "" },
      { type: "delete_group", group: 4 },
    ]);
  });

  it("tells listeners of every ok with the request's fields, before a push that follows it", async () => {
    const { client, conn } = await setup();
    const seen: string[] = [];
    client.on("ok", (e) => seen.push(`ok ${e.op} ${JSON.stringify(e.fields)} ${JSON.stringify(e.reply)}`));
    client.onMessage((m) => seen.push(`msg ${m.mid}`));
    const sent = client.send(8, "hi");
    const f = await conn.nextOf("send");
    conn.send(`${JSON.stringify({ type: "ok", re: f.id, mid: 4, ts: 1 })}\n${JSON.stringify(msg(5))}\n`);
    await sent;
    server.script = (c, r) => (r.type === "edit" ? (c.send({ type: "error", re: r.id, code: "forbidden", message: "no" }), true) : false);
    await client.edit(4, "x").catch(() => {});
    await client.ping();
    expect(seen).toEqual(['ok send {"to":8,"text":"hi"} {"mid":4,"ts":1}', "msg 5", "ok ping {} {}"]);
  });

  it("keeps the newest token from each login and forgets it at logout", async () => {
    const { client } = await setup();
    server.script = (c, f) => (f.type === "logout" ? (c.ok(f), true) : false);
    await client.login({ name: "alice", password: "s3cret-pw" });
    expect(client.token).toBe("t1");
    expect(client.user).toEqual({ id: 7, name: "alice" });
    await client.loginWithToken("t1");
    expect(client.token).toBe("t2");
    await client.logout();
    expect(client.token).toBeUndefined();
    expect(client.user).toBeUndefined();
  });

  it("refuses a request larger than the server's frame limit without sending it", async () => {
    const { client, conn } = await setup({ maxRequestBytes: 100 });
    const err = await client.send(8, "x".repeat(200)).catch((e) => e);
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect(err.code).toBe("frame_too_large");
    await client.ping();
    expect(conn.frames.map((f) => f.type)).toEqual(["ping"]);
  });

  it("writes many large requests in order despite backpressure", async () => {
    const { client, conn } = await setup();
    server.script = (c, f) => (f.type === "send" ? (c.ok(f, { mid: f.id, ts: 0 }), true) : false);
    const text = "é".repeat(4000); // 8 KB each, 16 MB in all: more than a socket buffer holds
    const replies = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send(8, `${i} ${text}`)));
    expect(replies.map((r) => r.mid)).toEqual(conn.frames.map((f) => f.id));
    expect(conn.frames.every((f, i) => f.text === `${i} ${text}`)).toBe(true);
  });

  it("rejects requests made before connect() or after close() with ConnectionClosedError", async () => {
    server = FakeServer.start();
    const client = createClient({ port: server.port });
    const early = await client.ping().catch((e) => e);
    expect(early).toBeInstanceOf(ConnectionClosedError);
    expect(early.code).toBe("connection_closed");
    await client.connect();
    await client.close();
    expect((await client.ping().catch((e) => e)).code).toBe("connection_closed");
  });

  it("rejects connect() with connect_failed when nothing listens", async () => {
    server = FakeServer.start();
    const port = server.port;
    server.stop();
    const client = createClient({ port });
    const err = await client.connect().catch((e) => e);
    expect(err.code).toBe("connect_failed");
    expect(client.state).toBe("idle");
  });

  it("rejects connect() with a timeout when the server never says hello", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const client = createClient({ port: silent.port, connectTimeoutMs: 50 });
      const err = await client.connect().catch((e) => e);
      expect(err.code).toBe("timeout");
    } finally {
      silent.stop(true);
    }
  });
});

describe("ChatClient framing", () => {
  it("reassembles frames split anywhere, even inside a UTF-8 character", async () => {
    const { client, conn } = await setup();
    const pushes = collect<MessagePush>(client, "msg");
    const bytes = new TextEncoder().encode(`${JSON.stringify(msg(1, "héllo 世界 🎉"))}\n`);
    for (let i = 0; i < bytes.length; i++) {
      conn.socket.write(bytes.subarray(i, i + 1));
      await Bun.sleep(0);
    }
    await client.ping(); // the ping's reply comes after the push
    expect(pushes.map((p) => p.text)).toEqual(["héllo 世界 🎉"]);
  });

  it("handles several frames in one read", async () => {
    const { client, conn } = await setup();
    const pushes = collect<MessagePush>(client, "msg");
    const p = client.ping();
    const ping = await conn.nextOf("ping");
    conn.send([msg(1), msg(2), { type: "ok", re: ping.id }, msg(3)].map((f) => `${JSON.stringify(f)}\n`).join(""));
    await p;
    await client.ping();
    expect(pushes.map((m) => m.mid)).toEqual([1, 2, 3]);
  });

  it("drops the connection when the server sends something that is not a frame", async () => {
    const { client, conn } = await setup();
    const pending = client.send(8, "hi").catch((e) => e);
    await conn.nextOf("send");
    const disconnected = nextEvent<{ error: Error; willReconnect: boolean }>(client, "disconnected");
    conn.send("this is not json\n");
    const e = await disconnected;
    expect(e.error.message).toContain("not a JSON object");
    expect(e.willReconnect).toBe(false);
    expect((await pending).code).toBe("connection_closed");
    expect(client.state).toBe("closed");
  });
});

describe("ChatClient pushes", () => {
  it("delivers each push to its typed listener and to onPush, unknown types to onPush only", async () => {
    const { client, conn } = await setup();
    const all = collect<Push>(client, "push");
    const seen: string[] = [];
    client.onMessage((m) => seen.push(`msg ${m.mid}`));
    client.onPresence((p) => seen.push(`presence ${p.user} ${p.online}`));
    client.onFriendAdded((p) => seen.push(`friend_added ${p.friend.id}`));
    client.onMemberJoined((p) => seen.push(`member_joined ${p.group} ${p.user.id}`));
    client.onMemberLeft((p) => seen.push(`member_left ${p.group} ${p.user.id}`));
    conn.send(msg(1));
    conn.send({ type: "presence", user: 8, online: true });
    conn.send({ type: "friend_added", friend: { id: 9, name: "carol", online: true } });
    conn.send({ type: "member_joined", group: 3, user: { id: 9, name: "carol" } });
    conn.send({ type: "member_left", group: 3, user: { id: 9, name: "carol" } });
    conn.send({ type: "typing", user: 8 });
    await client.ping();
    expect(seen).toEqual(["msg 1", "presence 8 true", "friend_added 9", "member_joined 3 9", "member_left 3 9"]);
    expect(all.map((p) => p.type)).toEqual(["msg", "presence", "friend_added", "member_joined", "member_left", "typing"]);
  });

  it("delivers the group administration pushes to their typed listeners, a kick's member_left with its by", async () => {
    const { client, conn } = await setup();
    const seen: string[] = [];
    client.onRoleChanged((p) => seen.push(`role_changed ${p.group} ${p.user.id} ${p.role}`));
    client.onGroupUpdated((p) => seen.push(`group_updated ${p.group.id} ${p.group.name}`));
    client.onGroupDeleted((p) => seen.push(`group_deleted ${p.group}`));
    client.onMemberLeft((p) => seen.push(`member_left ${p.user.id} by ${p.by?.id}`));
    conn.send({ type: "role_changed", group: 3, user: { id: 9, name: "carol" }, role: "admin" });
    conn.send({ type: "group_updated", group: { id: 3, name: "team", desc: "" } });
    conn.send({ type: "member_left", group: 3, user: { id: 9, name: "carol" }, by: { id: 7, name: "alice" } });
    conn.send({ type: "group_deleted", group: 3 });
    await client.ping();
    expect(seen).toEqual(["role_changed 3 9 admin", "group_updated 3 team", "member_left 9 by 7", "group_deleted 3"]);
  });

  it("delivers duplicates when neither autoAck nor dedupe is on", async () => {
    const { client, conn } = await setup();
    const got = collect<MessagePush>(client, "msg");
    conn.send(msg(1));
    conn.send(msg(1));
    await client.ping();
    expect(got.map((m) => m.mid)).toEqual([1, 1]);
  });

  it("an unsubscribed listener hears nothing more", async () => {
    const { client, conn } = await setup();
    const got: number[] = [];
    const off = client.onMessage((m) => got.push(m.mid));
    conn.send(msg(1));
    await client.ping();
    off();
    conn.send(msg(2));
    await client.ping();
    expect(got).toEqual([1]);
  });
});

describe("ChatClient autoAck", () => {
  it("acks received messages in one batched request", async () => {
    const { client, conn } = await setup({ autoAck: { delayMs: 5 } });
    server.script = (c, f) => (f.type === "ack" ? (c.ok(f, { acked: f.mids.length }), true) : false);
    for (let mid = 1; mid <= 5; mid++) conn.send(msg(mid));
    const ack = await conn.nextOf("ack");
    expect(ack.mids).toEqual([1, 2, 3, 4, 5]);
    await client.ping();
    expect(conn.frames.filter((f) => f.type === "ack")).toHaveLength(1);
  });

  it("sends a batch at once when maxBatch messages wait", async () => {
    const { conn } = await setup({ autoAck: { delayMs: 60_000, maxBatch: 2 } });
    for (let mid = 1; mid <= 4; mid++) conn.send(msg(mid));
    expect((await conn.nextOf("ack")).mids).toEqual([1, 2]);
    expect((await conn.nextOf("ack")).mids).toEqual([3, 4]);
  });

  it("drops duplicate mids before the listeners but acks them again", async () => {
    const { client, conn } = await setup({ autoAck: { delayMs: 5 } });
    const got = collect<MessagePush>(client, "msg");
    conn.send(msg(1));
    conn.send(msg(2));
    conn.send(msg(1));
    expect((await conn.nextOf("ack")).mids).toEqual([1, 2]);
    conn.send(msg(2)); // redelivered after the ack: the server still thinks it is pending
    expect((await conn.nextOf("ack")).mids).toEqual([2]);
    expect(got.map((m) => m.mid)).toEqual([1, 2]);
  });

  it("forgets only the oldest mids when the dedupe window is full", async () => {
    const { client, conn } = await setup({ dedupe: 2 });
    const got = collect<MessagePush>(client, "msg");
    for (const mid of [1, 2, 3, 3, 2, 1]) conn.send(msg(mid));
    await client.ping();
    // 1 fell out of the window of two when 3 arrived.
    expect(got.map((m) => m.mid)).toEqual([1, 2, 3, 1]);
  });

  it("sends the acks that wait before logging out", async () => {
    const { client, conn } = await setup({ autoAck: { delayMs: 60_000 } });
    server.script = (c, f) => (f.type === "logout" || f.type === "ack" ? (c.ok(f), true) : false);
    conn.send(msg(1));
    await client.ping();
    await client.logout();
    expect(conn.frames.map((f) => f.type)).toEqual(["ping", "ack", "logout"]);
  });

  it("forgets seen mids when another user logs in on the same client", async () => {
    const { client, conn } = await setup({ autoAck: true });
    const got = collect<MessagePush>(client, "msg");
    await client.login({ user: 7, password: "s3cret-pw" });
    conn.send({ ...msg(1), group: 3, to: undefined });
    await client.ping();
    await client.login({ user: 8, password: "s3cret-pw" });
    conn.send({ ...msg(1), group: 3, to: undefined }); // the same group message, now for user 8
    await client.ping();
    expect(got.map((m) => m.mid)).toEqual([1, 1]);
  });
});

describe("ChatClient reconnect", () => {
  it("rejects requests in flight when the connection drops, and reports it", async () => {
    const { client, conn } = await setup();
    const pending = client.send(8, "hi").catch((e) => e);
    await conn.nextOf("send");
    const gone = nextEvent<{ willReconnect: boolean }>(client, "disconnected");
    const closed = nextEvent(client, "close");
    conn.drop();
    const err = await pending;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.code).toBe("connection_closed");
    expect((await gone).willReconnect).toBe(false);
    await closed;
    expect(client.state).toBe("closed");
  });

  it("reconnects after a drop and logs back in with the newest token", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    await client.login({ name: "alice", password: "s3cret-pw" });
    await client.loginWithToken(client.token!);
    expect(client.token).toBe("t2");
    const inFlight = client.send(8, "lost?").catch((e) => e);
    await conn.nextOf("send");
    const events: string[] = [];
    client.on("disconnected", (e) => events.push(`disconnected ${e.willReconnect}`));
    client.on("reconnecting", (e) => events.push(`reconnecting ${e.attempt}`));
    const reconnected = nextEvent<{ node: string; user: unknown; login: { token: string } }>(client, "reconnected");
    server.nodeName = "n2";
    const second = server.connection();
    conn.drop();
    expect((await inFlight).code).toBe("connection_closed");
    const conn2 = await second;
    const relogin = await conn2.nextOf("login");
    expect(relogin).toEqual({ type: "login", id: relogin.id, token: "t2" });
    const r = await reconnected;
    expect(r.node).toBe("n2");
    expect(r.user).toEqual({ id: 7, name: "alice" });
    expect(r.login.token).toBe("t3");
    expect(client.token).toBe("t3");
    expect(client.node).toBe("n2");
    expect(client.state).toBe("open");
    expect(events).toEqual(["disconnected true", "reconnecting 1"]);
    // Nothing but the login was re-sent.
    await client.ping();
    expect(conn2.frames.map((f) => f.type)).toEqual(["login", "ping"]);
  });

  it("emits reconnected before the pending messages pushed after the relogin", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 1 }, autoAck: true });
    await client.login({ name: "alice", password: "s3cret-pw" });
    const order: string[] = [];
    client.on("reconnected", () => order.push("reconnected"));
    client.onMessage((m) => order.push(`msg ${m.mid}`));
    server.script = (c, f) => {
      if (f.type !== "login" || !f.token) return false;
      c.send(
        `${JSON.stringify({ type: "ok", re: f.id, user: { id: 7, name: "alice" }, friends: [], groups: [], pending: 1, token: "tx" })}\n${JSON.stringify(msg(9))}\n`,
      );
      return true;
    };
    const second = server.connection();
    conn.drop();
    const conn2 = await second;
    await conn2.nextOf("ack");
    expect(order).toEqual(["reconnected", "msg 9"]);
  });

  it("reconnects without logging in when nobody was logged in", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 1 } });
    const reconnected = nextEvent<{ user?: unknown }>(client, "reconnected");
    conn.drop();
    expect((await reconnected).user).toBeUndefined();
    await client.ping();
    expect(server.conns[1]!.frames.map((f) => f.type)).toEqual(["ping"]);
  });

  it("gives the session up when the token is refused, and stays connected", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 1 } });
    await client.login({ name: "alice", password: "s3cret-pw" });
    server.validTokens.clear();
    const reconnected = nextEvent<{ loginError?: RequestError }>(client, "reconnected");
    conn.drop();
    const r = await reconnected;
    expect(r.loginError?.code).toBe("bad_credentials");
    expect(client.user).toBeUndefined();
    expect(client.token).toBeUndefined();
    expect(client.state).toBe("open");
  });

  it("keeps trying while the server is down, then gives up after maxAttempts", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 } });
    const attempts: number[] = [];
    client.on("reconnecting", (e) => attempts.push(e.attempt));
    const closed = nextEvent(client, "close");
    server.stop();
    conn.drop();
    await closed;
    expect(attempts).toEqual([1, 2, 3]);
    expect(client.state).toBe("closed");
  });

  it("rejects new requests at once while reconnecting", async () => {
    const { client, conn } = await setup({ reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    const reconnecting = nextEvent(client, "reconnecting");
    conn.drop();
    await reconnecting;
    expect(client.state).toBe("reconnecting");
    const err = await client.ping().catch((e) => e);
    expect(err.code).toBe("connection_closed");
    await client.close(); // also cuts the 60 s wait short
    expect(client.state).toBe("closed");
  });
});

describe("ChatClient exactly-once sends", () => {
  async function withCid(options: ChatClientOptions = { reconnect: { initialDelayMs: 1, maxDelayMs: 5 } }) {
    server ??= FakeServer.start();
    server.features = ["cid"];
    const r = await setup(options);
    await r.client.login({ name: "alice", password: "s3cret-pw" });
    return r;
  }

  it("gives every send and group_send its own cid when the server offers cid", async () => {
    const { client, conn } = await withCid();
    expect(client.offers("cid")).toBe(true);
    const a = client.send(8, "one");
    const sa = await conn.nextOf("send");
    conn.ok(sa, { mid: 1, ts: 5 });
    const b = client.groupSend(3, "two");
    const sb = await conn.nextOf("group_send");
    conn.ok(sb, { mid: 2, ts: 6 });
    expect(await a).toEqual({ mid: 1, ts: 5 });
    await b;
    expect(sa.cid).toMatch(/^[0-9a-f-]{36}$/);
    expect(sb.cid).toMatch(/^[0-9a-f-]{36}$/);
    expect(sa.cid).not.toBe(sb.cid);
  });

  it("sends nothing extra to a server that does not offer cid", async () => {
    const { client, conn } = await setup();
    const r = client.send(8, "plain");
    const f = await conn.nextOf("send");
    conn.ok(f, { mid: 1, ts: 1 });
    await r;
    expect(f).not.toHaveProperty("cid");
    expect(client.offers("cid")).toBe(false);
  });

  it("sends a send whose reply was lost again after the reconnect, with the same cid, and resolves once", async () => {
    const { client, conn } = await withCid();
    const sent = client.send(8, "lost reply");
    const first = await conn.nextOf("send");
    const second = server.connection();
    conn.drop(); // the server stored it; its ok never arrives
    const conn2 = await second;
    await conn2.nextOf("login");
    const again = await conn2.nextOf("send");
    expect(again.cid).toBe(first.cid);
    expect(again.text).toBe("lost reply");
    conn2.ok(again, { mid: 41, ts: 9, duplicate: true });
    expect(await sent).toEqual({ mid: 41, ts: 9, duplicate: true });
  });

  it("sends again, with the same cid, a send answered unavailable (the server's database failing over), and resolves once", async () => {
    const { client, conn } = await withCid();
    const sent = client.send(8, "during a failover");
    const first = await conn.nextOf("send");
    conn.send({ type: "error", re: first.id, code: "unavailable", message: "a backing service is unavailable; try again" });
    const second = await conn.nextOf("send");
    expect(second.cid).toBe(first.cid);
    conn.send({ type: "error", re: second.id, code: "unavailable", message: "a backing service is unavailable; try again" });
    const third = await conn.nextOf("send");
    expect(third.cid).toBe(first.cid);
    conn.ok(third, { mid: 77, ts: 3 });
    expect(await sent).toEqual({ mid: 77, ts: 3 });
  });

  it("gives any other error of a send to the caller at once", async () => {
    const { client, conn } = await withCid();
    const sent = client.send(8, "to a stranger").catch((e) => e);
    const first = await conn.nextOf("send");
    conn.send({ type: "error", re: first.id, code: "not_friend", message: "user 8 is not your friend" });
    expect((await sent).code).toBe("not_friend");
  });

  it("holds a send made while reconnecting until the client is logged back in", async () => {
    const { client, conn } = await withCid();
    const second = server.connection();
    const gone = nextEvent(client, "disconnected");
    conn.drop();
    await gone;
    const sent = client.send(8, "while away");
    const conn2 = await second;
    const login = await conn2.nextOf("login");
    const s = await conn2.next((f) => f.type === "send");
    expect(conn2.frames.indexOf(login)).toBeLessThan(conn2.frames.indexOf(s));
    conn2.ok(s, { mid: 50, ts: 1 });
    expect((await sent).mid).toBe(50);
  });

  it("rejects a send whose connection is lost when reconnecting is off", async () => {
    const { client, conn } = await withCid({});
    const sent = client.send(8, "no reconnect").catch((e) => e);
    await conn.nextOf("send");
    conn.drop();
    expect(await sent).toBeInstanceOf(ConnectionClosedError);
  });

  it("rejects a held send when the client is closed", async () => {
    const { client, conn } = await withCid({ reconnect: { initialDelayMs: 10_000, maxDelayMs: 10_000 } });
    const gone = nextEvent(client, "disconnected");
    conn.drop();
    await gone;
    const sent = client.send(8, "never").catch((e) => e);
    await client.close();
    expect(await sent).toBeInstanceOf(ConnectionClosedError);
  });
});

describe("ChatClient heartbeat", () => {
  it("does not ping while the connection is fresh", async () => {
    const start = Date.now();
    const { conn } = await setup({ heartbeatMs: 200 });
    await conn.nextOf("ping");
    expect(Date.now() - start).toBeGreaterThanOrEqual(190);
  });

  it("pings after heartbeatMs without sending anything", async () => {
    const { conn } = await setup({ heartbeatMs: 30 });
    const ping = await conn.nextOf("ping");
    expect(ping.type).toBe("ping");
  });

  it("drops the connection when a heartbeat ping goes unanswered", async () => {
    const { client } = await setup({ heartbeatMs: 20, heartbeatTimeoutMs: 30 });
    server.script = (_c, f) => f.type === "ping"; // swallow pings
    const gone = await nextEvent<{ error: Error }>(client, "disconnected");
    expect(gone.error.message).toContain("no reply to ping");
  });
});

describe("ChatClient close", () => {
  it("ends the connection, rejects what is in flight and sends the acks that wait", async () => {
    const { client, conn } = await setup({ autoAck: { delayMs: 60_000 } });
    conn.send(msg(1));
    await client.ping();
    const pending = client.send(8, "x").catch((e) => e);
    await client.close();
    expect((await pending).code).toBe("connection_closed");
    await conn.whenClosed;
    expect(conn.frames.map((f) => f.type)).toEqual(["ping", "send", "ack"]);
    expect(client.state).toBe("closed");
  });

  it("leaves no socket or timer behind: the process exits by itself", async () => {
    server = FakeServer.start();
    const script = `
      import { connectClient } from ${JSON.stringify(`${import.meta.dir}/../../src/client/index.ts`)};
      const c = await connectClient({ port: ${server.port}, reconnect: true, autoAck: true, heartbeatMs: 1000 });
      await c.login({ name: "alice", password: "s3cret-pw" });
      c.on("msg", () => {});
      await c.ping();
      await c.close();
      console.log("closed");
    `;
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => proc.kill(), 5_000);
    const code = await proc.exited;
    clearTimeout(killer);
    expect(await new Response(proc.stdout).text()).toBe("closed\n");
    expect(code).toBe(0);
  });
});

/** runConsole on in-memory streams: `type` feeds lines, `waitFor` watches the output. */
function consoleOn(port: number, client: ChatClientOptions = {}) {
  const input = new PassThrough();
  let text = "";
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const output = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      for (const w of [...waiters]) {
        if (w.re.test(text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      done();
    },
  });
  const exited = runConsole({ port, input, output, tty: false, client });
  return {
    exited,
    get text() {
      return text;
    },
    type: (...lines: string[]) => input.write(lines.map((l) => `${l}\n`).join("")),
    end: () => input.end(),
    waitFor: (re: RegExp) =>
      re.test(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ re, resolve })),
  };
}

describe("runConsole (against the fake server)", () => {
  it("shows the login summary before the pending messages, acks them, and exits 0 at the end of input", async () => {
    server = FakeServer.start();
    server.script = (c, f) => {
      if (f.type === "ack") return c.ok(f, { acked: f.mids.length }), true;
      if (f.type !== "login") return false;
      const friends = [{ id: 8, name: "bob", online: true }];
      c.send(
        [
          { type: "ok", re: f.id, user: { id: 7, name: "alice" }, friends, groups: [], pending: 2, token: "t" },
          msg(1, "first"),
          msg(2, "second"),
        ]
          .map((x) => `${JSON.stringify(x)}\n`)
          .join(""),
      );
      return true;
    };
    const con = consoleOn(server.port);
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/second \(mid 2\)\n/);
    con.end();
    expect(await con.exited).toBe(0);
    const lines = con.text.split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^ok: logged in as alice\(7\) on node n1$/)).toBeGreaterThan(at(/^1\. login$/));
    expect(at(/^  bob\(8\) online$/)).toBeGreaterThan(at(/^ok: logged in/));
    expect(at(/^pending messages: 2$/)).toBeGreaterThan(at(/^  bob\(8\) online$/));
    expect(at(/bob\(8\) -> you: first \(mid 1\)$/)).toBeGreaterThan(at(/^pending messages: 2$/));
    expect(at(/bob\(8\) -> you: second \(mid 2\)$/)).toBeGreaterThan(at(/-> you: first \(mid 1\)$/));
    // No prompts and no escape codes off a terminal.
    expect(con.text).not.toContain("\x1b");
    expect(con.text).not.toContain("password:");
    await server.conns[0]!.whenClosed;
    expect(server.conns[0]!.frames.filter((f) => f.type === "ack").flatMap((f) => f.mids)).toEqual([1, 2]);
  });

  it("shows pushes as lines, and a peer's typing once until a message of theirs", async () => {
    server = FakeServer.start();
    server.script = (c, f) => {
      if (f.type !== "login") return false;
      const friends = [{ id: 8, name: "bob", online: true }];
      c.ok(f, { user: { id: 7, name: "alice" }, friends, groups: [], pending: 0, token: "t" });
      return true;
    };
    const con = consoleOn(server.port);
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/pending messages: 0\n/);
    const conn = server.conns[0]!;
    for (const push of [
      { type: "typing", user: 8 },
      { type: "typing", user: 8 }, // still typing: not shown again
      msg(4, "done typing"),
      { type: "typing", user: 8 },
      { type: "read", user: 8, with: 8, mid: 3 },
      { type: "edited", mid: 4, text: "better", edited: 1, from: 8, to: 7 },
      { type: "deleted", mid: 4, deleted: 2, from: 8, to: 7 },
      { type: "friend_removed", user: 8 },
    ]) {
      conn.send(push);
    }
    await con.waitFor(/is no longer your friend\n/);
    con.end();
    expect(await con.exited).toBe(0);
    const shown = con.text.split("\n").filter((l) => l.startsWith("* ") || l.includes("(mid"));
    expect(shown.map((l) => l.replace(/^\[[^\]]+\] /, ""))).toEqual([
      "* connected to node n1",
      "* bob(8) is typing",
      "bob(8) -> you: done typing (mid 4)",
      "* bob(8) is typing",
      "* bob(8) read up to mid 3",
      "* bob(8) edited mid 4: better",
      "* bob(8) deleted mid 4",
      "* bob(8) is no longer your friend",
    ]);
  });

  it("goes back to the menu when the token is refused after a reconnect", async () => {
    server = FakeServer.start();
    const con = consoleOn(server.port, { reconnect: { initialDelayMs: 1 } });
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/pending messages: 0\n/);
    server.validTokens.clear();
    const second = server.connection();
    server.conns[0]!.drop();
    await second;
    await con.waitFor(/\* could not log back in: error: .* \(bad_credentials\)/);
    await con.waitFor(/\* could not log back in.*\n1\. login\n/);
    expect(con.text).toContain("* connection lost, reconnecting...\n* reconnected to node n1\n");
    con.type("3");
    expect(await con.exited).toBe(0);
  });

  it("exits 1 when the server cannot be reached", async () => {
    server = FakeServer.start();
    const port = server.port;
    server.stop();
    const con = consoleOn(port);
    expect(await con.exited).toBe(1);
    expect(con.text).toMatch(/^error: Cannot connect to 127\.0\.0\.1:\d+.* \(connect_failed\)$/m);
  });
});

const openssl = Bun.which("openssl");

describe("ChatClient TLS", () => {
  /** A self-signed certificate for localhost / 127.0.0.1, made for this run. */
  function makeCert(): { cert: string; key: string } {
    const dir = `${require("node:os").tmpdir()}/chat-client-tls-${process.pid}`;
    require("node:fs").mkdirSync(dir, { recursive: true });
    const r = Bun.spawnSync([openssl!, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    const fs = require("node:fs");
    const out = { cert: fs.readFileSync(`${dir}/cert.pem`, "utf8"), key: fs.readFileSync(`${dir}/key.pem`, "utf8") };
    fs.rmSync(dir, { recursive: true, force: true });
    return out;
  }

  function tlsServer(cert: string, key: string) {
    return Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert, key },
      socket: {
        open(s) {
          s.write('{"type":"hello","version":1,"node":"tls1"}\n');
        },
        data(s, chunk) {
          const f = JSON.parse(chunk.toString());
          s.write(`${JSON.stringify({ type: "ok", re: f.id })}\n`);
        },
      },
    });
  }

  it.skipIf(!openssl)("talks TLS to a server whose certificate it trusts", async () => {
    const { cert, key } = makeCert();
    const srv = tlsServer(cert, key);
    try {
      const client = await connectClient({ port: srv.port, tls: { ca: cert, serverName: "localhost" } });
      clients.push(client);
      expect(client.node).toBe("tls1");
      expect(await client.ping()).toBeGreaterThanOrEqual(0);
      await client.close();
    } finally {
      srv.stop(true);
    }
  });

  it.skipIf(!openssl)("refuses a certificate it does not trust with connect_failed", async () => {
    const { cert, key } = makeCert();
    const srv = tlsServer(cert, key);
    try {
      const client = createClient({ port: srv.port, tls: true });
      const err = await client.connect().catch((e) => e);
      expect(err.code).toBe("connect_failed");
    } finally {
      srv.stop(true);
    }
  });
});

describe("ChatClient options", () => {
  it("throws a TypeError for options that cannot work", () => {
    expect(() => createClient({ port: 70_000 })).toThrow(TypeError);
    expect(() => createClient({ reconnect: { maxDelayMs: 1, initialDelayMs: 10 } })).toThrow(TypeError);
    expect(() => createClient({ reconnect: { maxAttempts: 0 } })).toThrow(TypeError);
    expect(() => createClient({ autoAck: { maxBatch: 1001 } })).toThrow(TypeError);
    expect(() => createClient({ heartbeatMs: -1 })).toThrow(TypeError);
  });
});
