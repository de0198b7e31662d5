/** add_friend, remove_friend, friends, find_user; and making friends, which requests share. */
import { fail } from "../../protocol/errors.ts";
import type { FindUser, UserRef } from "../../protocol/schema.ts";
import { friendship, friendsOf } from "../../store/friends.ts";
import { blockedEitherWay } from "../../store/requests.ts";
import { userByName } from "../../store/users.ts";
import { type Ctx, sessionOf } from "../services.ts";
import { befriend, otherUser, unfriend } from "./friendship.ts";
import { friendRequest } from "./requests.ts";

export async function addFriend(ctx: Ctx, req: UserRef) {
  // Under consent, add_friend only asks.
  if (ctx.services.policy.friendPolicy === "consent") return friendRequest(ctx, req);
  const { db, roster } = ctx.services;
  const me = sessionOf(ctx);
  const other = await otherUser(ctx, me, req.user, "you cannot add yourself as a friend");
  if ((await friendship(db, me.user.id, other.id)).friends) {
    roster.sawFriend(me, other.id);
    fail("already_friends", `${other.name} is already your friend`);
  }
  if (await blockedEitherWay(db, me.user.id, other.id)) fail("blocked", `you and ${other.name} cannot be friends: one of you blocks the other`);
  return { friend: await befriend(ctx, me, other, false) };
}

export async function removeFriend(ctx: Ctx, req: UserRef) {
  const me = sessionOf(ctx);
  const other = await otherUser(ctx, me, req.user, "you cannot remove yourself as a friend");
  if (!(await unfriend(ctx, me, other.id))) {
    ctx.services.roster.apply(me.user.id, { kind: "friend_removed", friend: other.id }, me);
    fail("not_friend", `${other.name} is not your friend`);
  }
  return {};
}

export async function findUser(ctx: Ctx, req: FindUser) {
  const user = await userByName(ctx.services.db, req.name);
  if (!user) fail("no_such_user", `nobody is called ${JSON.stringify(req.name)}`);
  return { user: { id: user.id, name: user.name } };
}

export async function friends(ctx: Ctx) {
  const { db, roster, presence } = ctx.services;
  const me = sessionOf(ctx);
  const list = await friendsOf(db, me.user.id);
  for (const f of list) roster.sawFriend(me, f.id);
  const online = await presence.online(list.map((f) => f.id));
  return { friends: list.map((f) => ({ id: f.id, name: f.name, online: online.has(f.id) })) };
}
