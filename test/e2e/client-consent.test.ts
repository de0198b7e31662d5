/**
 * The client library's consent, blocking, finding and account operations
 * against a real server under the consent policy (real sockets, real
 * MariaDB): the RequestList follows a request from push to acceptance,
 * names resolve with findUser, a changed password's fresh token logs in,
 * and a deleted account ends its other sessions without reconnecting.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type ChatClient, connectClient, type RequestError, RequestList } from "../../src/client/index.ts";
import { startTestServer, type TestServer, uniq } from "../support/server.ts";

const PASSWORD = "password-1";
const WAIT_MS = 10_000;

let srv: TestServer;
const clients: ChatClient[] = [];

beforeAll(async () => {
  srv = await startTestServer({ node: "cc1", friendPolicy: "consent" });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srv?.stop();
});

async function client(reconnect = false): Promise<ChatClient> {
  const c = await connectClient({
    port: srv.port,
    requestTimeoutMs: WAIT_MS,
    reconnect: reconnect ? { initialDelayMs: 10, maxDelayMs: 50 } : false,
  });
  clients.push(c);
  return c;
}

async function user(name: string, reconnect = false): Promise<ChatClient> {
  const c = await client(reconnect);
  await c.register(name, PASSWORD);
  await c.login({ name, password: PASSWORD });
  return c;
}

/** Resolves once `check` holds, re-checking at each change of the list. */
function until(list: RequestList, what: string, check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${what}: not within ${WAIT_MS} ms; incoming: ${JSON.stringify(list.incoming())}`));
    }, WAIT_MS);
    const off = list.on("change", () => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe("the client library under the consent policy", () => {
  it("follows a request by name from its push to its acceptance in the RequestList", async () => {
    const [an, bn] = [uniq("rl_a"), uniq("rl_b")];
    const alice = await user(an);
    const bob = await user(bn);
    expect(alice.offers("consent")).toBe(true);
    const requests = new RequestList(bob);
    await requests.load();
    const found = await alice.findUser(bn);
    expect(found.name).toBe(bn);
    expect(await alice.friendRequest(found.id, "hello")).toEqual({ requested: true });
    await until(requests, "the request arrives", () => requests.from(alice.user!.id)?.note === "hello");
    expect((await bob.friendRequests()).incoming.map((r) => r.user.id)).toEqual([alice.user!.id]);
    const friend = await bob.acceptFriend(alice.user!.id);
    expect(friend.id).toBe(alice.user!.id);
    expect(requests.incoming()).toEqual([]);
    expect((await bob.friendRequests()).incoming).toEqual([]);
  });

  it("logs in with the fresh token of a changed password, not with the old password", async () => {
    const name = uniq("pw_a");
    const a = await user(name);
    const token = await a.changePassword(PASSWORD, "password-2");
    expect(a.token).toBe(token);
    const other = await client();
    await expect(other.login({ name, password: PASSWORD })).rejects.toMatchObject({ code: "bad_credentials" });
    expect((await other.login({ token })).user.name).toBe(name);
  });

  it("ends the account's other session with account_deleted, and it does not reconnect", async () => {
    const name = uniq("del_a");
    const a = await user(name);
    const other = await client(true);
    await other.login({ name, password: PASSWORD });
    const deleted = new Promise<RequestError>((resolve) => other.once("account_deleted", resolve));
    const closed = new Promise<void>((resolve) => other.once("close", () => resolve()));
    let reconnecting = 0;
    other.on("reconnecting", () => reconnecting++);
    await a.deleteAccount(PASSWORD);
    expect((await deleted).code).toBe("account_deleted");
    await closed;
    expect(other.closeReason).toBe("account_deleted");
    expect(reconnecting).toBe(0);
    const someone = await user(uniq("del_b"));
    await expect(someone.findUser(name)).rejects.toMatchObject({ code: "no_such_user" });
  });
});
