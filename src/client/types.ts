/**
 * Shapes of the frames the client exchanges with the server (PROTOCOL.md,
 * version 1). Only what the client reads is typed; unknown fields pass through.
 */
import type { ChatMessage } from "../protocol/schema.ts";

/** A user as the server names one: `{id, name}`. */
export interface UserRef {
  id: number;
  name: string;
}

/** An entry of the friend list. */
export interface Friend extends UserRef {
  online: boolean;
}

/** `admin` only from a server that offers 1.1 `group_admin`. */
export type GroupRole = "creator" | "admin" | "normal";

export interface GroupMember extends UserRef {
  role: GroupRole;
  online: boolean;
}

/** A group as `create_group` returns it (no members yet besides the creator). */
export interface GroupInfo {
  id: number;
  name: string;
  desc: string;
  role: GroupRole;
}

/** A group with its members, as `login`, `groups` and `join_group` return it. */
export interface Group extends GroupInfo {
  members: GroupMember[];
}

/** A stored message: the body of a `msg` push and of `history` entries (defined with the protocol). */
export type { ChatMessage };

export interface HelloPush {
  type: "hello";
  version: number;
  node: string;
  /** the 1.1 extensions the server offers (absent: none) */
  features?: string[];
}
export interface MessagePush extends ChatMessage {
  type: "msg";
}
export interface PresencePush {
  type: "presence";
  user: number;
  online: boolean;
}
export interface FriendAddedPush {
  type: "friend_added";
  friend: Friend;
}
export interface MemberJoinedPush {
  type: "member_joined";
  group: number;
  user: UserRef;
}
export interface MemberLeftPush {
  type: "member_left";
  group: number;
  user: UserRef;
  /** 1.1 `group_admin`: who kicked `user` out (absent when `user` left) */
  by?: UserRef;
}
/** 1.1 `read`: `user` read the conversation up to `mid` (`with` the other party as seen by this user, or `group`). */
export interface ReadPush {
  type: "read";
  user: number;
  with?: number;
  group?: number;
  mid: number;
}
/** 1.1 `typing`: `user` is typing to this user, or in `group`. */
export interface TypingPush {
  type: "typing";
  user: number;
  group?: number;
}
/** 1.1 `edited`: message `mid` has new text. */
export interface EditedPush {
  type: "edited";
  mid: number;
  text: string;
  edited: number;
  from: number;
  to?: number;
  group?: number;
}
/** 1.1 `deleted`: message `mid` is a tombstone now. */
export interface DeletedPush {
  type: "deleted";
  mid: number;
  deleted: number;
  from: number;
  to?: number;
  group?: number;
}
/** 1.1 `role_changed`: `user` has `role` in `group` now (`creator` when the creator left and the role passed on). */
export interface RoleChangedPush {
  type: "role_changed";
  group: number;
  user: UserRef;
  role: GroupRole;
}
/** A group's id, name and description (`update_group`'s reply, the `group_updated` push). */
export interface GroupSummary {
  id: number;
  name: string;
  desc: string;
}
/** 1.1 `group_updated`: the group's name or description changed. */
export interface GroupUpdatedPush {
  type: "group_updated";
  group: GroupSummary;
}
/** 1.1 `group_deleted`: the group is gone, with its messages. */
export interface GroupDeletedPush {
  type: "group_deleted";
  group: number;
}
/** 1.1 `friend_removed`: the friendship with `user` ended. */
export interface FriendRemovedPush {
  type: "friend_removed";
  user: number;
}
/** 1.1 `requests`: an open friend request, as `friend_requests` lists it and the `friend_request` push carries it. */
export interface FriendRequest {
  user: UserRef;
  /** `""` when none was given */
  note: string;
  ts: number;
}
/** 1.1 `requests`: `user` asks this user for friendship. */
export interface FriendRequestPush extends FriendRequest {
  type: "friend_request";
}
/** 1.1 `requests`: the open requests to and from this user, each side oldest first. */
export interface FriendRequests {
  incoming: FriendRequest[];
  outgoing: FriendRequest[];
}
/**
 * What `friendRequest` did: asked (`requested`), or, when the other user had
 * asked first, made the friendship (`friend`).
 */
export type FriendRequestResult = { requested: true } | { friend: Friend };

/** A push of a type this client does not know (servers may add some). */
export interface OtherPush {
  type: string;
  [field: string]: unknown;
}

/** Any frame whose `type` is neither `ok` nor `error`. */
export type Push =
  | HelloPush
  | MessagePush
  | PresencePush
  | FriendAddedPush
  | MemberJoinedPush
  | MemberLeftPush
  | ReadPush
  | TypingPush
  | EditedPush
  | DeletedPush
  | FriendRemovedPush
  | FriendRequestPush
  | RoleChangedPush
  | GroupUpdatedPush
  | GroupDeletedPush
  | OtherPush;


/** The fields of an `ok` reply, without `type` and `re`. */
export type Reply = Record<string, unknown>;

/** How to log in: by name or id with the password, or with a token alone. */
export type LoginCredentials =
  | { name: string; password: string }
  | { user: number; password: string }
  | { token: string };

export interface LoginResult {
  user: UserRef;
  friends: Friend[];
  groups: Group[];
  /** how many messages are pending; they are pushed right after the reply */
  pending: number;
  /** 1.1: unread messages over all conversations (absent on a version 1 server) */
  unread?: number;
  /** 1.1 `requests`: how many friend requests wait for this user (absent on a server without it) */
  requests?: number;
  /** a fresh token to log in again without the password */
  token: string;
}

export interface SendResult {
  mid: number;
  ts: number;
  /** the server already had this message (a re-send after a lost reply): nothing new was stored */
  duplicate?: true;
}

/** One of the user's conversations (1.1 `conversations`). */
export type Conversation =
  | { with: number; name: string; last: ChatMessage; unread: number; read: number; peer_read: number }
  | { group: number; name: string; last: ChatMessage; unread: number; read: number };

/** What `updateGroup` changes: a new name, a new description, or both. */
export type GroupUpdate = { name: string; desc?: string } | { name?: string; desc: string };

/** A conversation named in a request: one-to-one `with` a friend, or a `group`. */
export type ConversationRef = { with: number } | { group: number };

/** `history` arguments: one conversation, optionally before a mid. */
export type HistoryQuery = ({ with: number } | { group: number }) & {
  before?: number;
  /** 1-100, server default 50 */
  limit?: number;
};
