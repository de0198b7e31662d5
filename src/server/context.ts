/** What handlers get: the server's parts, the connection, the session. */
import type { Logger } from "../log.ts";
import type { Db } from "../store/db.ts";
import type { NewMessage } from "../store/messages.ts";
import type { Conn } from "./connection.ts";
import type { Dependency } from "./dependency.ts";
import type { GroupCommit } from "./group-commit.ts";
import type { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";
import type { Presence } from "./presence.ts";
import type { Session } from "./session.ts";

export interface Policy {
  /** Login token lifetime, ms. */
  tokenTtlMs: number;
  /** argon2id cost: memory in KiB and passes. */
  hash: { memoryCost: number; timeCost: number };
  /** Caps, each answered with `limit_reached`. */
  maxFriends: number;
  maxGroupsPerUser: number;
  maxGroupMembers: number;
}

/** One item of a group commit: a message to store or an ack to apply. */
export type Write = { message: NewMessage; ack?: undefined } | { ack: { user: number; mids: number[] }; message?: undefined };

export interface ServerParts {
  node: string;
  db: Db;
  hub: Hub;
  presence: Presence;
  /**
   * Group commits of messages and acks, together in one transaction: a
   * message resolves to its mid, an ack to how many of its mids were pending.
   */
  writes: GroupCommit<Write, number>;
  log: Logger;
  metrics: Metrics;
  /** Hot-path counters: requests by type, error replies by code. */
  count: { request(type: string): void; error(code: string): void };
  policy: Policy;
  /** MySQL's state, for one log line per outage. */
  mysql: Dependency;
  /** A hash of nothing, verified against when a login names no user, so both cost the same. */
  dummyHash: string;
}

export interface Ctx {
  server: ServerParts;
  conn: Conn;
  session: Session | undefined;
  /** Runs after the reply is written, before the connection's next request (login's replay). */
  after?: () => Promise<void>;
}

/** The logged-in session; handlers marked `auth` are only called with one. */
export function sessionOf(ctx: Ctx): Session {
  return ctx.session as Session;
}

/** A push frame as a line. */
export function line(frame: Record<string, unknown>): string {
  return JSON.stringify(frame) + "\n";
}
