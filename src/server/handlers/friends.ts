/** add_friend, friends. */
import { fail } from "../../protocol/errors.ts";
import type { UserRef } from "../../protocol/schema.ts";
import { addFriendship, friendCounts, friendship, friendsOf, removeFriendship } from "../../store/friends.ts";
import { userById } from "../../store/users.ts";
import { type Ctx, line, sessionOf } from "../services.ts";

export async function addFriend(ctx: Ctx, req: UserRef) {
  const { db, hub, roster, presence, policy } = ctx.services;
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot add yourself as a friend");
  const other = await userById(db, req.user);
  if (!other) fail("no_such_user", `no user has id ${req.user}`);
  if ((await friendship(db, me.user.id, other.id)).friends) {
    roster.sawFriend(me, other.id);
    fail("already_friends", `${other.name} is already your friend`);
  }
  // The cap holds for both sides: a friendship counts for each of them.
  const counts = await friendCounts(db, [me.user.id, other.id]);
  if ((counts.get(me.user.id) ?? 0) >= policy.maxFriends) fail("limit_reached", `you have ${policy.maxFriends} friends, the most allowed`);
  if ((counts.get(other.id) ?? 0) >= policy.maxFriends) fail("limit_reached", `${other.name} has ${policy.maxFriends} friends, the most allowed`);
  if (!(await addFriendship(db, me.user.id, other.id))) {
    roster.sawFriend(me, other.id);
    fail("already_friends", `${other.name} is already your friend`);
  }
  roster.sawFriend(me, other.id);
  const online = (await presence.online([other.id])).has(other.id);
  hub.toUser(other.id, line({ type: "friend_added", friend: { ...me.user, online: true } }), { change: { kind: "friend_added", friend: me.user.id } });
  // The adder's other sessions learn of the friend too (their caches; no push is defined for them).
  hub.toUser(me.user.id, undefined, { except: me, change: { kind: "friend_added", friend: other.id } });
  return { friend: { id: other.id, name: other.name, online } };
}

export async function removeFriend(ctx: Ctx, req: UserRef) {
  const { db, hub } = ctx.services;
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot remove yourself as a friend");
  const other = await userById(db, req.user);
  if (!other) fail("no_such_user", `no user has id ${req.user}`);
  if (!(await removeFriendship(db, me.user.id, other.id))) {
    ctx.services.roster.apply(me.user.id, { kind: "friend_removed", friend: other.id }, me);
    fail("not_friend", `${other.name} is not your friend`);
  }
  // Both users' sessions on every node stop counting the other as a friend before they hear of it.
  hub.toUser(other.id, line({ type: "friend_removed", user: me.user.id }), { change: { kind: "friend_removed", friend: me.user.id } });
  hub.toUser(me.user.id, line({ type: "friend_removed", user: other.id }), { except: me, change: { kind: "friend_removed", friend: other.id } });
  return {};
}

export async function friends(ctx: Ctx) {
  const { db, roster, presence } = ctx.services;
  const me = sessionOf(ctx);
  const list = await friendsOf(db, me.user.id);
  for (const f of list) roster.sawFriend(me, f.id);
  const online = await presence.online(list.map((f) => f.id));
  return { friends: list.map((f) => ({ id: f.id, name: f.name, online: online.has(f.id) })) };
}
