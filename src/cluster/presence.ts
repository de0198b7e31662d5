/**
 * Online state. A user is online while at least one session is alive on a
 * live node. The single-node version counts local sessions; the cluster
 * version (redis-presence.ts) keeps them in Redis with node heartbeats.
 */

export interface Presence {
  /**
   * Joins the cluster's presence: after this the node counts its sessions.
   * Rejects with NodeIdInUseError when a live node already has this node's id.
   */
  start(): Promise<void>;
  /** A session of `user` started here (`firstLocal`: the first on this node). True when the user just came online. */
  up(user: number, firstLocal: boolean): Promise<boolean>;
  /** A session of `user` ended here (`lastLocal`: it was the last on this node). True when the user just went offline. */
  down(user: number, lastLocal: boolean): Promise<boolean>;
  /** Which of `users` are online. */
  online(users: number[]): Promise<Set<number>>;
  close(): Promise<void>;
}

/** What presence needs to know of, and tell, the node it runs on. */
export interface PresenceHost {
  /** Users with a session on this node now. */
  localUsers(): Iterable<number>;
  /** Whether `user` has a session on this node now. */
  isLocal(user: number): boolean;
  /** Resolves once pushes for `user` from other nodes reach this one. */
  listening(user: number): Promise<void>;
  /** Tells the nodes that already have sessions of `user` that this one has some too. */
  announce(user: number): void;
  /** No other node has sessions of `user`. */
  onlyHere(user: number): void;
  /** Redis is back after an outage: what this node knew of other nodes, and what they changed meanwhile, may be stale. */
  busReturned(): void;
  /** `user`'s last session was on a node that died: their friends must hear they are offline. */
  wentOffline(user: number): Promise<void>;
  /** The node's figures now (connections, sessions, users), shown by `chat admin nodes`. */
  stats?(): Record<string, number>;
}

/** Builds a node's presence once the node can answer for itself. */
export type PresenceFactory = (host: PresenceHost) => Presence;

/** Another node that is alive (its heartbeat is fresh) has this node's id. */
export class NodeIdInUseError extends Error {
  readonly code = "node_id_in_use";
  constructor(readonly node: string) {
    super(`node id "${node}" is in use by a live node (its heartbeat in Redis is fresh); give this node another id with --node (or CHAT_NODE)`);
  }
}

export const createLocalPresence: PresenceFactory = (host) => ({
  async start() {},
  up: async (_user, firstLocal) => firstLocal,
  down: async (_user, lastLocal) => lastLocal,
  online: async (users) => new Set(users.filter((u) => host.isLocal(u))),
  async close() {},
});
