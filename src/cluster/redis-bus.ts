/**
 * The bus over Redis: pub/sub on per-user and per-group channels, the
 * subscriber on its own connection (redis-link.ts: one Redis, or the primary
 * that the sentinels name). Redis is the fast path only; when it is down,
 * or while the sentinels move the primary, the node keeps serving its own
 * sessions, publishes fail fast (the messages are pending in MySQL anyway),
 * and the link reconnects and resubscribes by itself. Every return of Redis,
 * a failover's included, goes through the same `onReady` hooks.
 */
import type { Logger } from "../log.ts";
import type { Bus } from "./bus.ts";
import type { Redis, RedisLink } from "./redis-link.ts";

export type { Redis } from "./redis-link.ts";

export interface RedisBus extends Bus {
  /** The command connection, shared with presence. */
  readonly client: Redis;
  /** Calls `fn` every time both connections are (again) ready. */
  onReady(fn: () => void): void;
}

export interface RedisBusOptions {
  log: Logger;
  /** Called for each publish skipped or failed while Redis was down (a metric). */
  onPublishDropped?: () => void;
}

export async function createRedisBus(link: RedisLink, { log, onPublishDropped = () => {} }: RedisBusOptions): Promise<RedisBus> {
  const { client } = link;
  let handler: (channel: string, message: string) => void = () => {};
  const readyHooks: (() => void)[] = [];
  let wasUp = false;
  let closing = false;
  const listener = (message: string, channel: string) => handler(channel, message);
  const subscribed = new Map<string, Promise<void>>();
  /** Channels whose SUBSCRIBE failed: tried again when Redis is back, or the channel's sessions would hear nothing from other nodes. */
  const failed = new Set<string>();

  const subscribe = (channel: string) =>
    link.subscribe(channel, listener).then(
      () => void failed.delete(channel),
      (e) => {
        if (subscribed.has(channel)) failed.add(channel);
        log.warn("redis_subscribe_failed", { channel, error: e });
      },
    );

  const transition = () => {
    const up = link.up;
    if (up === wasUp || closing) return;
    wasUp = up;
    if (up) {
      log.info("redis_up", {});
      for (const channel of failed) if (subscribed.has(channel)) subscribed.set(channel, subscribe(channel));
      for (const fn of readyHooks) fn();
    } else log.warn("redis_down", {});
  };
  // Errors come with every failed reconnect; the state change is what operators need.
  link.onError((e) => log.debug("redis_error", { error: e }));
  link.onChange(transition);

  // The first connect is retried by the link too; wait for it, but not forever.
  await link.connect().catch((e) => log.warn("redis_connect_failed", { error: e }));
  transition();

  return {
    client,
    get state() {
      return link.up ? "up" : "down";
    },
    publish(channel, message) {
      if (!link.up) {
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
        done = subscribe(channel);
        subscribed.set(channel, done);
      }
      return done;
    },
    unsubscribe(channel) {
      failed.delete(channel);
      if (!subscribed.delete(channel)) return;
      link.unsubscribe(channel, listener).catch((e) => log.debug("redis_unsubscribe_failed", { channel, error: e }));
    },
    onMessage(fn) {
      handler = fn;
    },
    onReady(fn) {
      readyHooks.push(fn);
    },
    async close() {
      closing = true;
      await link.close();
    },
  };
}
