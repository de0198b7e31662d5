/**
 * The client library's ConversationList against a real server (real
 * sockets, real MariaDB): unread counts follow messages, reads from another
 * session (to the end, and part way, which refetches the entry), a friend's
 * read position, deletes and unfriending.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type ChatClient, connectClient, type Conversation, ConversationList } from "../../src/client/index.ts";
import { startTestServer, type TestServer, uniq } from "../support/server.ts";

const PASSWORD = "password-1";
const WAIT_MS = 10_000;

let srv: TestServer;
const clients: ChatClient[] = [];

beforeAll(async () => {
  srv = await startTestServer({ node: "cl1" });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srv?.stop();
});

async function client(): Promise<ChatClient> {
  const c = await connectClient({ port: srv.port, autoAck: true, requestTimeoutMs: WAIT_MS });
  clients.push(c);
  return c;
}

/** A registered user logged in on a new client. */
async function user(name: string): Promise<ChatClient> {
  const c = await client();
  await c.register(name, PASSWORD);
  await c.login({ name, password: PASSWORD });
  return c;
}

/** Another session of a user. */
async function session(name: string): Promise<ChatClient> {
  const c = await client();
  await c.login({ name, password: PASSWORD });
  return c;
}

/** Resolves once `check` holds for the list, re-checking at each change; fails with the list after WAIT_MS. */
function until(list: ConversationList, what: string, check: (list: ConversationList) => boolean): Promise<void> {
  if (check(list)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${what}: not within ${WAIT_MS} ms; list: ${JSON.stringify(list.list())}`));
    }, WAIT_MS);
    const off = list.on("change", () => {
      if (!check(list)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

const entry = (list: ConversationList, ref: { with: number } | { group: number }): Conversation | undefined => list.get(ref);

describe("ConversationList on a real server", () => {
  it("keeps unread counts following messages, reads on another session, deletes and unfriending", async () => {
    const [an, bn, cn] = [uniq("cla"), uniq("clb"), uniq("clc")];
    const alice = await user(an);
    const bob = await user(bn);
    const carol = await user(cn);
    const a = alice.user!.id;
    const b = bob.user!.id;
    await bob.addFriend(a);
    const g = (await carol.createGroup(uniq("clg"))).id;
    await alice.joinGroup(g);
    const phone = await session(an); // alice's other session

    expect(alice.offers("conversations")).toBe(true);
    const list = new ConversationList(alice);
    await list.load();
    expect(list.list()).toEqual([]);

    // Messages from others count as unread; the newest conversation comes first.
    const m1 = await bob.send(a, "one");
    const m2 = await bob.send(a, "two");
    await until(list, "two unread from bob", (l) => entry(l, { with: b })?.unread === 2);
    const g1 = await carol.groupSend(g, "hello group");
    await until(list, "the group on top with one unread", (l) => l.list()[0]?.last.mid === g1.mid);
    expect(list.list().map((c) => [c.name, c.unread])).toEqual([
      [expect.any(String), 1],
      [bn, 2],
    ]);
    expect(entry(list, { with: b })?.last).toEqual(expect.objectContaining({ mid: m2.mid, text: "two", from: b }));
    expect(list.unread).toBe(3);

    // Read to the end on the phone: the read push clears the count here.
    await phone.read({ with: b }, m2.mid);
    await until(list, "bob's conversation read", (l) => entry(l, { with: b })?.unread === 0);
    expect(entry(list, { with: b })?.read).toBe(m2.mid);
    expect(m1.mid).toBeLessThan(m2.mid);

    // Read part way on the phone: the entry is fetched again for the exact count.
    const m3 = await bob.send(a, "three");
    const m4 = await bob.send(a, "four");
    const m5 = await bob.send(a, "five");
    await until(list, "three more unread", (l) => entry(l, { with: b })?.unread === 3);
    await phone.read({ with: b }, m4.mid);
    await until(list, "one left unread after the phone read up to four", (l) => {
      const e = entry(l, { with: b });
      return e?.read === m4.mid && e.unread === 1;
    });
    expect(m3.mid).toBeLessThan(m4.mid);

    // bob's own list sees alice's read position.
    const bobs = new ConversationList(bob);
    await bobs.load();
    expect(entry(bobs, { with: a })).toEqual(expect.objectContaining({ unread: 0, peer_read: m4.mid }));

    // A deleted unread message stops counting; the last message becomes a tombstone.
    await bob.deleteMessage(m5.mid);
    await until(list, "the deleted message no longer unread", (l) => entry(l, { with: b })?.unread === 0);
    expect(entry(list, { with: b })?.last).toEqual(expect.objectContaining({ mid: m5.mid, text: "", deleted: expect.any(Number) }));

    // alice's own message, sent here: the last message, never unread.
    const mine = await alice.send(b, "my turn");
    expect(entry(list, { with: b })).toEqual(expect.objectContaining({ unread: 0, last: expect.objectContaining({ mid: mine.mid, from: a }) }));
    await until(bobs, "bob has alice's message unread", (l) => entry(l, { with: a })?.unread === 1);

    // markRead clears the group; what the server says agrees with the list.
    expect(await list.markRead({ group: g })).toBe(g1.mid);
    expect(list.unread).toBe(0);
    const fresh = new ConversationList(alice);
    await fresh.load();
    expect(fresh.list()).toEqual(list.list());
    fresh.close();

    // Unfriending drops the conversation on both sides.
    await bob.removeFriend(a);
    await until(list, "bob's conversation gone", (l) => entry(l, { with: b }) === undefined);
    expect(entry(bobs, { with: a })).toBeUndefined();
    expect(list.list().map((c) => ("group" in c ? c.group : -1))).toEqual([g]);
    list.close();
    bobs.close();
  }, 60_000);
});
