/**
 * ConversationList against the scripted fake server: loading by pages, and
 * keeping unread counts, last messages and entries right from pushes, from
 * this session's own requests and across a reconnect.
 */
import { afterEach, describe, expect, it } from "bun:test";
import {
  type ChatClient,
  type ChatClientOptions,
  type ChatMessage,
  connectClient,
  type Conversation,
  type ConversationChange,
  ConversationList,
} from "../../src/client/index.ts";
import { type FakeConn, FakeServer, type Frame } from "../support/fake-server.ts";

const ME = 7;
const BOB = 8;
const CAROL = 9;
const TEAM = 3;

let server: FakeServer | undefined;
const clients: ChatClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  server?.stop();
  server = undefined;
});

const text = (mid: number) => `m${mid}`;
const fromBob = (mid: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  mid, from: BOB, name: "bob", to: ME, text: text(mid), ts: 1_795_000_000_000 + mid, ...extra,
});
const toBob = (mid: number): ChatMessage => ({ mid, from: ME, name: "alice", to: BOB, text: text(mid), ts: 1_795_000_000_000 + mid });
const inTeam = (mid: number, from = CAROL): ChatMessage => ({
  mid, from, name: from === ME ? "alice" : "carol", group: TEAM, text: text(mid), ts: 1_795_000_000_000 + mid,
});
const withBob = (last: ChatMessage, unread: number, read = 0, peer_read = 0): Conversation => ({
  with: BOB, name: "bob", last, unread, read, peer_read,
});
const team = (last: ChatMessage, unread: number, read = 0): Conversation => ({ group: TEAM, name: "team", last, unread, read });

/**
 * A fake server whose `conversations` answers from `convs` (newest last
 * message first, `before` and `limit` honoured) and whose `read`, `send`,
 * `edit`, `delete`, `remove_friend` and `leave_group` answer as a server would.
 */
async function setup(convs: Conversation[], options: ChatClientOptions = {}) {
  server ??= FakeServer.start();
  server.features = ["cid", "conversations", "read", "edit", "delete", "unfriend"];
  const state = { convs, nextMid: 100, hold: false };
  const held: Array<() => void> = [];
  server.script = (c, f) => {
    const answer = (fields: Frame) => (state.hold ? held.push(() => c.ok(f, fields)) : c.ok(f, fields));
    switch (f.type) {
      case "conversations": {
        const page = [...state.convs]
          .sort((a, b) => b.last.mid - a.last.mid)
          .filter((x) => f.before === undefined || x.last.mid < f.before)
          .slice(0, f.limit ?? 50);
        answer({ conversations: page });
        return true;
      }
      case "read":
        c.ok(f, { read: f.mid });
        return true;
      case "send":
      case "group_send":
        c.ok(f, { mid: state.nextMid++, ts: 1_795_000_001_000 });
        return true;
      case "edit":
        c.ok(f, { mid: f.mid, edited: 1_795_000_002_000 });
        return true;
      case "delete":
        c.ok(f, { mid: f.mid, deleted: 1_795_000_003_000 });
        return true;
      case "remove_friend":
      case "leave_group":
        c.ok(f);
        return true;
    }
    return false;
  };
  const connP = server.connection();
  const client = await connectClient({ port: server.port, ...options });
  clients.push(client);
  const conn = await connP;
  await client.login({ name: "alice", password: "s3cret-pw" });
  const list = new ConversationList(client);
  const changes: ConversationChange[] = [];
  list.on("change", (c) => changes.push(c));
  return {
    client,
    conn,
    list,
    changes,
    state,
    /** Answers the conversations requests held back so far. */
    release() {
      state.hold = false;
      for (const go of held.splice(0)) go();
    },
  };
}

/** Waits until the fake server has answered everything sent so far (a ping's reply comes after). */
async function settle(client: ChatClient): Promise<void> {
  await client.ping();
}

const summary = (list: ConversationList) =>
  list.list().map((c) => `${"group" in c ? `g${c.group}` : `u${c.with}`} last=${c.last.mid} unread=${c.unread} read=${c.read}`);

describe("ConversationList loading", () => {
  it("pages through every conversation, newest last message first", async () => {
    const convs = [1, 2, 3, 4, 5].map((i) => ({ ...withBob(fromBob(10 * i), i), with: 20 + i, name: `u${i}` }));
    const { client, conn, list, changes } = await setup(convs);
    const paged = new ConversationList(client, { pageSize: 2 });
    await paged.load();
    expect(paged.list().map((c) => c.last.mid)).toEqual([50, 40, 30, 20, 10]);
    expect(paged.unread).toBe(15);
    expect(paged.state).toBe("ready");
    const asked = conn.frames.filter((f) => f.type === "conversations").map(({ id, type, ...rest }) => rest);
    expect(asked).toEqual([{ limit: 2 }, { limit: 2, before: 40 }, { limit: 2, before: 20 }]);
    expect(changes).toEqual([]); // the other list was not loaded
    paged.close();
    await list.load();
    expect(list.get({ with: 23 })?.unread).toBe(3);
    expect(list.get({ with: 99 })).toBeUndefined();
  });

  it("refuses options that cannot work", async () => {
    const { client } = await setup([]);
    expect(() => new ConversationList(client, { pageSize: 0 })).toThrow(TypeError);
    expect(() => new ConversationList(client, { pageSize: 101 })).toThrow(TypeError);
    expect(() => new ConversationList(client, { refreshAttempts: 0 })).toThrow(TypeError);
  });

  it("follows nothing before it is loaded", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 1)]);
    conn.send({ type: "msg", ...fromBob(11) });
    await settle(client);
    expect(list.list()).toEqual([]);
    expect(list.state).toBe("idle");
  });
});

describe("ConversationList messages", () => {
  it("counts a message from someone else as unread and moves its conversation to the top", async () => {
    const { client, conn, list, changes } = await setup([withBob(fromBob(10), 1), team(inTeam(20), 0, 20)]);
    await list.load();
    expect(summary(list)).toEqual(["g3 last=20 unread=0 read=20", "u8 last=10 unread=1 read=0"]);
    conn.send({ type: "msg", ...fromBob(30) });
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=30 unread=2 read=0", "g3 last=20 unread=0 read=20"]);
    expect(list.unread).toBe(2);
    expect(changes.at(-1)).toEqual({ kind: "updated", key: "u:8", conversation: withBob(fromBob(30), 2) });
  });

  it("does not count the user's own messages, from another session or sent here", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 1), team(inTeam(20), 1, 19)]);
    await list.load();
    conn.send({ type: "msg", ...toBob(30) }); // sent by another session of this user
    await settle(client);
    const { mid } = await client.groupSend(TEAM, "from here");
    expect(summary(list)).toEqual([`g3 last=${mid} unread=1 read=19`, "u8 last=30 unread=1 read=0"]);
    expect(list.get({ group: TEAM })?.last).toEqual(
      expect.objectContaining({ mid, from: ME, name: "alice", group: TEAM, text: "from here" }),
    );
  });

  it("does not count a message again that it already has (a replay or a duplicate)", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 2)]);
    await list.load();
    conn.send({ type: "msg", ...fromBob(9) }); // pending, replayed: counted in the 2 already
    conn.send({ type: "msg", ...fromBob(10) });
    conn.send({ type: "msg", ...fromBob(11) });
    conn.send({ type: "msg", ...fromBob(11) });
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=11 unread=3 read=0"]);
  });

  it("adds a conversation on its first message, with the name and counts the server has", async () => {
    const { client, conn, list, state } = await setup([]);
    await list.load();
    const first = inTeam(40);
    state.convs = [team(first, 1, 0)];
    const fetched = conn.next((f) => f.type === "conversations" && f.before === 41);
    conn.send({ type: "msg", ...first });
    await fetched;
    await settle(client);
    expect(list.list()).toEqual([team(first, 1, 0)]);
  });

  it("settles once the entry a new conversation needs has come", async () => {
    const { client, conn, list, state, release } = await setup([]);
    await list.load();
    state.convs = [team(inTeam(40), 1, 0)];
    state.hold = true;
    conn.send({ type: "msg", ...inTeam(40) });
    await conn.next((f) => f.type === "conversations" && f.before === 41);
    let settled = false;
    const done = list.settled().then(() => (settled = true));
    await settle(client);
    expect(settled).toBe(false);
    expect(list.get({ group: TEAM })).toEqual(expect.objectContaining({ name: "", unread: 1 }));
    release();
    await done;
    expect(list.get({ group: TEAM })?.name).toBe("team");
  });

  it("leaves no entry for a message the server does not list (replayed from a former friend)", async () => {
    const { client, conn, list } = await setup([]);
    await list.load();
    conn.send({ type: "msg", ...fromBob(12) });
    await conn.next((f) => f.type === "conversations" && f.before === 13);
    await settle(client);
    expect(list.list()).toEqual([]);
  });
});

describe("ConversationList reads", () => {
  it("clears the unread count when a read from another session reaches the last message", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 3)]);
    await list.load();
    conn.send({ type: "read", user: ME, with: BOB, mid: 10 });
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=10 unread=0 read=10"]);
    expect(conn.frames.filter((f) => f.type === "conversations")).toHaveLength(1);
  });

  it("fetches the conversation again when a read stops short of its last message", async () => {
    const { client, conn, list, state } = await setup([withBob(fromBob(10), 3)]);
    await list.load();
    state.convs = [withBob(fromBob(10), 1, 8)];
    conn.send({ type: "read", user: ME, with: BOB, mid: 8 });
    const refetch = await conn.next((f) => f.type === "conversations" && f.before !== undefined);
    expect(refetch).toEqual(expect.objectContaining({ before: 11, limit: 1 }));
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=10 unread=1 read=8"]);
  });

  it("asks again when the conversation changed while its entry was being fetched", async () => {
    const { client, conn, list, state, release } = await setup([withBob(fromBob(10), 3)]);
    await list.load();
    state.hold = true;
    state.convs = [withBob(fromBob(10), 1, 8)];
    conn.send({ type: "read", user: ME, with: BOB, mid: 8 });
    await conn.next((f) => f.type === "conversations" && f.before === 11);
    conn.send({ type: "msg", ...fromBob(12) }); // arrives while the answer (as of 10) is on its way
    await settle(client);
    state.convs = [withBob(fromBob(12), 2, 8)];
    const again = conn.next((f) => f.type === "conversations" && f.before === 13);
    release(); // the stale answer: dropped
    await again;
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=12 unread=2 read=8"]);
  });

  it("markRead reads up to the last message and applies the reply", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 2), team(inTeam(20), 1, 0)]);
    await list.load();
    expect(await list.markRead({ group: TEAM })).toBe(20);
    expect(await conn.next((f) => f.type === "read")).toEqual(expect.objectContaining({ group: TEAM, mid: 20 }));
    expect(summary(list)).toEqual(["g3 last=20 unread=0 read=20", "u8 last=10 unread=2 read=0"]);
    expect(list.unread).toBe(2);
    expect(await list.markRead({ with: 55 })).toBeNull();
    await settle(client);
  });

  it("moves the friend's read position on the friend's read push", async () => {
    const { client, conn, list } = await setup([withBob(toBob(10), 0)]);
    await list.load();
    conn.send({ type: "read", user: BOB, with: BOB, mid: 10 });
    await settle(client);
    expect(list.get({ with: BOB })).toEqual(withBob(toBob(10), 0, 0, 10));
  });
});

describe("ConversationList edits, deletes and removals", () => {
  it("shows an edit of the last message and a delete as a tombstone that no longer counts", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(11), 2)]);
    await list.load();
    conn.send({ type: "edited", mid: 11, text: "fixed", edited: 5, from: BOB, to: ME });
    await settle(client);
    expect(list.get({ with: BOB })?.last).toEqual({ ...fromBob(11), text: "fixed", edited: 5 });
    conn.send({ type: "deleted", mid: 10, deleted: 6, from: BOB, to: ME }); // unread, not the last one
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=11 unread=1 read=0"]);
    conn.send({ type: "deleted", mid: 11, deleted: 7, from: BOB, to: ME });
    await settle(client);
    expect(list.get({ with: BOB })).toEqual(withBob({ ...fromBob(11), text: "", edited: 5, deleted: 7 }, 0));
  });

  it("takes a message that arrives after its delete as a tombstone that does not count", async () => {
    const { client, conn, list } = await setup([withBob(fromBob(10), 1)]);
    await list.load();
    conn.send({ type: "deleted", mid: 12, deleted: 6, from: BOB, to: ME });
    conn.send({ type: "msg", ...fromBob(12) });
    await settle(client);
    expect(list.get({ with: BOB })).toEqual(withBob({ ...fromBob(12), text: "", deleted: 6 }, 1));
  });

  it("applies this session's own edit and delete of a last message", async () => {
    const { client, list } = await setup([withBob(toBob(10), 0)]);
    await list.load();
    await client.edit(10, "better");
    expect(list.get({ with: BOB })?.last.text).toBe("better");
    await client.deleteMessage(10);
    expect(list.get({ with: BOB })?.last).toEqual(expect.objectContaining({ text: "", deleted: 1_795_000_003_000 }));
  });

  it("drops a former friend's conversation and a group the user left, however it learns of it", async () => {
    const other = { ...withBob(fromBob(30), 0), with: CAROL, name: "carol" };
    const { client, conn, list, changes } = await setup([
      withBob(fromBob(10), 1),
      team(inTeam(20), 0),
      other,
      { ...team(inTeam(40), 0), group: 4 },
      { ...team(inTeam(50), 0), group: 5 },
    ]);
    await list.load();
    conn.send({ type: "friend_removed", user: BOB });
    conn.send({ type: "member_left", group: TEAM, user: { id: CAROL, name: "carol" } }); // someone else: stays
    conn.send({ type: "group_deleted", group: 5 });
    await settle(client);
    expect(list.list().map((c) => ("group" in c ? `g${c.group}` : `u${c.with}`))).toEqual(["g4", "u9", "g3"]);
    conn.send({ type: "member_left", group: TEAM, user: { id: ME, name: "alice" } }); // left on another session
    await client.removeFriend(CAROL);
    await client.leaveGroup(4);
    expect(list.list()).toEqual([]);
    expect(changes.filter((c) => c.kind === "removed").map((c) => (c as { key: string }).key)).toEqual([
      "u:8", "g:5", "g:3", "u:9", "g:4",
    ]);
  });
});

describe("ConversationList across sessions", () => {
  it("reloads after a reconnect and applies the messages pushed meanwhile on top", async () => {
    const { client, conn, list, state, changes, release } = await setup([withBob(fromBob(10), 1)], {
      reconnect: { initialDelayMs: 1, maxDelayMs: 5 },
    });
    await list.load();
    state.convs = [withBob(fromBob(12), 3)];
    state.hold = true;
    const second = server!.connection();
    conn.drop();
    const conn2: FakeConn = await second;
    await conn2.nextOf("conversations");
    // Pushed before the reload's answer: 12 is in it already, 13 is not.
    conn2.send({ type: "msg", ...fromBob(12) });
    conn2.send({ type: "msg", ...fromBob(13) });
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=10 unread=1 read=0"]);
    changes.length = 0;
    release();
    await settle(client);
    expect(summary(list)).toEqual(["u8 last=13 unread=4 read=0"]);
    expect(changes[0]).toEqual({ kind: "reset" });
    expect(list.state).toBe("ready");
  });

  it("empties the list at logout", async () => {
    const { client, list, changes } = await setup([withBob(fromBob(10), 1)]);
    server!.script = ((inner) => (c: FakeConn, f: Frame) => (f.type === "logout" ? (c.ok(f), true) : inner(c, f)))(
      server!.script,
    );
    await list.load();
    await client.logout();
    expect(list.list()).toEqual([]);
    expect(list.state).toBe("idle");
    expect(changes.at(-1)).toEqual({ kind: "reset" });
  });
});
