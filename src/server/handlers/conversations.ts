/** conversations, read, typing: the conversation list, read positions and typing notices (protocol 1.1). */
import type { Conversations, Read, Typing } from "../../protocol/schema.ts";
import { conversationPage } from "../../store/conversations.ts";
import { type Ctx, line, sessionOf } from "../services.ts";
import { conversationOf } from "../session.ts";
import { checkConversation } from "./checks.ts";

export async function conversations(ctx: Ctx, req: Conversations) {
  const me = sessionOf(ctx);
  return { conversations: await conversationPage(ctx.services.db, me.user.id, req.before, req.limit ?? 50) };
}

export async function read(ctx: Ctx, req: Read) {
  const { hub, writer } = ctx.services;
  const me = sessionOf(ctx);
  const conv = await checkConversation(ctx, me, req, "read");
  const r = await writer.read("with" in conv ? { user: me.user.id, group: 0, peer: conv.with, mid: req.mid } : { user: me.user.id, group: conv.group, peer: 0, mid: req.mid });
  if (r.moved) {
    // The reader's other sessions; for one-to-one the friend too (a read receipt). A group's positions stay the reader's.
    hub.toUser(me.user.id, line({ type: "read", user: me.user.id, ...conv, mid: r.read }), { except: me });
    if ("with" in conv) hub.toUser(conv.with, line({ type: "read", user: me.user.id, with: me.user.id, mid: r.read }));
  }
  return { read: r.read };
}

export async function typing(ctx: Ctx, req: Typing) {
  const { hub } = ctx.services;
  const me = sessionOf(ctx);
  const conv = await checkConversation(ctx, me, req, "type to");
  const key = "with" in conv ? conversationOf({ from: me.user.id, to: conv.with }) : conversationOf({ from: me.user.id, group: conv.group });
  if (!me.mayForwardTyping(key, Date.now())) return {};
  if ("with" in conv) hub.toUser(conv.with, line({ type: "typing", user: me.user.id }));
  else hub.toGroup(conv.group, line({ type: "typing", user: me.user.id, group: conv.group }), { exceptUser: me.user.id });
  return {};
}
