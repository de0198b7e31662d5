/** edit, delete: changing or recalling a message after it was sent (protocol 1.1). */
import { fail } from "../../protocol/errors.ts";
import type { Edit, MessageRef } from "../../protocol/schema.ts";
import { roleIn } from "../../store/groups.ts";
import { deleteMessage, editMessage, type MessageParties, messageParties } from "../../store/messages.ts";
import { type Ctx, line, sessionOf } from "../services.ts";
import type { Session } from "../session.ts";

/**
 * The message, if the requester is a party to it: the sender or recipient of
 * a one-to-one message (friends or not), a current member of the group of a
 * group message. Anything else, a deleted message included, is
 * no_such_message: nobody learns of messages that are not theirs.
 */
async function partyTo(ctx: Ctx, me: Session, mid: number): Promise<{ m: MessageParties; role?: string }> {
  const m = await messageParties(ctx.services.db, mid);
  const nothing = () => fail("no_such_message", `you have no message with mid ${mid}`);
  if (!m || m.deleted) return nothing();
  if (m.group == null) return m.from === me.user.id || m.to === me.user.id ? { m } : nothing();
  const role = await roleIn(ctx.services.db, m.group, me.user.id);
  return role ? { m, role } : nothing();
}

/** The sender's own edits and deletes are bounded by the edit window (0: none). */
function inWindow(ctx: Ctx, m: MessageParties, now: number) {
  const window = ctx.services.policy.editWindowMs;
  if (window > 0 && now - m.ts > window) fail("too_late", `messages can be changed for ${window / 1000} s after they are sent`);
}

/** To every session of the message's parties but the requesting one. */
function tellParties(ctx: Ctx, me: Session, m: MessageParties, frame: string) {
  const { hub } = ctx.services;
  if (m.group != null) return hub.toGroup(m.group, frame, { except: me });
  hub.toUser(m.to as number, frame, { except: me });
  hub.toUser(m.from, frame, { except: me });
}

const where = (m: MessageParties) => (m.group != null ? { group: m.group } : { to: m.to as number });

export async function edit(ctx: Ctx, req: Edit) {
  const me = sessionOf(ctx);
  const { m, role } = await partyTo(ctx, me, req.mid);
  if (m.from !== me.user.id) fail("forbidden", "only the sender may edit a message");
  const now = Date.now();
  if (!(m.group != null && (role === "creator" || role === "admin"))) inWindow(ctx, m, now);
  if (!(await editMessage(ctx.services.db, m.mid, req.text, now))) fail("no_such_message", `you have no message with mid ${req.mid}`);
  tellParties(ctx, me, m, line({ type: "edited", mid: m.mid, text: req.text, edited: now, from: m.from, ...where(m) }));
  return { mid: m.mid, edited: now };
}

export async function deleteOne(ctx: Ctx, req: MessageRef) {
  const me = sessionOf(ctx);
  const { m, role } = await partyTo(ctx, me, req.mid);
  const moderator = role === "creator" || role === "admin";
  if (m.from !== me.user.id && !moderator) fail("forbidden", m.group != null ? "only the sender, the group's creator and its admins may delete a message" : "only the sender may delete a message");
  const now = Date.now();
  // A group's creator and admins moderate without a time limit; the sender has the edit window.
  if (!(m.group != null && moderator)) inWindow(ctx, m, now);
  if (!(await deleteMessage(ctx.services.db, m.mid, now))) fail("no_such_message", `you have no message with mid ${req.mid}`);
  tellParties(ctx, me, m, line({ type: "deleted", mid: m.mid, deleted: now, from: m.from, ...where(m) }));
  return { mid: m.mid, deleted: now };
}
