/**
 * The bus's link through Redis Sentinel: the sentinels name the primary,
 * node-redis's Sentinel client (`createSentinel`) connects to it, moves to
 * the promoted replica when the sentinels fail over, and moves the
 * subscriptions with it.
 *
 * What node-redis does not say is when the primary is gone: until the
 * sentinels agree it is down (`down-after-milliseconds`) and have promoted
 * a replica, its client still calls itself ready, and a command sent
 * meanwhile waits for the failover. The bus must instead fail fast and, once
 * Redis is back, run its return hooks (presence writes this node's sessions
 * again, which the promoted replica may not have had; caches are re-read),
 * exactly as after an outage of a single Redis. So the link is `up` only
 * while node-redis is ready and the primary has not failed since; after a
 * failure a probe asks the sentinels which node is primary now and sends it
 * a PING, and the link is up again once that answers and node-redis has
 * reached the same node.
 */
import { createClient, createSentinel } from "redis";
import type { Redis, RedisLink } from "./redis-link.ts";
import { reconnectStrategy } from "./redis-link.ts";

export interface RedisNode {
  host: string;
  port: number;
}

export interface SentinelTarget {
  /** Sentinels to ask (`--redis-sentinels`); one that answers is enough. */
  sentinels: RedisNode[];
  /** The name the sentinels monitor the primary under (`--redis-master`). */
  master: string;
  /** The primary's and the replicas' password (their `requirepass`), if any. */
  password?: string;
}

/** How often a link that lost its primary asks again. */
const PROBE_MS = 250;
/** How long a starting node waits for the first connection before it serves without Redis (and keeps trying). */
const FIRST_CONNECT_MS = 3000;
/** How long one question to a sentinel or the primary may take. */
const ASK_MS = 1000;

/** None of the sentinels that answered monitors a primary of that name: a configuration error. */
export class UnknownMasterError extends Error {
  readonly code = "redis_unknown_master";
}

async function oneShot<T>(node: RedisNode, password: string | undefined, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = createClient({ socket: { host: node.host, port: node.port, connectTimeout: ASK_MS, reconnectStrategy: false }, password }) as Redis;
  // The rejected connect or command carries the same error.
  c.on("error", () => {});
  let timer: Timer | undefined;
  try {
    return await Promise.race([
      (async () => {
        await c.connect();
        return fn(c);
      })(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${node.host}:${node.port} did not answer within ${ASK_MS} ms`)), ASK_MS))),
    ]);
  } finally {
    clearTimeout(timer);
    c.destroy();
  }
}

/**
 * Where the sentinels say the primary is now: the first sentinel that
 * answers decides. Undefined when none answers; UnknownMasterError when
 * those that answer do not know the name.
 */
export async function askSentinels(t: SentinelTarget): Promise<RedisNode | undefined> {
  let unknown = 0;
  for (const s of t.sentinels) {
    try {
      const reply = await oneShot(s, undefined, (c) => c.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", t.master]));
      if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
      unknown++;
    } catch {
      // This sentinel is down or slow: the next one may answer.
    }
  }
  if (unknown > 0)
    throw new UnknownMasterError(`the sentinels (${t.sentinels.map((s) => `${s.host}:${s.port}`).join(", ")}) monitor no primary named "${t.master}"; check --redis-master and their sentinel.conf`);
  return undefined;
}

/** Whether `node` answers as a primary (not a replica, not loading). */
async function isPrimary(node: RedisNode, password: string | undefined): Promise<boolean> {
  try {
    const role = await oneShot(node, password, (c) => c.sendCommand(["ROLE"]));
    return Array.isArray(role) && role[0] === "master";
  } catch {
    return false; // not reachable yet
  }
}

export function sentinelLink(t: SentinelTarget): RedisLink {
  const sentinel = createSentinel({
    name: t.master,
    sentinelRootNodes: t.sentinels,
    // No disableOfflineQueue here: the bus never sends a publish while the link is down, and a
    // subscription made meanwhile must wait for the primary rather than fail.
    nodeClientOptions: { password: t.password, socket: { reconnectStrategy, connectTimeout: 2000 }, pingInterval: 5000 },
    // Ask the sentinels for the topology now and then too, besides their failover announcements.
    scanInterval: 5000,
  });
  const changeHooks: (() => void)[] = [];
  const errorHooks: ((e: unknown) => void)[] = [];
  const changed = () => {
    for (const fn of changeHooks) fn();
  };
  let lost = false;
  let closed = false;
  let probing: Promise<void> | undefined;

  const probe = async () => {
    while (lost && !closed) {
      await Bun.sleep(PROBE_MS);
      const primary = await askSentinels(t).catch(() => undefined); // an unknown name now is the sentinels' transient state
      if (!primary || !(await isPrimary(primary, t.password))) continue;
      const known = sentinel.getMasterNode();
      // The sentinels moved the primary but node-redis has not followed yet: any command makes it look again.
      if (known?.host !== primary.host || known.port !== primary.port || !sentinel.isReady) {
        void sentinel.ping().catch((e: unknown) => errorHooks.forEach((fn) => fn(e)));
        continue;
      }
      // Node-redis's own connection to it is back too (it reconnects on its own schedule).
      const ok = await Promise.race([sentinel.ping().then(() => true, () => false), Bun.sleep(ASK_MS).then(() => false)]);
      if (ok) lost = false;
    }
    probing = undefined;
    changed();
  };
  const lose = () => {
    if (closed) return;
    if (!lost) {
      lost = true;
      changed();
    }
    probing ??= probe();
  };

  sentinel.on("error", (e: unknown) => errorHooks.forEach((fn) => fn(e)));
  sentinel.on("client-error", (ev: { type: string; error: unknown }) => {
    errorHooks.forEach((fn) => fn(ev.error));
    if (ev.type === "MASTER" || ev.type === "PUBSUBPROXY") lose();
  });
  // A failover node-redis noticed (it drops its readiness while it moves to the new primary).
  sentinel.on("reconnecting", lose);
  sentinel.on("end", changed);
  sentinel.on("ready", changed);

  const connectOnce = async () => {
    await sentinel.connect();
    changed();
  };
  return {
    client: sentinel as unknown as Redis, // the same commands, MULTI and SCAN as a client's; presence uses nothing else
    get up() {
      return sentinel.isReady && !lost && !closed;
    },
    async connect() {
      // node-redis gives up on a first connect after a few rounds of a second each; a node
      // waits for Redis as long as it takes, but starts serving its own sessions meanwhile.
      const connecting = (async () => {
        for (let delay = 500; !closed; delay = Math.min(delay * 2, 5000)) {
          try {
            return await connectOnce();
          } catch (e) {
            errorHooks.forEach((fn) => fn(e));
          }
          await Bun.sleep(delay);
        }
      })();
      let timer: Timer | undefined;
      const slow = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no sentinel of ${t.sentinels.map((n) => `${n.host}:${n.port}`).join(",")} led to the primary within ${FIRST_CONNECT_MS} ms; still trying`)), FIRST_CONNECT_MS)));
      try {
        await Promise.race([connecting, slow]);
      } finally {
        clearTimeout(timer);
      }
    },
    subscribe: (channel, listener) => sentinel.subscribe(channel, listener),
    unsubscribe: (channel, listener) => sentinel.unsubscribe(channel, listener as (m: unknown, c: unknown) => void),
    onChange(fn) {
      changeHooks.push(fn);
    },
    onError(fn) {
      errorHooks.push(fn);
    },
    async close() {
      closed = true;
      await sentinel.close().catch(() => sentinel.destroy());
    },
  };
}
