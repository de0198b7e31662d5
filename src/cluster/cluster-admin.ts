/**
 * The cluster as `chat admin` sees it through Redis: the live nodes with
 * their figures (redis-presence.ts writes them), where a user has sessions,
 * and envelopes for the nodes that have sessions of a user (end them all; a
 * group of theirs is gone). Reads only, but for those publishes: nothing
 * here changes a node's presence entries.
 */
import { createClient } from "redis";
import { type Envelope, encodeEnvelope, userChannel } from "./envelope.ts";
import { ALIVE_MS, alive, NODES, nodeStats, nodeUsers, userNodes } from "./redis-presence.ts";
import type { Redis } from "./redis-bus.ts";

/** Nodes listed at most: more than any cluster of this design has. */
const MAX_NODES = 1000;

export interface NodeView {
  node: string;
  /** Its heartbeat key is there: the node is alive. False: dead, its entries not yet reaped by the others. */
  alive: boolean;
  /** ms since its last heartbeat (from the key's TTL: no clock of another machine involved). */
  heartbeatAgeMs?: number;
  /** Users with a session on it, as presence counts them. */
  users: number;
  /** What its last heartbeat wrote: connections, sessions, started (ms since the epoch). */
  stats: Record<string, number>;
}

/** Redis did not answer. */
export class RedisUnreachableError extends Error {
  readonly code = "redis_unreachable";
}

export class ClusterAdmin {
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Connects once, without retrying: an operator waits 2 s at most for an answer. */
  static async connect(url: string): Promise<ClusterAdmin> {
    const redis = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false }, disableOfflineQueue: true }) as Redis;
    let last: Error | undefined;
    redis.on("error", (e: Error) => (last = e));
    try {
      await redis.connect();
    } catch (e) {
      const err = (last ?? e) as Error & { code?: string };
      throw new RedisUnreachableError(`${err.message || err.code || String(err)}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ""}`);
    }
    return new ClusterAdmin(redis);
  }

  /** Every node Redis knows of: alive ones (their heartbeat key) and dead ones not yet reaped, by name. */
  async nodes(): Promise<NodeView[]> {
    const names = new Set(await this.#redis.sMembers(NODES));
    const prefix = alive("");
    for await (const keys of this.#redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
      for (const k of keys) names.add(k.slice(prefix.length));
      if (names.size >= MAX_NODES) break;
    }
    const list = [...names].sort().slice(0, MAX_NODES);
    if (list.length === 0) return [];
    const m = this.#redis.multi();
    for (const n of list) m.pTTL(alive(n)).sCard(nodeUsers(n)).hGetAll(nodeStats(n));
    const replies = (await m.exec()) as unknown[];
    return list.map((node, i) => {
      const ttl = Number(replies[3 * i]);
      const users = Number(replies[3 * i + 1]);
      const raw = (replies[3 * i + 2] ?? {}) as Record<string, string>;
      const stats = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
      // PTTL: -2 no key (dead), -1 no expiry (never written so by a node).
      return ttl >= 0 ? { node, alive: true, heartbeatAgeMs: Math.max(0, ALIVE_MS - ttl), users, stats } : { node, alive: false, users, stats };
    });
  }

  /** The live nodes where `user` has a session now. */
  async nodesOf(user: number): Promise<string[]> {
    const nodes = (await this.#redis.sMembers(userNodes(user))).sort();
    const live = await Promise.all(nodes.map((n) => this.#redis.exists(alive(n))));
    return nodes.filter((_, i) => Number(live[i]) === 1);
  }

  /** Publishes `env` to the nodes with sessions of `user`; resolves to how many nodes heard it. */
  async tell(user: number, env: Envelope): Promise<number> {
    return Number(await this.#redis.publish(userChannel(user), encodeEnvelope(env)));
  }

  async close(): Promise<void> {
    await this.#redis.close().catch(() => this.#redis.destroy());
  }
}
