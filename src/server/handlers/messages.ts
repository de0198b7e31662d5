/** send, group_send, ack, history: messages. */
import { fail } from "../../protocol/errors.ts";
import type { Ack, ChatMessage, GroupSend, History, Send } from "../../protocol/schema.ts";
import { directHistory, groupHistory, messageByCid, messagesByMids } from "../../store/messages.ts";
import { type Ctx, line, sessionOf } from "../services.ts";
import { conversationOf, type Session } from "../session.ts";
import { checkFriend, checkMember } from "./checks.ts";

/**
 * The protocol checks a send's cid right after its schema and the login: a
 * cid the sender already used answers with that message, whatever else is
 * wrong with the request now. Checked here only when another check failed;
 * otherwise the writer finds the duplicate as it stores.
 */
async function duplicateFirst<T>(ctx: Ctx, me: Session, cid: string | undefined, checks: () => Promise<T>): Promise<T | { mid: number; ts: number; duplicate: true }> {
  try {
    return await checks();
  } catch (e) {
    const old = cid === undefined ? undefined : await messageByCid(ctx.services.db, me.user.id, cid);
    if (old) return { ...old, duplicate: true };
    throw e;
  }
}

/**
 * A repeated cid: the client did not see the first reply, and maybe the node
 * that stored the message died before pushing it. The stored message (same
 * mid, nothing new) goes again to its recipients' sessions; one that has it
 * already on its connection drops it (Session), and clients drop a known mid.
 * Without this, a recipient online on another node would see the message
 * only at its next login.
 */
async function duplicateAnswer(ctx: Ctx, me: Session, found: { mid: number; ts: number }) {
  const { hub, db } = ctx.services;
  const [m] = await messagesByMids(db, [found.mid]);
  if (m) {
    const frame = line({ type: "msg", ...m });
    const msg = { mid: m.mid, conv: conversationOf(m) };
    if (m.group !== undefined) hub.toGroup(m.group, frame, { except: me, msg });
    else {
      hub.toUser(m.to as number, frame, { msg });
      hub.toUser(m.from, frame, { except: me, msg });
    }
  }
  return { mid: found.mid, ts: found.ts, duplicate: true as const };
}

export async function send(ctx: Ctx, req: Send) {
  const { hub, writer } = ctx.services;
  const me = sessionOf(ctx);
  const dup = await duplicateFirst(ctx, me, req.cid, async () => {
    if (req.to === me.user.id) fail("invalid", "you cannot send a message to yourself");
    await checkFriend(ctx, me, req.to);
  });
  if (dup) return duplicateAnswer(ctx, me, dup);
  const ts = Date.now();
  const stored = await writer.store({ from: me.user.id, to: req.to, text: req.text, ts, cid: req.cid });
  if (stored.duplicate) return duplicateAnswer(ctx, me, stored);
  const { mid } = stored;
  const body: ChatMessage = { mid, from: me.user.id, name: me.user.name, to: req.to, text: req.text, ts };
  if (req.cid !== undefined) body.cid = req.cid;
  const frame = line({ type: "msg", ...body });
  const msg = { mid, conv: conversationOf({ from: me.user.id, to: req.to }) };
  hub.toUser(req.to, frame, { msg, sentAt: ts });
  hub.toUser(me.user.id, frame, { except: me, msg });
  return { mid, ts };
}

export async function groupSend(ctx: Ctx, req: GroupSend) {
  const { hub, writer } = ctx.services;
  const me = sessionOf(ctx);
  const dup = await duplicateFirst(ctx, me, req.cid, () => checkMember(ctx, me, req.group));
  if (dup) return duplicateAnswer(ctx, me, dup);
  const ts = Date.now();
  const stored = await writer.store({ from: me.user.id, group: req.group, text: req.text, ts, cid: req.cid });
  if (stored.groupGone) {
    // The session's cache had the group; the database does not any more (deleted while this node did not hear of it).
    ctx.services.roster.sawMembership(me, req.group, false);
    fail("no_such_group", `no group has id ${req.group}`);
  }
  if (stored.duplicate) return duplicateAnswer(ctx, me, stored);
  const { mid } = stored;
  const body: ChatMessage = { mid, from: me.user.id, name: me.user.name, group: req.group, text: req.text, ts };
  if (req.cid !== undefined) body.cid = req.cid;
  // Every member's sessions, the sender's other sessions among them.
  hub.toGroup(req.group, line({ type: "msg", ...body }), { except: me, msg: { mid, conv: conversationOf({ from: me.user.id, group: req.group }) }, sentAt: ts });
  return { mid, ts };
}

export async function ack(ctx: Ctx, req: Ack) {
  const me = sessionOf(ctx);
  const acked = await ctx.services.writer.ack(me.user.id, [...new Set(req.mids)]);
  return { acked };
}

export async function history(ctx: Ctx, req: History) {
  const { db } = ctx.services;
  const me = sessionOf(ctx);
  const limit = req.limit ?? 50;
  if (req.with !== undefined) {
    if (req.with === me.user.id) fail("invalid", "there is no conversation with yourself");
    await checkFriend(ctx, me, req.with).catch((e) => {
      // History names both failures not_friend: an unknown user is nobody's friend.
      if (e?.code === "no_such_user") fail("not_friend", `user ${req.with} is not your friend`);
      throw e;
    });
    return { messages: await directHistory(db, me.user.id, req.with, req.before, limit) };
  }
  await checkMember(ctx, me, req.group as number);
  return { messages: await groupHistory(db, req.group as number, req.before, limit) };
}
