/**
 * The chat client library's entry: ChatClient, a method per protocol
 * operation over ClientBase (client-base.ts: request/reply matching, pushes,
 * autoAck with de-duplication, heartbeat, reconnect with token relogin).
 *
 * ```ts
 * const client = createClient({ port: 6000, autoAck: true });
 * client.on("msg", (m) => console.log(m.name, m.text));
 * await client.connect();
 * await client.login({ name: "alice", password: "s3cret-pw" });
 * await client.send(8, "hi bob");
 * await client.close();
 * ```
 */
import { ClientBase } from "./client-base.ts";
import type { ChatClientOptions } from "./options.ts";
import type {
  ChatMessage,
  Conversation,
  ConversationRef,
  Friend,
  FriendAddedPush,
  FriendRequestPush,
  FriendRequestResult,
  FriendRequests,
  Group,
  GroupDeletedPush,
  GroupInfo,
  GroupSummary,
  GroupUpdate,
  GroupUpdatedPush,
  HistoryQuery,
  LoginCredentials,
  LoginResult,
  MemberJoinedPush,
  MemberLeftPush,
  MessagePush,
  PresencePush,
  Push,
  RoleChangedPush,
  SendResult,
  UserRef,
} from "./types.ts";

export type { ClientEvents, ClientState, CloseReason } from "./client-base.ts";
export type { ChatClientOptions, ReconnectOptions } from "./options.ts";

/** A chat client: the core connection plus a method per protocol operation. */
export class ChatClient extends ClientBase {
  // ---- operations (PROTOCOL.md) ----

  async register(name: string, password: string): Promise<UserRef> {
    return (await this.request("register", { name, password })).user as UserRef;
  }

  /** Logs in by name, by id, or with a token. Subscribe to pushes first: pending messages follow the reply at once. */
  async login(credentials: LoginCredentials): Promise<LoginResult> {
    return (await this.request("login", credentials)) as unknown as LoginResult;
  }

  loginWithToken(token: string): Promise<LoginResult> {
    return this.login({ token });
  }

  /** Logs out (after sending the acks that wait); the token stops working. */
  async logout(): Promise<void> {
    this.flushAcks();
    await this.request("logout");
  }

  async addFriend(user: number): Promise<Friend> {
    return (await this.request("add_friend", { user })).friend as Friend;
  }

  /**
   * Sends a one-to-one message. With a server that offers `cid`, the message
   * gets a cid and survives a lost connection: it is sent again with the same
   * cid after the reconnect (when reconnecting is on), and stored once.
   */
  async send(to: number, text: string, options: SendOptions = {}): Promise<SendResult> {
    return (await this.requestOnce("send", { to, text, ...cidOf(options) })) as unknown as SendResult;
  }

  async createGroup(name: string, desc?: string): Promise<GroupInfo> {
    return (await this.request("create_group", { name, desc })).group as GroupInfo;
  }

  async joinGroup(group: number): Promise<Group> {
    return (await this.request("join_group", { group })).group as Group;
  }

  async leaveGroup(group: number): Promise<void> {
    await this.request("leave_group", { group });
  }

  async groupSend(group: number, text: string, options: SendOptions = {}): Promise<SendResult> {
    return (await this.requestOnce("group_send", { group, text, ...cidOf(options) })) as unknown as SendResult;
  }

  /** Acknowledges messages; resolves with how many were pending. */
  async ack(mids: number[]): Promise<number> {
    return (await this.request("ack", { mids })).acked as number;
  }

  async history(query: HistoryQuery): Promise<ChatMessage[]> {
    return (await this.request("history", query)).messages as ChatMessage[];
  }

  /** 1.1: the user's conversations with a message, newest first, with unread counts. */
  async conversations(page: { limit?: number; before?: number } = {}): Promise<Conversation[]> {
    return (await this.request("conversations", page)).conversations as Conversation[];
  }

  /** 1.1: moves the read position in a conversation up to `mid`; resolves with the position now. */
  async read(conversation: ConversationRef, mid: number): Promise<number> {
    return (await this.request("read", { ...conversation, mid })).read as number;
  }

  /** 1.1: tells the conversation's others that this user is typing (the server forwards one per 2 s). */
  async typing(conversation: ConversationRef): Promise<void> {
    await this.request("typing", conversation);
  }

  /** 1.1: replaces the text of one of this user's messages; resolves with when. */
  async edit(mid: number, text: string): Promise<number> {
    return (await this.request("edit", { mid, text })).edited as number;
  }

  /** 1.1: recalls a message (its text is erased, a tombstone stays); resolves with when. */
  async deleteMessage(mid: number): Promise<number> {
    return (await this.request("delete", { mid })).deleted as number;
  }

  /** 1.1 `group_admin` (creator only): makes a member of `group` an admin, or normal again. */
  async setRole(group: number, user: number, role: "admin" | "normal"): Promise<void> {
    await this.request("set_role", { group, user, role });
  }

  /** 1.1 `group_admin`: removes a member from `group`; with `ban`, they may not join again until unbanned. */
  async kick(group: number, user: number, options: { ban?: boolean } = {}): Promise<void> {
    await this.request("kick", { group, user, ...(options.ban !== undefined ? { ban: options.ban } : {}) });
  }

  /** 1.1 `group_admin`: lets a banned user join `group` again. */
  async unban(group: number, user: number): Promise<void> {
    await this.request("group_unban", { group, user });
  }

  /** 1.1 `group_admin`: renames and/or re-describes `group`; resolves with the group as it is now. */
  async updateGroup(group: number, update: GroupUpdate): Promise<GroupSummary> {
    return (await this.request("update_group", { group, ...update })).group as GroupSummary;
  }

  /** 1.1 `group_admin` (creator only): deletes `group` and its messages. */
  async deleteGroup(group: number): Promise<void> {
    await this.request("delete_group", { group });
  }

  /** 1.1: ends a friendship, both ways. */
  async removeFriend(user: number): Promise<void> {
    await this.request("remove_friend", { user });
  }

  /**
   * 1.1 `requests`: asks `user` for friendship, with an optional note (at
   * most 256 chars). Resolves with `{requested: true}`, or `{friend}` when
   * `user` had asked first and the friendship starts now.
   */
  async friendRequest(user: number, note?: string): Promise<FriendRequestResult> {
    const reply = await this.request("friend_request", { user, ...(note !== undefined ? { note } : {}) });
    return reply.friend !== undefined ? { friend: reply.friend as Friend } : { requested: true };
  }

  /** 1.1 `requests`: accepts `user`'s request; resolves with the new friend. */
  async acceptFriend(user: number): Promise<Friend> {
    return (await this.request("accept_friend", { user })).friend as Friend;
  }

  /** 1.1 `requests`: declines `user`'s request (nobody is told). */
  async declineFriend(user: number): Promise<void> {
    await this.request("decline_friend", { user });
  }

  /** 1.1 `requests`: the open requests to and from this user. */
  async friendRequests(): Promise<FriendRequests> {
    const reply = await this.request("friend_requests");
    return { incoming: reply.incoming as FriendRequests["incoming"], outgoing: reply.outgoing as FriendRequests["outgoing"] };
  }

  /** 1.1 `block`: `user` can no longer ask this user for friendship; a friendship between them ends. */
  async block(user: number): Promise<void> {
    await this.request("block", { user });
  }

  /** 1.1 `block`: lifts a block (unblocking someone not blocked is fine). */
  async unblock(user: number): Promise<void> {
    await this.request("unblock", { user });
  }

  /** 1.1 `block`: the users this user blocked. */
  async blocked(): Promise<UserRef[]> {
    return (await this.request("blocked")).blocked as UserRef[];
  }

  /** 1.1 `find`: the user with exactly this name (`no_such_user` when nobody has it). */
  async findUser(name: string): Promise<UserRef> {
    return (await this.request("find_user", { name })).user as UserRef;
  }

  /**
   * 1.1 `account`: changes the password. Every other token of the user stops
   * working; the reply's fresh token becomes this client's (`token`), so a
   * reconnect still logs back in. Resolves with it.
   */
  async changePassword(oldPassword: string, newPassword: string): Promise<string> {
    return (await this.request("change_password", { old: oldPassword, new: newPassword })).token as string;
  }

  /**
   * 1.1 `account`: deletes the account for good. The server then ends every
   * session of it, this one included: `account_deleted` and `close` follow,
   * and the client does not reconnect.
   */
  async deleteAccount(password: string): Promise<void> {
    await this.request("delete_account", { password });
  }

  async friends(): Promise<Friend[]> {
    return (await this.request("friends")).friends as Friend[];
  }

  async groups(): Promise<Group[]> {
    return (await this.request("groups")).groups as Group[];
  }

  /** Round trip to the server; resolves with the time it took, ms. */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.request("ping");
    return performance.now() - start;
  }

  // ---- push helpers ----

  /** Every push (`msg` after de-duplication). Returns the unsubscribe function. */
  onPush(listener: (push: Push) => void): () => void {
    return this.on("push", listener);
  }

  onMessage(listener: (msg: MessagePush) => void): () => void {
    return this.on("msg", listener);
  }

  onPresence(listener: (p: PresencePush) => void): () => void {
    return this.on("presence", listener);
  }

  onFriendAdded(listener: (p: FriendAddedPush) => void): () => void {
    return this.on("friend_added", listener);
  }

  onFriendRequest(listener: (p: FriendRequestPush) => void): () => void {
    return this.on("friend_request", listener);
  }

  onMemberJoined(listener: (p: MemberJoinedPush) => void): () => void {
    return this.on("member_joined", listener);
  }

  onMemberLeft(listener: (p: MemberLeftPush) => void): () => void {
    return this.on("member_left", listener);
  }

  onRoleChanged(listener: (p: RoleChangedPush) => void): () => void {
    return this.on("role_changed", listener);
  }

  onGroupUpdated(listener: (p: GroupUpdatedPush) => void): () => void {
    return this.on("group_updated", listener);
  }

  onGroupDeleted(listener: (p: GroupDeletedPush) => void): () => void {
    return this.on("group_deleted", listener);
  }
}

/** How a send is made. */
export interface SendOptions {
  /**
   * The message's cid (1-64 chars, with a server that offers `cid`): a send
   * tried again after it failed names the same message, and the server
   * stores it once. Default: a fresh one per call.
   */
  cid?: string;
}

function cidOf(options: SendOptions): { cid?: string } {
  return options.cid === undefined ? {} : { cid: options.cid };
}

/** Makes a client (not yet connected: call `connect()`). */
export function createClient(options: ChatClientOptions = {}): ChatClient {
  return new ChatClient(options);
}

/** Makes a client and connects it. */
export async function connectClient(options: ChatClientOptions = {}): Promise<ChatClient> {
  const client = new ChatClient(options);
  await client.connect();
  return client;
}
