/** The checks several operations share: is this user a friend, is the requester a member of this group. */
import { fail } from "../../protocol/errors.ts";
import { friendship } from "../../store/friends.ts";
import { groupById, roleIn } from "../../store/groups.ts";
import type { Ctx } from "../services.ts";
import type { Session } from "../session.ts";

/** no_such_user / not_friend, from the session's cache or, on a miss, the database. */
export async function checkFriend(ctx: Ctx, me: Session, other: number) {
  if (me.friends.has(other)) return;
  const f = await friendship(ctx.services.db, me.user.id, other);
  if (!f.exists) fail("no_such_user", `no user has id ${other}`);
  if (!f.friends) fail("not_friend", `user ${other} is not your friend`);
  ctx.services.roster.sawFriend(me, other);
}

/** no_such_group / not_member, from the session's cache or, on a miss, the database. */
export async function checkMember(ctx: Ctx, me: Session, group: number) {
  if (me.groups.has(group)) return;
  if (!(await groupById(ctx.services.db, group))) fail("no_such_group", `no group has id ${group}`);
  if (!(await roleIn(ctx.services.db, group, me.user.id))) fail("not_member", `you are not a member of group ${group}`);
  ctx.services.roster.sawMembership(me, group, true);
}

/**
 * The conversation a request names, checked as send and group_send check it
 * (`invalid` for one with yourself, then no_such_user / not_friend, or
 * no_such_group / not_member).
 */
export async function checkConversation(ctx: Ctx, me: Session, req: { with?: number; group?: number }, op: string): Promise<{ with: number } | { group: number }> {
  if (req.with !== undefined) {
    if (req.with === me.user.id) fail("invalid", `there is no conversation with yourself to ${op}`);
    await checkFriend(ctx, me, req.with);
    return { with: req.with };
  }
  await checkMember(ctx, me, req.group as number);
  return { group: req.group as number };
}
