/** What `chat server --redis` uses: the Redis bus, and presence over the same connection. */
import type { Logger } from "../log.ts";
import type { PresenceFactory } from "./presence.ts";
import { checkRedisAuth } from "./redis-auth.ts";
import { createRedisBus, type RedisBus } from "./redis-bus.ts";
import { createRedisPresence } from "./redis-presence.ts";

export interface RedisCluster {
  bus: RedisBus;
  presence: PresenceFactory;
}

/** Throws RedisAuthError at once when Redis refuses the URL's credentials; waits for a Redis that is down. */
export async function createRedisCluster(url: string, node: string, log: Logger, onPublishDropped?: () => void): Promise<RedisCluster> {
  await checkRedisAuth(url);
  const bus = await createRedisBus(url, { log, onPublishDropped });
  return { bus, presence: createRedisPresence(bus, node, log) };
}
