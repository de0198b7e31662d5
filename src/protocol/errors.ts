/**
 * Protocol errors: one class per failure, each with the stable `code` that the
 * `error` frame carries. Handlers throw these; the dispatcher turns them into
 * frames. Anything else thrown becomes `internal` (or `unavailable` when a
 * backing service is down) and is logged.
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ChatError";
  }
}

/** Every code the server sends, PROTOCOL.md's and this server's extensions. */
export const ERROR_CODES = [
  "bad_frame",
  "frame_too_large",
  "unknown_type",
  "not_logged_in",
  "rate_limited",
  "unavailable",
  "internal",
  "invalid",
  "name_taken",
  "bad_credentials",
  "already_logged_in",
  "no_such_user",
  "already_friends",
  "not_friend",
  "group_name_taken",
  "no_such_group",
  "already_member",
  "not_member",
  // extensions
  "limit_reached", // a cap (friends, groups, members) would be exceeded
  "shutting_down", // the server is stopping; reconnect (to another node)
  "output_overflow", // the connection's unsent output passed its limit
  "idle_timeout", // nothing received for too long
  // version 1.1
  "forbidden", // the requester's role does not allow it
  "too_late", // past the edit window
  "no_such_message", // no message the requester is a party to has this mid
  "no_such_request", // no open friend request from that user
  "blocked", // one of the two users blocks the other
  "account_deleted", // (no re) the account was deleted: every session of it ends
  "banned", // an operator banned the account: its sessions end, its logins fail
] as const;



/** `fail("not_friend", "user 8 is not your friend")`: the one way handlers reject. */
export function fail(code: ErrorCode, message: string): never {
  throw new ChatError(code, message);
}

export function isChatError(e: unknown): e is ChatError {
  return e instanceof ChatError;
}
