/**
 * The client library's 1.1 consent, blocking, finding and account operations
 * against the scripted fake server: the frames they send, what they resolve
 * with, the friend_request push, the account_deleted end of a session, and
 * the RequestList kept up to date from pushes and this session's requests.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import {
  type ChatClient,
  type ChatClientOptions,
  connectClient,
  type FriendRequest,
  type FriendRequestPush,
  RequestError,
  RequestList,
  runConsole,
} from "../../src/client/index.ts";
import { SessionStore } from "../../src/client/session-store.ts";
import { type FakeConn, FakeServer, type Frame } from "../support/fake-server.ts";

let server: FakeServer | undefined;
const clients: ChatClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server?.stop();
  server = undefined;
});

async function setup(options: ChatClientOptions = {}): Promise<{ client: ChatClient; conn: FakeConn; server: FakeServer }> {
  server ??= FakeServer.start();
  server.features = ["requests", "block", "find", "account"];
  const connP = server.connection();
  const client = await connectClient({ port: server.port, ...options });
  clients.push(client);
  return { client, conn: await connP, server };
}

/** Resolves with the next `event` the client emits. */
function nextEvent<T>(client: ChatClient, event: Parameters<ChatClient["once"]>[0]): Promise<T> {
  return new Promise((resolve) => client.once(event, (e) => resolve(e as T)));
}

const bob = { id: 8, name: "bob" };
const carol = { id: 9, name: "carol" };
const request = (user: { id: number; name: string }, note = "", ts = 1_795_000_000_000): FriendRequest => ({ user, note, ts });

describe("ChatClient consent and blocking", () => {
  it("friendRequest sends the user and the note, and tells an asked request from a completed one", async () => {
    const { client, conn } = await setup();
    const asked = client.friendRequest(8, "we met at the meetup");
    const f1 = await conn.nextOf("friend_request");
    expect(f1).toEqual({ type: "friend_request", id: f1.id, user: 8, note: "we met at the meetup" });
    conn.ok(f1, { requested: true });
    expect(await asked).toEqual({ requested: true });

    const completed = client.friendRequest(9);
    const f2 = await conn.nextOf("friend_request");
    expect(f2).toEqual({ type: "friend_request", id: f2.id, user: 9 });
    conn.ok(f2, { friend: { ...carol, online: true } });
    expect(await completed).toEqual({ friend: { ...carol, online: true } });
  });

  it("acceptFriend resolves with the friend, declineFriend and friendRequests with what the server says", async () => {
    const { client, conn } = await setup();
    const accepted = client.acceptFriend(8);
    const a = await conn.nextOf("accept_friend");
    expect(a.user).toBe(8);
    conn.ok(a, { friend: { ...bob, online: false } });
    expect(await accepted).toEqual({ ...bob, online: false });

    const declined = client.declineFriend(9);
    const d = await conn.nextOf("decline_friend");
    expect(d.user).toBe(9);
    conn.ok(d);
    expect(await declined).toBeUndefined();

    const listed = client.friendRequests();
    const l = await conn.nextOf("friend_requests");
    conn.ok(l, { incoming: [request(bob, "hi")], outgoing: [request(carol)] });
    expect(await listed).toEqual({ incoming: [request(bob, "hi")], outgoing: [request(carol)] });
  });

  it("block, unblock, blocked and findUser send their fields and resolve with the reply", async () => {
    const { client, conn } = await setup();
    const b = client.block(8);
    const fb = await conn.nextOf("block");
    expect(fb.user).toBe(8);
    conn.ok(fb);
    await b;
    const u = client.unblock(8);
    const fu = await conn.nextOf("unblock");
    expect(fu.user).toBe(8);
    conn.ok(fu);
    await u;
    const list = client.blocked();
    conn.ok(await conn.nextOf("blocked"), { blocked: [carol] });
    expect(await list).toEqual([carol]);
    const found = client.findUser("carol");
    const ff = await conn.nextOf("find_user");
    expect(ff.name).toBe("carol");
    conn.ok(ff, { user: carol });
    expect(await found).toEqual(carol);
  });

  it("an error reply rejects with its code", async () => {
    const { client, conn } = await setup();
    const blocked = client.friendRequest(8).catch((e) => e);
    const f = await conn.nextOf("friend_request");
    conn.send({ type: "error", re: f.id, code: "blocked", message: "you cannot ask this user" });
    const err = await blocked;
    expect(err).toBeInstanceOf(RequestError);
    expect(err.code).toBe("blocked");
    expect(err.op).toBe("friend_request");
  });

  it("delivers the friend_request push to its typed listener", async () => {
    const { client, conn } = await setup();
    const got = nextEvent<FriendRequestPush>(client, "friend_request");
    const seen: number[] = [];
    client.onFriendRequest((p) => seen.push(p.user.id));
    conn.send({ type: "friend_request", ...request(bob, "hello") });
    expect(await got).toEqual({ type: "friend_request", ...request(bob, "hello") });
    expect(seen).toEqual([8]);
  });

  it("keeps the login reply's requests count", async () => {
    const { client, server } = await setup();
    server.script = (c, f) => {
      if (f.type !== "login") return false;
      c.ok(f, { user: { id: 7, name: "alice" }, friends: [], groups: [], pending: 0, requests: 2, token: "tx" });
      return true;
    };
    expect((await client.login({ name: "alice", password: "s3cret-pw" })).requests).toBe(2);
  });
});

describe("ChatClient account", () => {
  it("changePassword sends old and new and makes the fresh token the one a reconnect uses", async () => {
    const { client, conn, server } = await setup({ reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    await client.login({ name: "alice", password: "s3cret-pw" });
    expect(client.token).toBe("t1");
    const changed = client.changePassword("s3cret-pw", "n3w-secret");
    const f = await conn.nextOf("change_password");
    expect(f).toEqual({ type: "change_password", id: f.id, old: "s3cret-pw", new: "n3w-secret" });
    // The server revokes every other token.
    server.validTokens.clear();
    server.validTokens.add("fresh");
    conn.ok(f, { token: "fresh" });
    expect(await changed).toBe("fresh");
    expect(client.token).toBe("fresh");

    const nextConn = server.connection();
    const reconnected = nextEvent<{ login?: unknown; loginError?: unknown }>(client, "reconnected");
    conn.drop();
    const relogin = await (await nextConn).nextOf("login");
    expect(relogin.token).toBe("fresh");
    const r = await reconnected;
    expect(r.loginError).toBeUndefined();
    expect(r.login).toBeDefined();
  });

  it("account_deleted ends the client without reconnecting, and fails what was in flight with its code", async () => {
    const { client, conn, server } = await setup({ reconnect: { initialDelayMs: 5, maxDelayMs: 20 } });
    await client.login({ name: "alice", password: "s3cret-pw" });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    const reconnecting: unknown[] = [];
    client.on("reconnecting", (e) => reconnecting.push(e));
    const deleted = nextEvent<RequestError>(client, "account_deleted");
    const gone = nextEvent<{ willReconnect: boolean }>(client, "disconnected");
    const closed = nextEvent(client, "close");

    const del = client.deleteAccount("s3cret-pw");
    const inFlight = client.blocked().catch((e) => e);
    const f = await conn.nextOf("delete_account");
    expect(f.password).toBe("s3cret-pw");
    await conn.nextOf("blocked");
    conn.ok(f);
    conn.send({ type: "error", code: "account_deleted", message: "the account was deleted" });
    await del;
    expect((await deleted).code).toBe("account_deleted");
    conn.socket.end();
    expect((await gone).willReconnect).toBe(false);
    await closed;
    const err = await inFlight;
    expect(err).toBeInstanceOf(RequestError);
    expect(err.code).toBe("account_deleted");
    expect(client.state).toBe("closed");
    expect(client.closeReason).toBe("account_deleted");
    expect(client.user).toBeUndefined();
    expect(client.token).toBeUndefined();
    expect(errors).toEqual([]);
    expect(reconnecting).toEqual([]);
    expect(server.conns.length).toBe(1);
  });

  it("a connection lost for good closes with reason lost, close() with reason closed", async () => {
    const a = await setup();
    const closed = nextEvent(a.client, "close");
    a.conn.drop();
    await closed;
    expect(a.client.closeReason).toBe("lost");
    const b = await setup();
    await b.client.close();
    expect(b.client.closeReason).toBe("closed");
  });
});

/** A fake server whose friend_requests answers from `lists`, and that answers accept/decline/block/request. */
async function listSetup(lists: { incoming: FriendRequest[]; outgoing: FriendRequest[] }, options: ChatClientOptions = {}) {
  const s = await setup(options);
  const state = { lists, hold: null as null | (() => void) };
  s.server.script = (c, f: Frame) => {
    switch (f.type) {
      case "friend_requests": {
        const answer = () => c.ok(f, state.lists);
        if (state.hold === null) answer();
        else state.hold = answer;
        return true;
      }
      case "accept_friend":
        c.ok(f, { friend: { id: f.user, name: "x", online: true } });
        return true;
      case "decline_friend":
      case "block":
        c.ok(f);
        return true;
      case "friend_request":
        c.ok(f, f.user === 8 ? { friend: { ...bob, online: true } } : { requested: true });
        return true;
    }
    return false;
  };
  await s.client.login({ name: "alice", password: "s3cret-pw" });
  const list = new RequestList(s.client);
  return { ...s, list, state };
}

const ids = (rs: FriendRequest[]) => rs.map((r) => r.user.id);

describe("RequestList", () => {
  it("loads both sides and adds incoming requests from pushes, once per user", async () => {
    const { client, conn, list } = await listSetup({ incoming: [request(bob, "hi")], outgoing: [request(carol)] });
    await list.load();
    expect(list.state).toBe("ready");
    expect(list.incoming()).toEqual([request(bob, "hi")]);
    expect(list.outgoing()).toEqual([request(carol)]);
    let changes = 0;
    list.on("change", () => changes++);
    conn.send({ type: "friend_request", ...request({ id: 10, name: "dave" }, "hey") });
    conn.send({ type: "friend_request", ...request(bob, "again") });
    await client.ping();
    expect(ids(list.incoming())).toEqual([8, 10]);
    expect(list.from(8)?.note).toBe("hi");
    expect(list.from(10)?.note).toBe("hey");
    expect(changes).toBe(1);
  });

  it("accepting, declining and blocking here remove the request", async () => {
    const d = { id: 10, name: "dave" };
    const e = { id: 11, name: "erin" };
    const { client, list } = await listSetup({ incoming: [request(bob), request(d), request(e)], outgoing: [] });
    await list.load();
    await client.acceptFriend(8);
    expect(ids(list.incoming())).toEqual([10, 11]);
    await client.declineFriend(10);
    expect(ids(list.incoming())).toEqual([11]);
    await client.block(11);
    expect(list.incoming()).toEqual([]);
  });

  it("a friend_added push drops the requests with that user both ways", async () => {
    const { client, conn, list } = await listSetup({ incoming: [request(bob)], outgoing: [request(carol)] });
    await list.load();
    conn.send({ type: "friend_added", friend: { ...carol, online: true } });
    conn.send({ type: "friend_added", friend: { ...bob, online: true } });
    await client.ping();
    expect(list.incoming()).toEqual([]);
    expect(list.outgoing()).toEqual([]);
  });

  it("this session's request adds an outgoing one, or drops the incoming one it completed", async () => {
    const { client, list } = await listSetup({ incoming: [request(bob)], outgoing: [] });
    await list.load();
    await client.friendRequest(9, "hello carol");
    expect(ids(list.outgoing())).toEqual([9]);
    expect(list.outgoing()[0]!.note).toBe("hello carol");
    expect(await client.friendRequest(8)).toEqual({ friend: { ...bob, online: true } });
    expect(list.incoming()).toEqual([]);
  });

  it("applies the pushes that arrive while it loads on top of what the load returns", async () => {
    const { client, conn, list, state } = await listSetup({ incoming: [request(bob)], outgoing: [] });
    state.hold = () => {};
    const loading = list.load();
    await conn.nextOf("friend_requests");
    conn.send({ type: "friend_request", ...request(carol) });
    conn.send({ type: "friend_added", friend: { ...bob, online: true } });
    await client.ping();
    expect(list.state).toBe("loading");
    state.hold();
    await loading;
    expect(ids(list.incoming())).toEqual([9]);
  });

  it("ignores pushes before it is loaded, and empties at logout", async () => {
    const { client, conn, list, server } = await listSetup({ incoming: [request(bob)], outgoing: [] });
    conn.send({ type: "friend_request", ...request(carol) });
    await client.ping();
    expect(list.incoming()).toEqual([]);
    await list.load();
    expect(ids(list.incoming())).toEqual([8]);
    server.script = (c, f) => (f.type === "logout" ? (c.ok(f), true) : false);
    await client.logout();
    expect(list.state).toBe("idle");
    expect(list.incoming()).toEqual([]);
  });

  it("reloads after a reconnect", async () => {
    const { client, conn, list, state, server } = await listSetup(
      { incoming: [request(bob)], outgoing: [] },
      { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } },
    );
    await list.load();
    state.lists = { incoming: [request(carol)], outgoing: [] };
    const nextConn = server.connection();
    const changed = new Promise<void>((resolve) => list.once("change", () => resolve()));
    conn.drop();
    await (await nextConn).nextOf("friend_requests");
    await changed;
    expect(ids(list.incoming())).toEqual([9]);
  });
});

/** runConsole on in-memory streams: `type` feeds lines, `waitFor` watches the output. */
function consoleOn(port: number) {
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
  const exited = runConsole({ port, input, output, tty: false, client: { reconnect: { initialDelayMs: 5 } } });
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

describe("the console's friend request and account commands (against the fake server)", () => {
  /** A fake server that knows alice(7), bob(8) and carol(9), and answers the consent and account ops. */
  function consentServer(): FakeServer {
    const s = FakeServer.start();
    server = s;
    s.features = ["requests", "block", "find", "account"];
    const people = new Map([["alice", 7], ["bob", 8], ["carol", 9]]);
    const nameOf = (id: number) => [...people].find(([, i]) => i === id)?.[0] ?? "?";
    s.script = (c, f) => {
      switch (f.type) {
        case "login":
          c.ok(f, { user: { id: 7, name: "alice" }, friends: [], groups: [], pending: 0, requests: 1, token: "t" });
          return true;
        case "friend_requests":
          c.ok(f, { incoming: [request(bob, "from the meetup")], outgoing: [] });
          return true;
        case "find_user": {
          const id = people.get(f.name);
          if (id === undefined) c.send({ type: "error", re: f.id, code: "no_such_user", message: "no such user" });
          else c.ok(f, { user: { id, name: f.name } });
          return true;
        }
        case "friend_request":
          c.ok(f, { requested: true });
          return true;
        case "accept_friend":
          c.ok(f, { friend: { id: f.user, name: nameOf(f.user), online: true } });
          return true;
        case "block":
        case "decline_friend":
          c.ok(f);
          return true;
        case "blocked":
          c.ok(f, { blocked: [carol] });
          return true;
        case "change_password":
          if (f.old !== "s3cret-pw") c.send({ type: "error", re: f.id, code: "bad_credentials", message: "wrong password" });
          else c.ok(f, { token: "fresh" });
          return true;
        case "delete_account":
          c.ok(f);
          c.send({ type: "error", code: "account_deleted", message: "the account was deleted" });
          c.socket.end();
          return true;
      }
      return false;
    };
    return s;
  }

  it("resolves names, shows requests and the friend_request push, and asks new passwords twice", async () => {
    const s = consentServer();
    const con = consoleOn(s.port);
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/friend requests: 1 \(type requests\)\n/);
    const conn = s.conns[0]!;
    conn.send({ type: "friend_request", ...request(carol, "hello alice") });
    await con.waitFor(/\* carol\(9\) asks to be your friend: "hello alice" \(accept 9 \/ decline 9\)\n/);
    con.type("requests");
    await con.waitFor(/your requests: none\n/);
    con.type("request carol see you there", "accept bob", "block carol", "blocked", "find nobody");
    await con.waitFor(/error: .* \(no_such_user\)/);
    con.type("passwd", "s3cret-pw", "n3w-secret", "typo-secret", "passwd", "s3cret-pw", "n3w-secret", "n3w-secret");
    await con.waitFor(/ok: password changed/);
    con.end();
    expect(await con.exited).toBe(0);
    expect(con.text).toMatch(/requests to you \(2\):\n {2}bob\(8\) "from the meetup" \[[^\]]+\]\n {2}carol\(9\) "hello alice" \[[^\]]+\]\n/);
    expect(con.text).toContain("ok: asked carol(9) to be your friend\n");
    expect(con.text).toContain("ok: bob(8) is now your friend (online)\n");
    expect(con.text).toContain("ok: blocked carol(9)\n");
    expect(con.text).toContain("blocked (1):\n  carol(9)\n");
    expect(con.text).toContain("error: the two passwords differ; nothing changed\n");
    const frames = conn.frames;
    expect(frames.find((f) => f.type === "friend_request")).toMatchObject({ user: 9, note: "see you there" });
    expect(frames.find((f) => f.type === "accept_friend")).toMatchObject({ user: 8 });
    expect(frames.find((f) => f.type === "block")).toMatchObject({ user: 9 });
    expect(frames.filter((f) => f.type === "change_password")).toEqual([
      expect.objectContaining({ old: "s3cret-pw", new: "n3w-secret" }),
    ]);
  });

  it("delete-account asks the password twice, then ends with exit code 0 and no reconnect", async () => {
    const s = consentServer();
    const con = consoleOn(s.port);
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/friend requests: 1/);
    con.type("delete-account", "s3cret-pw", "other-pw");
    await con.waitFor(/the two passwords differ/);
    con.type("delete-account", "s3cret-pw", "s3cret-pw");
    expect(await con.exited).toBe(0);
    expect(con.text).toContain("ok: account deleted\n");
    expect(con.text).not.toContain("reconnecting");
    expect(s.conns.length).toBe(1);
    expect(s.conns[0]!.frames.filter((f) => f.type === "delete_account")).toEqual([
      expect.objectContaining({ password: "s3cret-pw" }),
    ]);
  });

  it("tells the user when another session deleted the account, and exits 1", async () => {
    const s = consentServer();
    const con = consoleOn(s.port);
    con.type("1", "alice", "s3cret-pw");
    await con.waitFor(/friend requests: 1/);
    const conn = s.conns[0]!;
    conn.send({ type: "error", code: "account_deleted", message: "the account was deleted" });
    conn.socket.end();
    expect(await con.exited).toBe(1);
    expect(con.text).toContain("* your account was deleted (in another session)\n");
    expect(con.text).not.toContain("reconnecting");
  });
});

describe("the console's remembered session (against the fake server)", () => {
  it("logs in with the remembered token, keeps each fresh one, forgets it at loginout and when refused", async () => {
    const s = FakeServer.start();
    server = s;
    const dir = mkdtempSync(join(tmpdir(), "chat-remember-"));
    try {
      const store = new SessionStore(dir, "127.0.0.1", s.port);
      const run = (lines: string[], until: RegExp) => {
        const input = new PassThrough();
        let text = "";
        const output = new Writable({
          write(chunk, _e, done) {
            text += chunk.toString();
            if (until.test(text)) input.end();
            done();
          },
        });
        input.write(lines.map((l) => `${l}\n`).join(""));
        return runConsole({ port: s.port, input, output, tty: false, sessionDir: dir }).then((code) => ({ code, text }));
      };
      const first = await run(["1", "alice", "s3cret-pw"], /pending messages/);
      expect(first.code).toBe(0);
      expect(await store.load()).toBe("t1");
      // The next start logs in with it, without asking; the fresh token replaces it.
      const second = await run([], /pending messages/);
      expect(second.text).toMatch(/^\* connected to node n1\nok: logged in as alice\(7\)/);
      expect(s.conns[1]!.frames.find((f) => f.type === "login")).toMatchObject({ token: "t1" });
      expect(await store.load()).toBe("t2");
      // A revoked token is forgotten, and the menu comes.
      s.validTokens.clear();
      const third = await run([], /1\. login/);
      expect(third.text).toContain("* the remembered session has ended: error: ");
      expect(await store.load()).toBeUndefined();
      // loginout forgets it too.
      s.script = (c, f) => (f.type === "logout" ? (c.ok(f), true) : false);
      await run(["1", "alice", "s3cret-pw", "loginout"], /ok: logged out/);
      expect(await store.load()).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
