/** Starting and ending friendships, shared by add_friend, remove_friend, requests and blocks. */
import { fail } from "../../protocol/errors.ts";
import { addFriendship, friendCounts, removeFriendship } from "../../store/friends.ts";
import { dropRequests } from "../../store/requests.ts";
import { userById } from "../../store/users.ts";
import { type Ctx, line } from "../services.ts";
import type { Session } from "../session.ts";

/**
 * Makes `me` and `other` friends (add_friend under the open policy, an
 * accepted or completed request): the cap for both, the rows, the end of
 * open requests between them, the caches on every node, and the pushes:
 * friend_added to the other user's sessions, and to `me`'s other sessions
 * when `tellMine` (accepting is news to them; a version 1 add_friend pushes
 * nothing to the adder's other sessions). Returns the friend as the reply
 * shows it.
 */
export async function befriend(ctx: Ctx, me: Session, other: { id: number; name: string }, tellMine: boolean) {
  const { db, hub, roster, presence, policy } = ctx.services;
  // The cap holds for both sides: a friendship counts for each of them.
  const counts = await friendCounts(db, [me.user.id, other.id]);
  if ((counts.get(me.user.id) ?? 0) >= policy.maxFriends) fail("limit_reached", `you have ${policy.maxFriends} friends, the most allowed`);
  if ((counts.get(other.id) ?? 0) >= policy.maxFriends) fail("limit_reached", `${other.name} has ${policy.maxFriends} friends, the most allowed`);
  if (!(await addFriendship(db, me.user.id, other.id))) {
    roster.sawFriend(me, other.id);
    fail("already_friends", `${other.name} is already your friend`);
  }
  await dropRequests(db, me.user.id, other.id);
  roster.sawFriend(me, other.id);
  const online = (await presence.online([other.id])).has(other.id);
  hub.toUser(other.id, line({ type: "friend_added", friend: { ...me.user, online: true } }), { change: { kind: "friend_added", friend: me.user.id } });
  const friend = { id: other.id, name: other.name, online };
  hub.toUser(me.user.id, tellMine ? line({ type: "friend_added", friend }) : undefined, { except: me, change: { kind: "friend_added", friend: other.id } });
  return friend;
}

/** The user named by a request's `user`, after `invalid` for yourself; no_such_user otherwise. */
export async function otherUser(ctx: Ctx, me: Session, id: number, yourself: string) {
  if (id === me.user.id) fail("invalid", yourself);
  const other = await userById(ctx.services.db, id);
  if (!other) fail("no_such_user", `no user has id ${id}`);
  return other;
}

/** Ends a friendship, if there is one: rows, caches on every node, friend_removed pushes. False when there was none. */
export async function unfriend(ctx: Ctx, me: Session, other: number): Promise<boolean> {
  const { db, hub } = ctx.services;
  if (!(await removeFriendship(db, me.user.id, other))) return false;
  // Both users' sessions on every node stop counting the other as a friend before they hear of it.
  hub.toUser(other, line({ type: "friend_removed", user: me.user.id }), { change: { kind: "friend_removed", friend: me.user.id } });
  hub.toUser(me.user.id, line({ type: "friend_removed", user: other }), { except: me, change: { kind: "friend_removed", friend: other } });
  return true;
}
