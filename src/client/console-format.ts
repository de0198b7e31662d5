/**
 * How the console client shows things: stable, greppable plain lines such as
 * `[12:00:01] alice(7) -> you: hello` and `* bob(8) is online`.
 */
import { ClientError } from "./errors.ts";
import type { ChatMessage, Friend, Group, UserRef } from "./types.ts";

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

/** Looks up a user's name by id; undefined when unknown. */
export type NameOf = (id: number) => string | undefined;

/**
 * One message line:
 * - `[12:00:01] alice(7) -> you: hello` (to me)
 * - `[12:00:01] you -> bob(8): hello` (sent by me, from another session or in history)
 * - `[12:00:01] group 3 alice(7): hi`
 */
export function formatMessage(msg: ChatMessage, me: number | undefined, nameOf: NameOf, now?: Date): string {
  const time = `[${formatTime(msg.ts, now)}]`;
  const sender = formatUser({ id: msg.from, name: msg.name });
  if (msg.group !== undefined) return `${time} group ${msg.group} ${sender}: ${msg.text}`;
  if (msg.from === me && msg.to !== undefined) {
    const to = msg.to === me ? "you" : formatUser({ id: msg.to, name: nameOf(msg.to) ?? "user" });
    return `${time} you -> ${to}: ${msg.text}`;
  }
  return `${time} ${sender} -> you: ${msg.text}`;
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

/** `error (not_friend): bob is not your friend` */
export function formatError(err: unknown): string {
  if (err instanceof ClientError) return `error (${err.code}): ${err.message}`;
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}
