/**
 * Cluster-wide online state in Redis that cannot go stale.
 *
 *   chat:alive:<node>       exists while <node> heartbeats (TTL ALIVE_MS)
 *   chat:nodes              every node that has registered sessions
 *   chat:node:<node>:users  users with a session on <node>
 *   chat:user:<id>:nodes    nodes where user <id> has a session
 *   chat:stats:<node>       a hash of <node>'s figures, for `chat admin nodes`:
 *                           connections, sessions, users, started (ms since
 *                           the epoch), heartbeat (ms); written with each
 *                           heartbeat, gone with the heartbeat key (TTL ALIVE_MS)
 *
 * A user is online when one of their nodes is alive. Each node writes only its
 * own entries. When a node stops heartbeating, the first live node to notice
 * (one per dead node, by a lock) removes the dead node's entries and tells the
 * friends of its users who are now offline; so a SIGKILLed node's users go
 * offline within ALIVE_MS + SCAN_MS. A node that finds its own entries reaped
 * (it was cut off from Redis too long) or Redis emptied (restart) writes them
 * again.
 */
import type { Logger } from "../log.ts";
import { NodeIdInUseError, type Presence, type PresenceFactory } from "./presence.ts";
import type { RedisBus } from "./redis-bus.ts";

/** A node counts as dead this long after its last heartbeat. */
export const ALIVE_MS = 9000;
export const HEARTBEAT_MS = 2000;
/** How often each node looks for dead ones. */
const SCAN_MS = 2000;
/** How long a login waits for its user's channel subscription before it goes on without it. */
const LISTEN_WAIT_MS = 2000;

export const alive = (node: string) => `chat:alive:${node}`;
export const nodeUsers = (node: string) => `chat:node:${node}:users`;
export const userNodes = (user: number | string) => `chat:user:${user}:nodes`;
export const nodeStats = (node: string) => `chat:stats:${node}`;
/** Every node with sessions registered (alive or not yet reaped). */
export const NODES = "chat:nodes";

// ARGV[1] node; ARGV[2] user. Adds (or with ARGV[3]=="down", removes) the pair and
// returns how many *other* live nodes the user has sessions on.
const CHANGE = `
local node, user = ARGV[1], ARGV[2]
if ARGV[3] == 'down' then
  redis.call('SREM', 'chat:user:' .. user .. ':nodes', node)
  redis.call('SREM', 'chat:node:' .. node .. ':users', user)
else
  redis.call('SADD', 'chat:nodes', node)
  redis.call('SADD', 'chat:user:' .. user .. ':nodes', node)
  redis.call('SADD', 'chat:node:' .. node .. ':users', user)
end
local others = 0
for _, n in ipairs(redis.call('SMEMBERS', 'chat:user:' .. user .. ':nodes')) do
  if n ~= node and redis.call('EXISTS', 'chat:alive:' .. n) == 1 then others = others + 1 end
end
return others`;

// ARGV: user ids. Returns those with a session on a live node.
const ONLINE = `
local out, live = {}, {}
for _, user in ipairs(ARGV) do
  for _, n in ipairs(redis.call('SMEMBERS', 'chat:user:' .. user .. ':nodes')) do
    if live[n] == nil then live[n] = redis.call('EXISTS', 'chat:alive:' .. n) == 1 end
    if live[n] then out[#out + 1] = user; break end
  end
end
return out`;

// KEYS none; ARGV[1] dead node. Removes its entries; returns its users now on no live node.
const REAP = `
local dead = ARGV[1]
local gone = {}
for _, user in ipairs(redis.call('SMEMBERS', 'chat:node:' .. dead .. ':users')) do
  redis.call('SREM', 'chat:user:' .. user .. ':nodes', dead)
  local live = false
  for _, n in ipairs(redis.call('SMEMBERS', 'chat:user:' .. user .. ':nodes')) do
    if redis.call('EXISTS', 'chat:alive:' .. n) == 1 then live = true; break end
  end
  if not live then gone[#gone + 1] = user end
end
redis.call('DEL', 'chat:node:' .. dead .. ':users')
redis.call('SREM', 'chat:nodes', dead)
return gone`;

export function createRedisPresence(bus: RedisBus, node: string, log: Logger): PresenceFactory {
  return (host): Presence => {
    const redis = bus.client;
    let closed = false;

    const run = async (script: string, args: (string | number)[]) =>
      redis.eval(script, { keys: [], arguments: args.map(String) }) as Promise<unknown>;

    const startedAt = Date.now();
    /** The node's figures for operators: one small hash, rewritten with each heartbeat. */
    const writeStats = async (beat: number) => {
      const figures = host.stats?.() ?? {};
      await redis
        .multi()
        .hSet(nodeStats(node), { ...figures, started: startedAt, heartbeat: beat })
        .pExpire(nodeStats(node), ALIVE_MS)
        .exec();
    };

    const heartbeat = async () => {
      const beat = Date.now();
      await redis.set(alive(node), String(beat), { PX: ALIVE_MS } as never);
      await writeStats(beat);
      // Reaped while cut off, or Redis restarted empty: write this node's sessions again.
      const registered = await redis.sIsMember("chat:nodes", node);
      if (!registered && !isEmpty(host.localUsers())) await resync("re-registered");
    };

    /** Writes every local session's user to Redis (after a reconnect, a reap or a Redis restart). */
    const resync = async (why: string) => {
      const users = [...host.localUsers()];
      await redis.set(alive(node), String(Date.now()), { PX: ALIVE_MS } as never);
      const m = redis.multi();
      m.sAdd("chat:nodes", node);
      for (const u of users) {
        m.sAdd(userNodes(u), node);
        m.sAdd(nodeUsers(node), String(u));
      }
      await m.exec();
      log.info("presence_resync", { node, users: users.length, why });
    };

    const scan = async () => {
      const nodes = await redis.sMembers("chat:nodes");
      for (const n of nodes) {
        if (n === node || (await redis.exists(alive(n)))) continue;
        // One reaper per dead node: the lock outlives the reap, so nobody repeats it.
        const got = await redis.set(`chat:reap:${n}`, node, { NX: true, PX: 30_000 } as never);
        if (got !== "OK") continue;
        const gone = ((await run(REAP, [n])) as string[]).map(Number);
        log.warn("node_dead", { dead: n, offline_users: gone.length, reaped_by: node });
        for (const u of gone) if (!host.isLocal(u)) await host.wentOffline(u);
      }
    };

    /**
     * Takes this node's id in the cluster. A heartbeat key that is still
     * there is either a previous run of this node (crashed less than ALIVE_MS
     * ago: its entries are this node's to clean up) or another live node
     * given the same id by mistake: a key that changes within one heartbeat
     * interval is a live node's, and this one must not start.
     */
    const claim = async () => {
      const before = await redis.get(alive(node));
      if (before !== null) {
        await Bun.sleep(HEARTBEAT_MS + 500);
        const after = await redis.get(alive(node));
        if (after !== null && after !== before) throw new NodeIdInUseError(node);
      }
      const gone = ((await run(REAP, [node])) as string[]).map(Number);
      if (gone.length) log.info("previous_run_reaped", { node, offline_users: gone.length });
      for (const u of gone) await host.wentOffline(u);
      const beat = Date.now();
      await redis.set(alive(node), String(beat), { PX: ALIVE_MS } as never);
      claimed = true;
      await writeStats(beat);
    };

    const safely = (what: string, fn: () => Promise<unknown>) => () => {
      if (closed || bus.state !== "up") return;
      fn().catch((e) => log.warn(`presence_${what}_failed`, { error: e }));
    };
    // Nothing is written to Redis before this node has claimed its id.
    let claimed = false;
    const whenClaimed = (what: string, fn: () => Promise<unknown>) => safely(what, async () => claimed && fn());
    const hb = setInterval(whenClaimed("heartbeat", heartbeat), HEARTBEAT_MS);
    const sc = setInterval(whenClaimed("scan", scan), SCAN_MS);
    hb.unref();
    sc.unref();
    let started = false;
    let first = true;
    const onUp = () => {
      if (!started) return;
      if (first) {
        // Sessions that logged in while Redis was down missed what other nodes published meanwhile.
        host.busReturned();
        // Redis was down when the node started: claim the id now.
        first = false;
        claim().catch((e) => {
          if (e instanceof NodeIdInUseError) {
            log.error("node_id_in_use", { node, error: e.message });
            closed = true; // never touch the other node's entries
          } else log.warn("presence_startup_failed", { error: e });
        });
      } else {
        // Announcements of other nodes' logins may have been lost meanwhile.
        host.busReturned();
        safely("resync", () => resync("redis reconnected"))();
      }
    };
    bus.onReady(onUp);

    // A user's ups and downs on this node reach Redis in the order they happened:
    // a login whose connection closes while its "up" waits must not register
    // the user after the "down" of that same session.
    const chains = new Map<number, Promise<unknown>>();
    const inTurn = <X>(user: number, fn: () => Promise<X>): Promise<X> => {
      const next = (chains.get(user) ?? Promise.resolve()).then(fn, fn);
      chains.set(user, next);
      const forget = () => {
        if (chains.get(user) === next) chains.delete(user);
      };
      next.then(forget, forget);
      return next;
    };

    return {
      async start() {
        started = true;
        if (bus.state !== "up") return; // claimed when Redis is back (onUp)
        first = false;
        await claim();
      },
      up: (user, firstLocal) => inTurn(user, async () => {
        if (!firstLocal) return false;
        if (bus.state !== "up") return true;
        try {
          // Whether this node may skip publishing a user's own messages to their
          // other sessions ("only here") rests on two orders. This node listens
          // on the user's channel before it registers; every node announces
          // itself there only after registering. Of two nodes logging the user
          // in at once, the one that registers second sees the first, and the
          // first hears the second's announcement.
          // (A subscription that does not complete soon leaves the user "maybe elsewhere".)
          const listening = await Promise.race([host.listening(user).then(() => true), Bun.sleep(LISTEN_WAIT_MS).then(() => false)]);
          const others = await run(CHANGE, [node, user, "up"]);
          host.announce(user);
          if (others !== 0) return false;
          if (listening) host.onlyHere(user);
          return true;
        } catch (e) {
          log.warn("presence_up_failed", { error: e });
          return true;
        }
      }),
      down: (user, lastLocal) => inTurn(user, async () => {
        if (!lastLocal) return false;
        if (bus.state !== "up") return true;
        try {
          return (await run(CHANGE, [node, user, "down"])) === 0;
        } catch (e) {
          log.warn("presence_down_failed", { error: e });
          return true;
        }
      }),
      async online(users) {
        const local = new Set(users.filter((u) => host.isLocal(u)));
        if (users.length === 0 || bus.state !== "up") return local;
        try {
          for (const u of (await run(ONLINE, users)) as string[]) local.add(Number(u));
        } catch (e) {
          log.warn("presence_online_failed", { error: e });
        }
        return local;
      },
      async close() {
        closed = true;
        clearInterval(hb);
        clearInterval(sc);
        // A clean stop: this node's sessions have ended; it is no longer alive.
        // (A node that never claimed its id has nothing here: the entries may be another live node's.)
        if (!claimed || bus.state !== "up") return;
        // Best effort: if this fails, the others reap this node once its heartbeat key expires.
        await Promise.all([redis.del([alive(node), nodeUsers(node), nodeStats(node)]), redis.sRem("chat:nodes", node)]).catch((e) =>
          log.debug("presence_close_failed", { error: e }),
        );
      },
    };
  };
}

function isEmpty(it: Iterable<unknown>): boolean {
  for (const _ of it) return false;
  return true;
}
