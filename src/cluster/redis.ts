/**
 * What `chat server --redis` (or `--redis-sentinels`) uses: the Redis bus,
 * and presence over the same connection.
 */
import type { Logger } from "../log.ts";
import type { PresenceFactory } from "./presence.ts";
import { checkRedisAuth } from "./redis-auth.ts";
import { createRedisBus, type RedisBus } from "./redis-bus.ts";
import { directLink } from "./redis-link.ts";
import { createRedisPresence } from "./redis-presence.ts";
import { askSentinels, type SentinelTarget, sentinelLink } from "./redis-sentinel.ts";

export type { SentinelTarget } from "./redis-sentinel.ts";

/** One Redis by its URL, or the primary that sentinels name. */
export type RedisTarget = string | SentinelTarget;

export interface RedisCluster {
  bus: RedisBus;
  presence: PresenceFactory;
}

/**
 * Throws RedisAuthError at once when Redis refuses the credentials, and
 * UnknownMasterError when the sentinels that answer monitor no primary of
 * that name; waits for a Redis (or sentinels) that are down.
 */
export async function createRedisCluster(target: RedisTarget, node: string, log: Logger, onPublishDropped?: () => void): Promise<RedisCluster> {
  let link;
  if (typeof target === "string") {
    await checkRedisAuth(target);
    link = directLink(target);
  } else {
    const primary = await askSentinels(target);
    if (primary) {
      const url = new URL(`redis://${primary.host.includes(":") ? `[${primary.host}]` : primary.host}:${primary.port}`);
      if (target.password) url.password = encodeURIComponent(target.password);
      await checkRedisAuth(url.toString(), 2000, "--redis-password-file");
    }
    link = sentinelLink(target);
  }
  const bus = await createRedisBus(link, { log, onPublishDropped });
  return { bus, presence: createRedisPresence(bus, node, log) };
}
