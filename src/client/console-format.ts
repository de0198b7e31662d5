/**
 * How the console client shows things: stable, greppable plain lines such as
 * `[12:00:01] alice(7) -> you: hello (mid 4)` and `* bob(8) is online`.
 */
import { ClientError } from "./errors.ts";
import type {
  ChatMessage,
  Conversation,
  DeletedPush,
  EditedPush,
  Friend,
  FriendRequest,
  FriendRequestPush,
  Group,
  ReadPush,
  TypingPush,
  UserRef,
} from "./types.ts";

const two = (n: number) => String(n).padStart(2, "0");

/** Local time as HH:MM:SS, with the date (YYYY-MM-DD) in front when it is not today. */
export function formatTime(ts: number, now: Date = new Date()): string {
  const d = new Date(ts);
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? time : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** `alice(7)` */
export function formatUser(user: UserRef): string {
  return `${user.name}(${user.id})`;
}

/** Names the console knows, by id; undefined when unknown. */
export interface Names {
  user(id: number): string | undefined;
  group(id: number): string | undefined;
}

/** `group 3 team`, or `group 3` when the name is not known. */
export function formatGroupRef(id: number, names: Names): string {
  const name = names.group(id);
  return name ? `group ${id} ${name}` : `group ${id}`;
}

/** `bob(8)`, with `user` for a name not known. */
export function formatUserId(id: number, names: Names): string {
  return formatUser({ id, name: names.user(id) ?? "user" });
}

/** A conversation as a command names it: `8` (a friend) or `g:3` (a group). */
export function formatTarget(ref: { with: number } | { group: number }): string {
  return "group" in ref ? `g:${ref.group}` : String(ref.with);
}

/**
 * One message line, with its mid (what `edit`, `delete` and `history` take):
 * - `[12:00:01] alice(7) -> you: hello (mid 4)` (to me)
 * - `[12:00:01] you -> bob(8): hello (mid 5)` (sent by me: echoed, from another session, in history)
 * - `[12:00:01] alice(7) -> group 3 team: hi (mid 6)`
 * An edited message says so after its mid; a deleted one shows `(deleted)` for its text.
 */
export function formatMessage(msg: ChatMessage, me: number | undefined, names: Names, now?: Date): string {
  const time = `[${formatTime(msg.ts, now)}]`;
  const sender = msg.from === me ? "you" : formatUser({ id: msg.from, name: msg.name });
  let to: string;
  if (msg.group !== undefined) to = formatGroupRef(msg.group, names);
  else if (msg.to === me) to = "you";
  else to = msg.to === undefined ? "?" : formatUserId(msg.to, names);
  const text = msg.deleted !== undefined ? "(deleted)" : msg.text;
  const edited = msg.edited !== undefined && msg.deleted === undefined ? ", edited" : "";
  return `${time} ${sender} -> ${to}: ${text} (mid ${msg.mid}${edited})`;
}

/**
 * The conversation list, newest first, one line each:
 * `  bob(8)        2 unread  [12:00:01] bob(8): see you (mid 12)`.
 */
export function formatConversations(list: Conversation[], me: number | undefined, names: Names, now?: Date): string[] {
  if (list.length === 0) return ["conversations: none"];
  const unread = list.reduce((n, c) => n + c.unread, 0);
  const who = list.map((c) => ("group" in c ? `group ${c.group} ${c.name}` : formatUser({ id: c.with, name: c.name })));
  const width = Math.max(...who.map((w) => w.length));
  const lines = list.map((c, i) => {
    const m = c.last;
    const sender = m.from === me ? "you" : formatUser({ id: m.from, name: m.name });
    const text = m.deleted !== undefined ? "(deleted)" : m.text;
    const count = `${c.unread} unread`.padEnd(9);
    return `  ${who[i]!.padEnd(width)}  ${count} [${formatTime(m.ts, now)}] ${sender}: ${text} (mid ${m.mid})`;
  });
  return [`conversations (${list.length}, ${unread} unread):`, ...lines];
}

/**
 * The line after a `history` page: how to ask for the page before it (the
 * oldest mid shown), or that there is none (a page shorter than asked for).
 */
export function formatHistoryEnd(ref: { with: number } | { group: number }, messages: ChatMessage[], limit: number): string {
  const oldest = messages[0];
  if (!oldest || messages.length < limit) return "(no older messages)";
  return `(older messages: history ${formatTarget(ref)} ${oldest.mid})`;
}

/** `* bob(8) read up to mid 12` (a friend's receipt), `* you read group 3 team up to mid 12` (another session of mine). */
export function formatReadPush(p: ReadPush, me: number | undefined, names: Names): string {
  if (p.user !== me) return `* ${formatUserId(p.user, names)} read up to mid ${p.mid}`;
  const where = p.group !== undefined ? formatGroupRef(p.group, names) : formatUserId(p.with ?? 0, names);
  return `* you read ${where} up to mid ${p.mid}`;
}

/** `* bob(8) is typing`, `* carol(9) is typing in group 3 team` */
export function formatTypingPush(p: TypingPush, names: Names): string {
  const where = p.group !== undefined ? ` in ${formatGroupRef(p.group, names)}` : "";
  return `* ${formatUserId(p.user, names)} is typing${where}`;
}

/** `* bob(8) edited mid 12: new text`, `* you edited mid 12 in group 3 team: new text` */
export function formatEditedPush(p: EditedPush, me: number | undefined, names: Names): string {
  const who = p.from === me ? "you" : formatUserId(p.from, names);
  const where = p.group !== undefined ? ` in ${formatGroupRef(p.group, names)}` : "";
  return `* ${who} edited mid ${p.mid}${where}: ${p.text}`;
}

/**
 * `* bob(8) deleted mid 12`; in a group the deleter may be an admin, and
 * the push names only the sender: `* mid 12 of carol(9) in group 3 team was deleted`.
 */
export function formatDeletedPush(p: DeletedPush, me: number | undefined, names: Names): string {
  const who = p.from === me ? "you" : formatUserId(p.from, names);
  if (p.group === undefined) return `* ${who} deleted mid ${p.mid}`;
  const what = p.from === me ? `your mid ${p.mid}` : `mid ${p.mid} of ${who}`;
  return `* ${what} in ${formatGroupRef(p.group, names)} was deleted`;
}

const onlineWord = (online: boolean) => (online ? "online" : "offline");

/** `  bob(8) online` */
function formatFriend(friend: Friend): string {
  return `  ${formatUser(friend)} ${onlineWord(friend.online)}`;
}

/** The friend list, or `friends: none`. */
export function formatFriends(friends: Iterable<Friend>): string[] {
  const list = [...friends];
  if (list.length === 0) return ["friends: none"];
  return [`friends (${list.length}):`, ...list.map(formatFriend)];
}

/** A group and its members, one per line. */
function formatGroup(group: Group): string[] {
  const desc = group.desc ? ` "${group.desc}"` : "";
  return [
    `  group ${group.id} ${group.name}${desc} (you: ${group.role})`,
    ...(group.members ?? []).map((m) => `    ${formatUser(m)} ${m.role} ${onlineWord(m.online)}`),
  ];
}

/** The group list, or `groups: none`. */
export function formatGroups(groups: Iterable<Group>): string[] {
  const list = [...groups];
  if (list.length === 0) return ["groups: none"];
  return [`groups (${list.length}):`, ...list.flatMap(formatGroup)];
}

/** `* bob(8) asks to be your friend: "hi" (accept bob / decline bob)` */
export function formatFriendRequestPush(p: FriendRequestPush): string {
  const note = p.note ? `: "${p.note}"` : "";
  return `* ${formatUser(p.user)} asks to be your friend${note} (accept ${p.user.id} / decline ${p.user.id})`;
}

function formatRequest(r: FriendRequest, now?: Date): string {
  const name = r.user.name ? formatUser(r.user) : `user ${r.user.id}`;
  return `  ${name}${r.note ? ` "${r.note}"` : ""} [${formatTime(r.ts, now)}]`;
}

/** Both sides of the open friend requests, oldest first. */
export function formatRequests(incoming: FriendRequest[], outgoing: FriendRequest[], now?: Date): string[] {
  return [
    incoming.length === 0 ? "requests to you: none" : `requests to you (${incoming.length}):`,
    ...incoming.map((r) => formatRequest(r, now)),
    outgoing.length === 0 ? "your requests: none" : `your requests (${outgoing.length}):`,
    ...outgoing.map((r) => formatRequest(r, now)),
  ];
}

/** What a field of a request is called in a sentence (the server names fields in `bad_frame` messages). */
const FIELD_NAMES: Record<string, string> = {
  name: "the name",
  password: "the password",
  old: "the old password",
  new: "the new password",
  text: "the message",
  note: "the note",
  desc: "the description",
};

/** Codes whose meaning a person needs more than the server's wording. */
const CODE_SENTENCES: Record<string, string> = {
  not_logged_in: "log in first",
  unknown_type: "this server does not offer that command",
  internal: "the server failed to do that; try again",
  frame_too_large: "that is too long to send",
};

/**
 * An error as a sentence for people, its code in brackets at the end for
 * those who look it up: `error: Bob is not your friend. (not_friend)`,
 * `error: The password must be at least 6 characters. (bad_frame)`.
 */
export function formatError(err: unknown): string {
  if (!(err instanceof ClientError)) return `error: ${sentence(err instanceof Error ? err.message : String(err))}`;
  let text = CODE_SENTENCES[err.code] ?? err.message;
  if (err.code === "bad_frame") {
    // `password: must be at least 6 characters` names the field first.
    const m = /^([A-Za-z_][\w.]*): (.*)$/s.exec(err.message);
    if (m) text = `${FIELD_NAMES[m[1]!] ?? m[1]} ${m[2]}`;
  }
  if (err.code === "unavailable" && !/try again/.test(text)) text = `${text}; try again`;
  return `error: ${sentence(text || err.code.replace(/_/g, " "))} (${err.code})`;
}

/** Capitalised, ending in a full stop unless it ends in punctuation already. */
function sentence(text: string): string {
  const t = text.trim();
  if (t === "") return t;
  const head = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?)]$/.test(head) ? head : `${head}.`;
}
