/** register, login, logout: accounts and sessions. */
import { fail } from "../../protocol/errors.ts";
import type { ChangePassword, Login, Register } from "../../protocol/schema.ts";
import { friendsOf } from "../../store/friends.ts";
import { unreadTotal } from "../../store/conversations.ts";
import { pendingCount, pendingPage } from "../../store/messages.ts";
import { incomingCount } from "../../store/requests.ts";
import { setPasswordHash } from "../../store/accounts.ts";
import { issueToken, revokeTokens, revokeUserTokens, tokenUser } from "../../store/tokens.ts";
import { createUser, credentialsById, credentialsByName, userById } from "../../store/users.ts";
import { type Ctx, line, type Services, sessionOf } from "../services.ts";
import { conversationOf, type Session } from "../session.ts";
import { groupList } from "./groups.ts";

export async function register(ctx: Ctx, req: Register) {
  const { db, policy } = ctx.services;
  const hash = await Bun.password.hash(req.password, { algorithm: "argon2id", ...policy.hash });
  const id = await createUser(db, req.name, hash);
  if (id === undefined) fail("name_taken", `the name ${JSON.stringify(req.name)} is taken`);
  return { user: { id, name: req.name } };
}

async function authenticate(ctx: Ctx, req: Login): Promise<{ id: number; name: string }> {
  const { db, dummyHash } = ctx.services;
  if (req.token !== undefined) {
    const id = await tokenUser(db, req.token);
    const user = id === undefined ? undefined : await userById(db, id);
    if (!user) fail("bad_credentials", "the token is invalid or expired");
    return user;
  }
  const creds = req.name !== undefined ? await credentialsByName(db, req.name) : await credentialsById(db, req.user as number);
  // Verify even for an unknown user: the answer takes as long either way.
  const ok = await Bun.password.verify(req.password as string, creds?.password_hash ?? dummyHash);
  // A banned account gets the same answer: a ban tells an attacker nothing either.
  if (!creds || !ok || creds.banned) fail("bad_credentials", "wrong name, id or password");
  return { id: creds.id, name: creds.name };
}

export async function login(ctx: Ctx, req: Login) {
  const services = ctx.services;
  const { db, presence } = services;
  const user = await authenticate(ctx, req);
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
  const creds = await credentialsById(db, me.user.id);
  if (!creds || !(await Bun.password.verify(req.old, creds.password_hash))) fail("bad_credentials", "the old password is wrong");
  await setPasswordHash(db, me.user.id, await Bun.password.hash(req.new, { algorithm: "argon2id", ...policy.hash }));
  await revokeUserTokens(db, me.user.id);
  const token = await issueToken(db, me.user.id, policy.tokenTtlMs);
  me.replaceTokens([token]);
  return { token };
}

export async function logout(ctx: Ctx) {
  const session = sessionOf(ctx);
  await revokeTokens(ctx.services.db, [...session.tokens]);
  ctx.conn.detach();
  await ctx.services.sessions.end(session);
  return {};
}
