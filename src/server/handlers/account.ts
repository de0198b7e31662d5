/** register, login, logout: accounts and sessions. */
import { fail } from "../../protocol/errors.ts";
import type { ChangePassword, DeleteAccount, Login, Register } from "../../protocol/schema.ts";
import { friendsOf } from "../../store/friends.ts";
import { unreadTotal } from "../../store/conversations.ts";
import { pendingCount, pendingPage } from "../../store/messages.ts";
import { incomingCount } from "../../store/requests.ts";
import { setPasswordHash } from "../../store/accounts.ts";
import { issueToken, revokeTokens, revokeUserTokens, tokenUser } from "../../store/tokens.ts";
import { createUser, credentialsById, credentialsByName, userById } from "../../store/users.ts";
import type { Wait } from "../login-throttle.ts";
import { type Ctx, line, type Services, sessionOf } from "../services.ts";
import { conversationOf, type Session } from "../session.ts";
import { deleteAccountRows } from "../../store/account-deletion.ts";
import { groupIdsOf, leaveGroup } from "../../store/groups.ts";
import { groupList, purgeDeleted } from "./groups.ts";

export async function register(ctx: Ctx, req: Register) {
  const { db, policy } = ctx.services;
  const hash = await Bun.password.hash(req.password, { algorithm: "argon2id", ...policy.hash });
  const id = await createUser(db, req.name, hash);
  if (id === undefined) fail("name_taken", `the name ${JSON.stringify(req.name)} is taken`);
  return { user: { id, name: req.name } };
}

/**
 * A login the throttle holds back is refused at once with `rate_limited`,
 * without checking its password, rather than delayed and then checked:
 * PROTOCOL.md says limits answer `rate_limited` and never drop a request; a
 * refusal costs the server no argon2 and holds no connection's request
 * queue; and it caps the guesses at one per wait however many connections
 * an attacker opens in parallel, where a delay would let each of them guess.
 * The message says how long to wait.
 */
function refuse(ctx: Ctx, wait: Wait, tried: Record<string, unknown>): never {
  ctx.services.metrics.loginThrottled(wait.scope);
  ctx.services.abuse.hit(ctx.conn, "login_throttled", { scope: wait.scope, ...tried, retry_ms: wait.ms });
  const s = Math.max(1, Math.ceil(wait.ms / 1000));
  fail("rate_limited", `too many failed logins ${wait.scope === "account" ? "for this account" : "from your address"}; try again in ${s} s`);
}

async function authenticate(ctx: Ctx, req: Login): Promise<{ id: number; name: string; via: "token" | "password" }> {
  const { db, dummyHash, throttle, log } = ctx.services;
  const { remote, id: conn } = ctx.conn;
  if (req.token !== undefined) {
    // Token logins are neither throttled nor counted: a token cannot be guessed, and a
    // valid one must keep working while someone else guesses its user's password.
    const id = await tokenUser(db, req.token);
    const user = id === undefined ? undefined : await userById(db, id);
    if (!user) {
      log.warn("login_failed", { remote, conn, via: "token", user: id });
      fail("bad_credentials", "the token is invalid or expired");
    }
    return { ...user, via: "token" };
  }
  // What the client tried, for the log: the id or the name, never the password.
  const tried = req.name !== undefined ? { name: req.name } : { user: req.user };
  const fromHere = throttle.address(remote);
  if (fromHere) refuse(ctx, fromHere, tried);
  const creds = req.name !== undefined ? await credentialsByName(db, req.name) : await credentialsById(db, req.user as number);
  // The account when it exists, else the name or id tried: an unknown name is
  // throttled like a known one, so the throttle tells nobody which names exist.
  const account = creds ? `user:${creds.id}` : req.name !== undefined ? `name:${req.name}` : `user:${req.user}`;
  const forAccount = throttle.account(account);
  if (forAccount) refuse(ctx, forAccount, tried);
  // Verify even for an unknown user: the answer takes as long either way.
  const ok = await Bun.password.verify(req.password as string, creds?.password_hash ?? dummyHash);
  // A banned account gets the same answer: a ban tells an attacker nothing either.
  if (!creds || !ok || creds.banned) {
    const wait = throttle.failed(account, remote);
    // The remote address right after the event: fail2ban's filter anchors on it (deploy/fail2ban/chat.conf).
    log.warn("login_failed", { remote, conn, via: "password", user: creds?.id, ...tried, throttle_ms: wait > 0 ? wait : undefined });
    fail("bad_credentials", "wrong name, id or password");
  }
  throttle.succeeded(account);
  return { id: creds.id, name: creds.name, via: "password" };
}

export async function login(ctx: Ctx, req: Login) {
  const services = ctx.services;
  const { db, presence } = services;
  const { via, ...user } = await authenticate(ctx, req);
  if (ctx.conn.session) fail("already_logged_in", `this connection is logged in as ${ctx.conn.session.user.name}`);

  const [friends, groups] = await Promise.all([friendsOf(db, user.id), groupList(services, user.id)]);
  const [pending, unread, requests, token] = await Promise.all([
    pendingCount(db, user.id),
    unreadTotal(db, user.id),
    incomingCount(db, user.id),
    issueToken(db, user.id, services.policy.tokenTtlMs),
  ]);
  if (ctx.conn.closed) fail("unavailable", "the connection closed during login");

  // From here live pushes reach the session, held until the replay is done.
  const session = await services.sessions.open(ctx.conn, {
    user,
    friends: friends.map((f) => f.id),
    groups: groups.map((g) => g.id),
    tokens: req.token !== undefined ? [token, req.token] : [token],
  });
  const online = await presence.online(friends.map((f) => f.id));
  ctx.after = () => replayPending(services, ctx.conn, session);
  services.log.info("login_ok", { remote: ctx.conn.remote, conn: ctx.conn.id, via, user: user.id, name: user.name });
  return {
    user,
    friends: friends.map((f) => ({ id: f.id, name: f.name, online: online.has(f.id) })),
    groups,
    pending,
    unread,
    requests,
    token,
  };
}

/** Replay page size. */
const PAGE = 500;

/**
 * Pushes every pending message, oldest first, then lets live pushes through.
 * The replay never fills the output past half its limit: it waits for the
 * client to read, so a long backlog reaches a slow reader instead of closing it.
 */
async function replayPending(services: Services, conn: Ctx["conn"], session: Session) {
  const highWater = Math.min(256 * 1024, conn.maxOutput / 2);
  try {
    let after = 0;
    for (;;) {
      const page = await pendingPage(services.db, session.user.id, after, PAGE);
      for (const m of page) {
        if (conn.unsent > highWater) await conn.below(highWater / 2);
        if (session.ended) return;
        session.replay(line({ type: "msg", ...m }), { mid: m.mid, conv: conversationOf(m) });
      }
      if (page.length < PAGE || session.ended) break;
      after = (page[page.length - 1] as { mid: number }).mid;
    }
  } catch (e) {
    // The messages stay pending and come at the next login; this session goes on live.
    services.log.warn("replay_failed", { user: session.user.id, error: e });
  } finally {
    session.live();
  }
}

/**
 * A new password, and a fresh token for this session; every other token of
 * the user stops working (other sessions stay connected but cannot resume).
 */
export async function changePassword(ctx: Ctx, req: ChangePassword) {
  const { db, policy } = ctx.services;
  const me = sessionOf(ctx);
  await checkPassword(ctx, me, req.old);
  await setPasswordHash(db, me.user.id, await Bun.password.hash(req.new, { algorithm: "argon2id", ...policy.hash }));
  await revokeUserTokens(db, me.user.id);
  const token = await issueToken(db, me.user.id, policy.tokenTtlMs);
  me.replaceTokens([token]);
  return { token };
}

/** The logged-in user's password, checked under the login throttle: guessing it here is no faster than at login. */
async function checkPassword(ctx: Ctx, me: Session, password: string) {
  const { db, throttle, log } = ctx.services;
  const account = `user:${me.user.id}`;
  const wait = throttle.address(ctx.conn.remote) ?? throttle.account(account);
  if (wait) refuse(ctx, wait, { user: me.user.id });
  const creds = await credentialsById(db, me.user.id);
  if (!creds || !(await Bun.password.verify(password, creds.password_hash))) {
    throttle.failed(account, ctx.conn.remote);
    log.warn("password_check_failed", { remote: ctx.conn.remote, conn: ctx.conn.id, user: me.user.id });
    fail("bad_credentials", "the password is wrong");
  }
  throttle.succeeded(account);
}

/**
 * Deletes the account: its groups are left (the creator's succession, an
 * empty group deleted), friends hear friend_removed, then everything of it
 * goes (store/account-deletion.ts), and every session of it, on every node,
 * gets account_deleted and closes; this one right after its ok.
 */
export async function deleteAccount(ctx: Ctx, req: DeleteAccount) {
  const services = ctx.services;
  const { db, hub } = services;
  const me = sessionOf(ctx);
  await checkPassword(ctx, me, req.password);
  for (const g of await groupIdsOf(db, [me.user.id]).then((m) => m.get(me.user.id) ?? [])) {
    const r = await leaveGroup(db, g, me.user.id);
    if (!r.left) continue;
    hub.toGroup(g, line({ type: "member_left", group: g, user: me.user }), { exceptUser: me.user.id });
    if (r.successor) hub.toGroup(g, line({ type: "role_changed", group: g, user: r.successor, role: "creator" }));
    if (r.deleted) await purgeDeleted(services, g);
  }
  const friends = await deleteAccountRows(db, me.user.id, Date.now());
  for (const f of friends) hub.toUser(f, line({ type: "friend_removed", user: me.user.id }), { change: { kind: "friend_removed", friend: me.user.id } });
  services.log.info("account_deleted", { user: me.user.id, remote: ctx.conn.remote });
  ctx.after = async () => hub.endEverywhere(me.user.id, "account_deleted");
  return {};
}

export async function logout(ctx: Ctx) {
  const session = sessionOf(ctx);
  await revokeTokens(ctx.services.db, [...session.tokens]);
  ctx.conn.detach();
  await ctx.services.sessions.end(session);
  return {};
}
