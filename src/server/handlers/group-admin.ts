/**
 * set_role, kick, group_unban, update_group, delete_group: a group's
 * administration (protocol 1.1 `group_admin`). Only the creator sets roles
 * and deletes the group; the creator and admins update it, kick, ban and
 * unban; the creator acts on anyone, an admin on normal members only.
 *
 * Each runs in one transaction that holds the group's row and the rows of
 * the members it names (store/groups.ts changeGroup), and checks its errors
 * there in the protocol's order: no_such_group, not_member (the requester,
 * then `user`), forbidden, then the operation's own. `invalid` (acting on
 * yourself) comes before all of them. Pushes go after the commit, to every
 * member's sessions but the requesting one.
 */
import { fail } from "../../protocol/errors.ts";
import type { GroupRef, GroupUser, Kick, SetRole, UpdateGroup } from "../../protocol/schema.ts";
import { type GroupChange, changeGroup, type Member } from "../../store/groups.ts";
import { type Ctx, line, sessionOf } from "../services.ts";
import type { Session } from "../session.ts";
import { purgeDeleted } from "./groups.ts";

/** Runs `fn` on the locked group; no_such_group when there is none. */
async function administer<T>(ctx: Ctx, me: Session, group: number, users: number[], fn: (g: GroupChange) => Promise<T>): Promise<T> {
  const r = await changeGroup(ctx.services.db, group, [me.user.id, ...users], async (g) => ({ value: await fn(g) }));
  if (!r) {
    ctx.services.roster.sawMembership(me, group, false);
    fail("no_such_group", `no group has id ${group}`);
  }
  return r.value;
}

/** The requester as a member; not_member otherwise (and the session's cache learns it). */
function requester(ctx: Ctx, me: Session, g: GroupChange): Member {
  const m = g.members.get(me.user.id);
  ctx.services.roster.sawMembership(me, g.group.id, m !== undefined);
  if (!m) fail("not_member", `you are not a member of group ${g.group.id}`);
  return m;
}

/** The member an operation acts on; not_member otherwise. */
function target(g: GroupChange, user: number): Member {
  const m = g.members.get(user);
  if (!m) fail("not_member", `user ${user} is not a member of group ${g.group.id}`);
  return m;
}

/** forbidden unless `me` may act on `other`: the creator on anyone, an admin on normal members. */
function mayActOn(me: Member, other: Member, what: string) {
  if (me.role === "creator") return;
  if (me.role === "normal") fail("forbidden", `only the group's creator and admins ${what}`);
  if (other.role !== "normal") fail("forbidden", `an admin can only ${what} normal members; ${other.name} is ${other.role === "creator" ? "the creator" : "an admin"}`);
}

const ref = (m: Member) => ({ id: m.id, name: m.name });

export async function setRole(ctx: Ctx, req: SetRole) {
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot set your own role");
  const changed = await administer(ctx, me, req.group, [req.user], async (g) => {
    const mine = requester(ctx, me, g);
    const theirs = target(g, req.user);
    if (mine.role !== "creator") fail("forbidden", "only the group's creator sets roles");
    if (theirs.role === req.role) return undefined;
    await g.setRole(theirs.id, req.role);
    return theirs;
  });
  // A member's current role again is ok and tells nobody.
  if (changed) ctx.services.hub.toGroup(req.group, line({ type: "role_changed", group: req.group, user: ref(changed), role: req.role }), { except: me });
  return {};
}

export async function kick(ctx: Ctx, req: Kick) {
  const { hub } = ctx.services;
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot kick yourself (leave_group leaves a group)");
  const kicked = await administer(ctx, me, req.group, [req.user], async (g) => {
    const mine = requester(ctx, me, g);
    const theirs = target(g, req.user);
    mayActOn(mine, theirs, req.ban ? "ban" : "kick");
    await g.kick(theirs.id, req.ban ? me.user.id : undefined);
    return theirs;
  });
  const frame = line({ type: "member_left", group: req.group, user: ref(kicked), by: me.user });
  // The kicked user's sessions first, on every node: they stop being members as they
  // get the push, so the group's copy (and its later messages) no longer reaches them.
  hub.toUser(kicked.id, frame, { change: { kind: "group_left", group: req.group } });
  hub.toGroup(req.group, frame, { except: me });
  return {};
}

export async function groupUnban(ctx: Ctx, req: GroupUser) {
  const me = sessionOf(ctx);
  if (req.user === me.user.id) fail("invalid", "you cannot unban yourself");
  await administer(ctx, me, req.group, [], async (g) => {
    // The user is not a member (bans are of people kicked out): only the requester's role counts.
    if (requester(ctx, me, g).role === "normal") fail("forbidden", "only the group's creator and admins unban");
    // Unbanning someone who is not banned changes nothing and is ok.
    await g.unban(req.user);
  });
  return {};
}

export async function updateGroup(ctx: Ctx, req: UpdateGroup) {
  const me = sessionOf(ctx);
  const { group, changed } = await administer(ctx, me, req.group, [], async (g) => {
    if (requester(ctx, me, g).role === "normal") fail("forbidden", "only the group's creator and admins change the group");
    const next = { id: g.group.id, name: req.name ?? g.group.name, desc: req.desc ?? g.group.desc };
    if (next.name === g.group.name && next.desc === g.group.desc) return { group: next, changed: false };
    if (!(await g.update(next.name, next.desc))) fail("group_name_taken", `a group named ${JSON.stringify(next.name)} exists`);
    return { group: next, changed: true };
  });
  // Like a role set to what it was, an update that changes nothing tells nobody.
  if (changed) ctx.services.hub.toGroup(group.id, line({ type: "group_updated", group }), { except: me });
  return { group };
}

export async function deleteGroup(ctx: Ctx, req: GroupRef) {
  const services = ctx.services;
  const me = sessionOf(ctx);
  const members = await administer(ctx, me, req.group, [], async (g) => {
    if (requester(ctx, me, g).role !== "creator") fail("forbidden", "only the group's creator deletes it");
    return g.delete();
  });
  // Each member's sessions, on every node, leave the group as they get the push. One
  // publish per member on their own channel: a node where a member just logged in may
  // not have subscribed to the group's channel yet, while a login waits for the user's
  // (redis-presence.ts).
  const frame = line({ type: "group_deleted", group: req.group });
  const change = { kind: "group_left", group: req.group } as const;
  for (const m of members) services.hub.toUser(m, frame, m === me.user.id ? { except: me, change } : { change });
  await purgeDeleted(services, req.group);
  return {};
}
