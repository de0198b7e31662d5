/** create_group, join_group, leave_group, groups. */
import { fail } from "../../protocol/errors.ts";
import type { CreateGroup, GroupRef } from "../../protocol/schema.ts";
import {
  groupById,
  groupsOf,
  createGroup as insertGroup,
  joinGroup as insertMember,
  isBanned,
  leaveGroup as deleteMember,
  membersOf,
  purgeMessages,
} from "../../store/groups.ts";
import { type Ctx, line, type Services, sessionOf } from "../services.ts";

export async function createGroup(ctx: Ctx, req: CreateGroup) {
  const { db, hub, roster, policy } = ctx.services;
  const me = sessionOf(ctx);
  if (me.groups.size >= policy.maxGroupsPerUser) fail("limit_reached", `at most ${policy.maxGroupsPerUser} groups per user`);
  const desc = req.desc ?? "";
  const id = await insertGroup(db, req.name, desc, me.user.id);
  if (id === undefined) fail("group_name_taken", `a group named ${JSON.stringify(req.name)} exists`);
  roster.sawMembership(me, id, true);
  hub.toUser(me.user.id, undefined, { except: me, change: { kind: "group_joined", group: id } });
  return { group: { id, name: req.name, desc, role: "creator" } };
}

export async function joinGroup(ctx: Ctx, req: GroupRef) {
  const { db, hub, roster, presence, policy } = ctx.services;
  const me = sessionOf(ctx);
  const group = await groupById(db, req.group);
  if (!group) fail("no_such_group", `no group has id ${req.group}`);
  const before = await membersOf(db, [group.id]);
  if (before.some((m) => m.id === me.user.id)) {
    roster.sawMembership(me, group.id, true);
    fail("already_member", `you are a member of group ${group.id}`);
  }
  if (await isBanned(db, group.id, me.user.id)) fail("forbidden", `you are banned from group ${group.id}`);
  if (me.groups.size >= policy.maxGroupsPerUser) fail("limit_reached", `at most ${policy.maxGroupsPerUser} groups per user`);
  if (before.length >= policy.maxGroupMembers) fail("limit_reached", `group ${group.id} has ${policy.maxGroupMembers} members, the most allowed`);
  // Checked again as the member is added: a delete, a ban or another session's join may have come first.
  const joined = await insertMember(db, group.id, me.user.id);
  if (joined === "already_member") {
    roster.sawMembership(me, group.id, true);
    fail("already_member", `you are a member of group ${group.id}`);
  }
  if (joined === "no_such_group") fail("no_such_group", `no group has id ${group.id}`);
  if (joined === "banned") fail("forbidden", `you are banned from group ${group.id}`);
  const members = [...before, { group_id: group.id, id: me.user.id, name: me.user.name, role: "normal" as const }];
  const online = await presence.online(members.map((m) => m.id));
  online.add(me.user.id);
  const frame = line({ type: "member_joined", group: group.id, user: me.user });
  // Existing members first; then this user's other sessions, which join the group as they get it.
  hub.toGroup(group.id, frame, { except: me });
  roster.sawMembership(me, group.id, true);
  hub.toUser(me.user.id, frame, { except: me, change: { kind: "group_joined", group: group.id } });
  return {
    group: {
      ...group,
      role: "normal",
      members: members.map((m) => ({ id: m.id, name: m.name, role: m.role, online: online.has(m.id) })),
    },
  };
}

export async function leaveGroup(ctx: Ctx, req: GroupRef) {
  const services = ctx.services;
  const { db, hub, roster } = services;
  const me = sessionOf(ctx);
  const r = await deleteMember(db, req.group, me.user.id);
  roster.sawMembership(me, req.group, false);
  if (!r.left) {
    if (!r.group) fail("no_such_group", `no group has id ${req.group}`);
    fail("not_member", `you are not a member of group ${req.group}`);
  }
  // The other members, this user's other sessions among them; then those sessions leave.
  hub.toGroup(req.group, line({ type: "member_left", group: req.group, user: me.user }), { except: me });
  hub.toUser(me.user.id, undefined, { except: me, change: { kind: "group_left", group: req.group } });
  if (r.successor) hub.toGroup(req.group, line({ type: "role_changed", group: req.group, user: r.successor, role: "creator" }), { except: me });
  if (r.deleted) await purgeDeleted(services, req.group);
  return {};
}

/**
 * The messages of a group just deleted go. Nothing reaches them any more,
 * so a failure leaves rows nobody sees, not a wrong answer: the request
 * still succeeded.
 */
export async function purgeDeleted(services: Services, group: number) {
  try {
    await purgeMessages(services.db, group);
  } catch (e) {
    services.log.warn("group_purge_failed", { group, error: e });
  }
}

export async function groups(ctx: Ctx) {
  const me = sessionOf(ctx);
  const list = await groupList(ctx.services, me.user.id);
  for (const g of list) ctx.services.roster.sawMembership(me, g.id, true);
  return { groups: list };
}

/** The groups of `user` as the protocol shows them: with members and their online state. */
export async function groupList(services: Services, user: number) {
  const list = await groupsOf(services.db, user);
  const members = await membersOf(
    services.db,
    list.map((g) => g.id),
  );
  const online = await services.presence.online(members.map((m) => m.id));
  online.add(user);
  return list.map((g) => ({
    id: g.id,
    name: g.name,
    desc: g.desc,
    role: g.role,
    members: members.filter((m) => m.group_id === g.id).map((m) => ({ id: m.id, name: m.name, role: m.role, online: online.has(m.id) })),
  }));
}
