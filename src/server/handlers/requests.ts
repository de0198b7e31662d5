/** friend_request, accept_friend, decline_friend, friend_requests, block, unblock, blocked: consent and blocking (protocol 1.1). */
import { fail } from "../../protocol/errors.ts";
import type { FriendRequest, UserRef } from "../../protocol/schema.ts";
import { friendship } from "../../store/friends.ts";
import {
  addBlock,
  blockCount,
  blockedBy,
  blockedEitherWay,
  closeRequest,
  dropRequests,
  hasRequest,
  openRequest,
  outgoingCount,
  removeBlock,
  requestsOf,
} from "../../store/requests.ts";
import { type Ctx, line, sessionOf } from "../services.ts";
import { befriend, otherUser, unfriend } from "./friendship.ts";

/**
 * Asks `user` for friendship, or completes the request `user` made (then it
 * is an accept). The reply and the push carry no online state: a stranger
 * learns only an id and a name.
 */
export async function friendRequest(ctx: Ctx, req: FriendRequest) {
  const { db, hub, roster, policy, requestRate } = ctx.services;
  const me = sessionOf(ctx);
  const other = await otherUser(ctx, me, req.user, "you cannot ask yourself for friendship");
  if ((await friendship(db, me.user.id, other.id)).friends) {
    roster.sawFriend(me, other.id);
    fail("already_friends", `${other.name} is already your friend`);
  }
  if (await blockedEitherWay(db, me.user.id, other.id)) fail("blocked", `you and ${other.name} cannot be friends: one of you blocks the other`);
  if (await hasRequest(db, other.id, me.user.id)) return { friend: await befriend(ctx, me, other, true) };
  if (!requestRate.take(me.user.id)) fail("rate_limited", "too many friend requests; try again in a minute");
  if ((await outgoingCount(db, me.user.id)) >= policy.maxOutgoingRequests && !(await hasRequest(db, me.user.id, other.id)))
    fail("limit_reached", `you have ${policy.maxOutgoingRequests} open requests, the most allowed`);
  const note = req.note ?? "";
  // Asking again while the request is open changes nothing (and tells nobody again).
  const ts = Date.now();
  if (await openRequest(db, me.user.id, other.id, note, ts)) hub.toUser(other.id, line({ type: "friend_request", user: me.user, note, ts }));
  return { requested: true };
}

export async function acceptFriend(ctx: Ctx, req: UserRef) {
  const me = sessionOf(ctx);
  const { db } = ctx.services;
  if (req.user === me.user.id) fail("invalid", "you cannot accept yourself");
  if (!(await hasRequest(db, req.user, me.user.id))) fail("no_such_request", `user ${req.user} has not asked you for friendship`);
  const other = await otherUser(ctx, me, req.user, "you cannot accept yourself");
  return { friend: await befriend(ctx, me, other, true) };
}

export async function declineFriend(ctx: Ctx, req: UserRef) {
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot decline yourself");
  // Declining tells nobody.
  if (!(await closeRequest(ctx.services.db, req.user, me.user.id))) fail("no_such_request", `user ${req.user} has not asked you for friendship`);
  return {};
}

export async function friendRequests(ctx: Ctx) {
  return requestsOf(ctx.services.db, sessionOf(ctx).user.id);
}

/** Blocking ends a friendship and the requests between the two; the blocked user learns only that the friendship ended. */
export async function block(ctx: Ctx, req: UserRef) {
  const { db, policy } = ctx.services;
  const me = sessionOf(ctx);
  const other = await otherUser(ctx, me, req.user, "you cannot block yourself");
  if ((await blockCount(db, me.user.id)) >= policy.maxBlocks && !(await blockedEitherWay(db, me.user.id, other.id)))
    fail("limit_reached", `you block ${policy.maxBlocks} users, the most allowed`);
  await addBlock(db, me.user.id, other.id);
  await dropRequests(db, me.user.id, other.id);
  await unfriend(ctx, me, other.id);
  return {};
}

export async function unblock(ctx: Ctx, req: UserRef) {
  const me = sessionOf(ctx);
  const other = await otherUser(ctx, me, req.user, "you cannot unblock yourself");
  await removeBlock(ctx.services.db, me.user.id, other.id);
  return {};
}

export async function blocked(ctx: Ctx) {
  return { blocked: await blockedBy(ctx.services.db, sessionOf(ctx).user.id) };
}
