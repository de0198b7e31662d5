/** What handlers get: the server's services, the connection, the session. */
import type { Presence } from "../cluster/presence.ts";
import type { Logger } from "../log.ts";
import type { Db } from "../store/db.ts";
import type { AbuseLog } from "./abuse-log.ts";
import type { Conn } from "./conn.ts";
import type { Hub } from "./hub.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import type { MessageWriter } from "./message-writer.ts";
import type { Metrics } from "./metrics.ts";
import type { OutageLatch } from "./outage-latch.ts";
import type { Roster } from "./roster.ts";
import type { Session } from "./session.ts";
import type { Sessions } from "./sessions.ts";

export interface Policy {
  /** Login token lifetime, ms. */
  tokenTtlMs: number;
  /** argon2id cost: memory in KiB and passes. */
  hash: { memoryCost: number; timeCost: number };
  /** Caps, each answered with `limit_reached`. */
  maxFriends: number;
  maxGroupsPerUser: number;
  maxGroupMembers: number;
  /** How long after sending a sender may edit or delete a message, ms; 0 for no bound. */
  editWindowMs: number;
  /** `open`: add_friend makes friends at once; `consent`: it asks, and the other user accepts. */
  friendPolicy: "open" | "consent";
  /** Open outgoing friend requests per user, and blocks per user (limit_reached). */
  maxOutgoingRequests: number;
  maxBlocks: number;
}

/** The services of one server, shared by its handlers. */
export interface Services {
  node: string;
  db: Db;
  /** The one writer of messages and acks (group commit). */
  writer: MessageWriter;
  /** This node's sessions and their caches of friends and groups. */
  roster: Roster;
  /** Starting and ending sessions, and the presence notices that go with them. */
  sessions: Sessions;
  /** Delivery to sessions here and, through the bus, on other nodes. */
  hub: Hub;
  presence: Presence;
  log: Logger;
  /** Bad frames, rate-limit cuts and throttled logins, logged once per burst per connection. */
  abuse: AbuseLog;
  metrics: Metrics;
  /** Failed password logins per account and per address, and the waits they impose. */
  throttle: LoginThrottle;
  policy: Policy;
  /** MySQL's state, for one log line per outage. */
  mysql: OutageLatch;
  /** Friend requests (and add_friend under consent) per user: answered rate_limited past it. */
  requestRate: { take(user: number): boolean };
  /** A hash of nothing, verified against when a login names no user, so both cost the same. */
  dummyHash: string;
}

export interface Ctx {
  services: Services;
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
