/**
 * Online state. A user is online while at least one session is alive on a
 * live node. The single-node version counts local sessions; the cluster
 * version (src/bus/redis-presence.ts) keeps them in Redis with node heartbeats.
 */
import type { Hub } from "./hub.ts";

export interface Presence {
  /** A session of `user` started here (`firstLocal`: the first on this node). True when the user just came online. */
  up(user: number, firstLocal: boolean): Promise<boolean>;
  /** A session of `user` ended here (`lastLocal`: it was the last on this node). True when the user just went offline. */
  down(user: number, lastLocal: boolean): Promise<boolean>;
  /** Which of `users` are online. */
  online(users: number[]): Promise<Set<number>>;
  close(): Promise<void>;
}

export function createLocalPresence(hub: Hub): Presence {
  return {
    up: async (_user, firstLocal) => firstLocal,
    down: async (_user, lastLocal) => lastLocal,
    online: async (users) => new Set(users.filter((u) => hub.sessionsOf(u)?.size)),
    async close() {},
  };
}
