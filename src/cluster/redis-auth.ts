/**
 * A Redis that refuses our credentials is a configuration error, not an
 * outage: the bus would reconnect forever and the node would never say why.
 * One connection without retries finds out before the bus starts.
 */
import { createClient } from "redis";

/** Replies that mean "the password (or user) in the URL is wrong or missing". */
const REFUSALS = [/^WRONGPASS/, /^NOAUTH/, /^ERR invalid password/i, /^ERR AUTH/, /^ERR Client sent AUTH, but no password is set/];

/** Redis refused the URL's credentials; the message says what to change. */
export class RedisAuthError extends Error {
  readonly code = "redis_auth";
}

/**
 * Connects once to `url` and sends PING, for at most `timeoutMs`. Throws
 * RedisAuthError when Redis refuses the credentials. Any other outcome (not
 * listening, unreachable, too slow to answer) is left to the bus, which
 * waits for Redis as it does after an outage. `passwordFrom` names the
 * option the password came from, for the message.
 */
export async function checkRedisAuth(url: string, timeoutMs = 2000, passwordFrom = "--redis"): Promise<void> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: timeoutMs } });
  // Without a listener an error event would be thrown; the rejected connect or ping carries the same error.
  client.on("error", () => {});
  let timer: Timer | undefined;
  // A Redis that accepts but never answers (frozen, overloaded) must not hold the start up.
  const slow = new Promise<"slow">((resolve) => (timer = setTimeout(() => resolve("slow"), timeoutMs)));
  const attempt = (async () => {
    await client.connect();
    await client.ping();
  })();
  // Settled after the race is lost to `slow` (the client is destroyed then): nothing left to report.
  attempt.catch(() => {});
  try {
    await Promise.race([attempt, slow]);
  } catch (e) {
    const reply = (e as Error)?.message ?? String(e);
    if (!REFUSALS.some((r) => r.test(reply))) return;
    const hasPassword = new URL(url).password !== "";
    const how = passwordFrom === "--redis" ? "in --redis as redis://:PASSWORD@host:port" : `with ${passwordFrom}`;
    throw new RedisAuthError(
      `redis: ${reply.split("\n")[0]}; ` +
        (hasPassword
          ? `check the password ${passwordFrom === "--redis" ? "in --redis (redis://:PASSWORD@host:port, percent-encoded like a MySQL password)" : `in ${passwordFrom}`}`
          : `this Redis wants a password (requirepass): give it ${how}`),
    );
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}
