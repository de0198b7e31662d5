/**
 * The dispatch table: request type to handler. `auth` handlers need a logged-in
 * session (`not_logged_in` otherwise). A handler returns the `ok` reply's
 * fields or throws a ChatError.
 */
import type { RequestOf, RequestType } from "../../protocol/schema.ts";
import type { Ctx } from "../services.ts";
import { changePassword, deleteAccount, login, logout, register } from "./account.ts";
import { conversations, read, typing } from "./conversations.ts";
import { deleteOne, edit } from "./edits.ts";
import { addFriend, findUser, friends, removeFriend } from "./friends.ts";
import { deleteGroup, groupUnban, kick, setRole, updateGroup } from "./group-admin.ts";
import { createGroup, groups, joinGroup, leaveGroup } from "./groups.ts";
import { ack, groupSend, history, send } from "./messages.ts";
import { acceptFriend, block, blocked, declineFriend, friendRequest, friendRequests, unblock } from "./requests.ts";

export interface Handler<T extends RequestType> {
  auth: boolean;
  /**
   * Runs beside the connection's later requests instead of before them; its
   * reply still comes in request order. Only for operations that nothing
   * later on the connection depends on.
   */
  detached?: boolean;
  handle(ctx: Ctx, req: RequestOf<T>): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export const HANDLERS: { [T in RequestType]: Handler<T> } = {
  register: { auth: false, handle: register },
  login: { auth: false, handle: login },
  ping: { auth: false, handle: () => ({}) },
  logout: { auth: true, handle: logout },
  add_friend: { auth: true, handle: addFriend },
  friends: { auth: true, handle: friends },
  send: { auth: true, handle: send },
  create_group: { auth: true, handle: createGroup },
  join_group: { auth: true, handle: joinGroup },
  leave_group: { auth: true, handle: leaveGroup },
  set_role: { auth: true, handle: setRole },
  kick: { auth: true, handle: kick },
  group_unban: { auth: true, handle: groupUnban },
  update_group: { auth: true, handle: updateGroup },
  delete_group: { auth: true, handle: deleteGroup },
  group_send: { auth: true, handle: groupSend },
  // A client acks while it goes on chatting: its next send need not wait for the ack's commit.
  ack: { auth: true, detached: true, handle: ack },
  history: { auth: true, handle: history },
  groups: { auth: true, handle: groups },
  conversations: { auth: true, handle: conversations },
  read: { auth: true, handle: read },
  typing: { auth: true, handle: typing },
  edit: { auth: true, handle: edit },
  delete: { auth: true, handle: deleteOne },
  remove_friend: { auth: true, handle: removeFriend },
  friend_request: { auth: true, handle: friendRequest },
  accept_friend: { auth: true, handle: acceptFriend },
  decline_friend: { auth: true, handle: declineFriend },
  friend_requests: { auth: true, handle: friendRequests },
  block: { auth: true, handle: block },
  unblock: { auth: true, handle: unblock },
  blocked: { auth: true, handle: blocked },
  find_user: { auth: true, handle: findUser },
  change_password: { auth: true, handle: changePassword },
  delete_account: { auth: true, handle: deleteAccount },
};
