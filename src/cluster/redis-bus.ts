/**
 * The bus over Redis: pub/sub on per-user and per-group channels, the
 * subscriber on its own connection. Redis is the fast path only; when it is
 * down the node keeps serving its own sessions, publishes fail fast (the
 * messages are pending in MySQL anyway), and node-redis reconnects and
 * resubscribes by itself.
 */
import { createClient, type RedisClientType } from "redis";
import type { Logger } from "../log.ts";
import type { Bus } from "./bus.ts";

export type Redis = RedisClientType;

export interface RedisBus extends Bus {
  /** The command connection, shared with presence. */
  readonly client: Redis;
  /** Calls `fn` every time both connections are (again) ready. */
  onReady(fn: () => void): void;
}

/** Reconnect after 50 ms, doubling to 2 s, with jitter so nodes do not reconnect in step. */
function reconnectStrategy(retries: number): number {
  const base = Math.min(2000, 50 * 2 ** retries);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export interface RedisBusOptions {
  log: Logger;
  /** Called for each publish skipped or failed while Redis was down (a metric). */
  onPublishDropped?: () => void;
}

export async function createRedisBus(url: string, { log, onPublishDropped = () => {} }: RedisBusOptions): Promise<RedisBus> {
  // Publishes while Redis is down fail at once instead of piling up in memory.
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 2000 }, pingInterval: 5000 }) as Redis;
  const sub = client.duplicate({ disableOfflineQueue: false }) as Redis;
  let handler: (channel: string, message: string) => void = () => {};
  const readyHooks: (() => void)[] = [];
  let wasUp = false;
  let closing = false;

  const transition = () => {
    const up = client.isReady && sub.isReady;
    if (up === wasUp || closing) return;
    wasUp = up;
    if (up) {
      log.info("redis_up", {});
      for (const fn of readyHooks) fn();
    } else log.warn("redis_down", {});
  };
  for (const c of [client, sub]) {
    // Errors come with every failed reconnect; the state change is what operators need.
    c.on("error", (e: Error) => log.debug("redis_error", { error: e }));
    c.on("ready", transition);
    c.on("end", transition);
    c.on("reconnecting", transition);
  }
  const listener = (message: string, channel: string) => handler(channel, message);
  const subscribed = new Map<string, Promise<void>>();

  // The first connect is retried by the strategy too; wait for it, but not forever.
  await Promise.all([client.connect(), sub.connect()]).catch((e) => log.warn("redis_connect_failed", { error: e }));
  transition();

  return {
    client,
    get state() {
      return client.isReady && sub.isReady ? "up" : "down";
    },
    publish(channel, message) {
      if (!client.isReady) {
        onPublishDropped();
        return;
      }
      client.publish(channel, message).catch((e) => {
        onPublishDropped();
        log.debug("redis_publish_failed", { error: e });
      });
    },
    subscribe(channel) {
      let done = subscribed.get(channel);
      if (!done) {
        done = sub.subscribe(channel, listener).catch((e) => log.warn("redis_subscribe_failed", { channel, error: e }));
        subscribed.set(channel, done);
      }
      return done;
    },
    unsubscribe(channel) {
      if (!subscribed.delete(channel)) return;
      sub.unsubscribe(channel, listener).catch((e) => log.debug("redis_unsubscribe_failed", { channel, error: e }));
    },
    onMessage(fn) {
      handler = fn;
    },
    onReady(fn) {
      readyHooks.push(fn);
    },
    async close() {
      closing = true;
      await Promise.allSettled([client.close(), sub.close()]);
    },
  };
}
