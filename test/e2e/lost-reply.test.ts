/**
 * The lost reply, made to happen every time: a proxy (ReplyCutter) passes a
 * send to a real server and cuts the client's connection when the server's
 * `ok` comes back, before the client sees it. The client library reconnects,
 * logs back in with its token, sends the message again with the same cid,
 * and the server answers with the first message: one message stored and
 * delivered, and the send resolves with `duplicate: true`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChatClient, createClient } from "../../src/client/index.ts";
import { framesUntilPing } from "../support/conformance.ts";
import { ReplyCutter } from "../support/reply-cutter.ts";
import { startTestServer, type TestServer, uniq, user } from "../support/server.ts";

const PASSWORD = "password-1";

let srv: TestServer;
let proxy: ReplyCutter;
const clients: ChatClient[] = [];

beforeAll(async () => {
  srv = await startTestServer({ node: "lost-reply" });
  proxy = ReplyCutter.start(srv.port);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  proxy?.stop();
  await srv?.stop();
});

/** A library client through the proxy, logged in, that reconnects at once. */
async function libraryUser(name: string): Promise<ChatClient> {
  const c = createClient({ port: proxy.port, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  clients.push(c);
  await c.connect();
  await c.register(name, PASSWORD);
  await c.login({ name, password: PASSWORD });
  return c;
}

describe("a send whose ok is lost with its connection", () => {
  test("is sent again with the same cid after the reconnect, stored and delivered once, and resolves with the first mid and duplicate: true", async () => {
    const alice = await libraryUser(uniq("lr_a"));
    const bob = await user(srv.port, uniq("lr_b")); // straight to the server: sees every push
    await alice.addFriend(bob.id);
    const connectionsBefore = proxy.connections;
    const reconnected = new Promise((r) => alice.once("reconnected", r));

    const cut = proxy.cutReplyTo("send");
    const sent = alice.send(bob.id, "the ok of this one is lost");
    const { request, reply } = await cut;
    expect(reply).toEqual(expect.objectContaining({ type: "ok", mid: expect.any(Number) }));
    expect(reply).not.toHaveProperty("duplicate");

    const result = await sent;
    await reconnected;
    expect(result).toEqual({ mid: reply.mid, ts: reply.ts, duplicate: true });
    expect(proxy.connections).toBe(connectionsBefore + 1);
    const sends = proxy.requests.filter((f) => f.type === "send" && f.text === "the ok of this one is lost");
    expect(sends.length).toBe(2);
    expect(sends[1]!.cid).toBe(request.cid);
    expect(typeof request.cid).toBe("string");

    const history = await bob.w.ok({ type: "history", with: alice.user!.id });
    expect(history.messages.map((m: { mid: number }) => m.mid)).toEqual([reply.mid]);
    const pushes = (await framesUntilPing(bob.w, 0)).filter((f) => f.type === "msg");
    expect(pushes.map((f) => [f.mid, f.cid])).toEqual([[reply.mid, request.cid]]);
    bob.w.close();
  });

  test("in a group too: group_send goes again with its cid, and the members get the message once", async () => {
    const alice = await libraryUser(uniq("lr_ga"));
    const bob = await user(srv.port, uniq("lr_gb"));
    const group = await alice.createGroup(uniq("lr_room"));
    await bob.w.ok({ type: "join_group", group: group.id });

    const cut = proxy.cutReplyTo("group_send");
    const sent = alice.groupSend(group.id, "group ok lost");
    const { request, reply } = await cut;
    const result = await sent;
    expect(result).toEqual({ mid: reply.mid, ts: reply.ts, duplicate: true });

    const history = await bob.w.ok({ type: "history", group: group.id });
    expect(history.messages.map((m: { mid: number; cid?: string }) => [m.mid, m.cid])).toEqual([[reply.mid, request.cid]]);
    const pushes = (await framesUntilPing(bob.w, 0)).filter((f) => f.type === "msg");
    expect(pushes.map((f) => f.mid)).toEqual([reply.mid]);
    console.log(`Lost reply (proxy cuts the connection as the server's ok passes): send and group_send each stored once, re-sent with the same cid after the reconnect and answered duplicate: true with the first mid`);
    bob.w.close();
  });
});
