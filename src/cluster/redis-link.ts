/**
 * The bus's connections to Redis, wherever Redis is: one for commands
 * (publishes, and presence's scripts) and one that subscribes. Either to one
 * Redis named by a URL (this file), or to whichever Redis the sentinels name
 * the primary (redis-sentinel.ts). The bus above them is the same: it asks
 * `up`, and hears when that may have changed.
 */
import { createClient, type RedisClientType } from "redis";

export type Redis = RedisClientType;

export type Listener = (message: string, channel: string) => void;

export interface RedisLink {
  /** Commands, shared by the bus's publishes and presence. */
  readonly client: Redis;
  /** Commands and the subscription are usable now. */
  readonly up: boolean;
  /** Connects; resolves once connected, or rejects when the first attempt gave up (the link keeps trying). */
  connect(): Promise<void>;
  subscribe(channel: string, listener: Listener): Promise<unknown>;
  unsubscribe(channel: string, listener: Listener): Promise<unknown>;
  /** `fn` runs whenever `up` may have changed. */
  onChange(fn: () => void): void;
  /** Failures along the way (each failed reconnect): for the debug log. */
  onError(fn: (e: unknown) => void): void;
  close(): Promise<void>;
}

/** Reconnect after 50 ms, doubling to 2 s, with jitter so nodes do not reconnect in step. */
export function reconnectStrategy(retries: number): number {
  const base = Math.min(2000, 50 * 2 ** retries);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** One Redis at `url`: node-redis reconnects and resubscribes by itself. */
export function directLink(url: string): RedisLink {
  // Publishes while Redis is down fail at once instead of piling up in memory.
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: 2000 }, pingInterval: 5000 }) as Redis;
  // Subscriptions made while Redis is down wait for it: they are wanted once it is back.
  const sub = client.duplicate({ disableOfflineQueue: false }) as Redis;
  return {
    client,
    get up() {
      return client.isReady && sub.isReady;
    },
    async connect() {
      await Promise.all([client.connect(), sub.connect()]);
    },
    subscribe: (channel, listener) => sub.subscribe(channel, listener),
    unsubscribe: (channel, listener) => sub.unsubscribe(channel, listener),
    onChange(fn) {
      for (const c of [client, sub]) for (const event of ["ready", "end", "reconnecting"]) c.on(event, fn);
    },
    onError(fn) {
      for (const c of [client, sub]) c.on("error", fn);
    },
    async close() {
      await Promise.allSettled([client.close(), sub.close()]);
    },
  };
}
