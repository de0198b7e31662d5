/**
 * Chat servers for tests, in-process (startTestServer: real sockets, real
 * MariaDB, a fresh database each); node.ts starts them as child processes
 * (spawnNode) when a test must kill one.
 */
import type { Pool } from "../../pool/index.ts";
import { createServerPool, createWriterPool } from "../../src/store/server-pool.ts";
import { type Bus, createLocalBus } from "../../src/cluster/bus.ts";
import { createRedisCluster } from "../../src/cluster/redis.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { type ChatServer, type ServerOptions, startServer } from "../../src/server/server.ts";
import { freshDatabase, redisUrl } from "./db.ts";
import { CHEAP_HASH } from "./node.ts";
import { Wire } from "./wire.ts";

export interface TestServer {
  server: ChatServer;
  pool: Pool;
  bus: Bus;
  dbUrl: string;
  port: number;
  connect(): Promise<Wire>;
  stop(): Promise<void>;
}

const log = process.env.CHAT_TEST_LOG ? createLogger("debug") : silentLogger;

export async function startTestServer(
  opts: Partial<ServerOptions> & { dbUrl?: string; redis?: boolean; node?: string } = {},
): Promise<TestServer> {
  const dbUrl = opts.dbUrl ?? (await freshDatabase());
  const pool = createServerPool({ uri: dbUrl, maxSize: 8, initSize: 1 });
  const writerPool = createWriterPool({ uri: dbUrl });
  const metrics = new Metrics();
  const node = opts.node ?? "t1";
  let bus: Bus = createLocalBus();
  let presence;
  if (opts.redis) {
    ({ bus, presence } = await createRedisCluster(redisUrl(), node, log));
  }
  const server = await startServer(
    { host: "127.0.0.1", port: 0, hash: CHEAP_HASH, ...opts, node },
    { db: pool, writerDb: writerPool, bus, log, metrics, presence },
  );
  return {
    server,
    pool,
    bus,
    dbUrl,
    port: server.port,
    connect: () => Wire.connect(server.port),
    async stop() {
      await server.stop();
      await bus.close();
      await Promise.all([pool.close(), writerPool.close()]);
    },
  };
}

/**
 * Registers `name` (unless taken) and logs in on a new connection; returns the
 * connection, the user id, the token and the login reply.
 */
export async function user(port: number, name: string, password = "password-1"): Promise<{ w: Wire; id: number; token: string; login: Record<string, any> }> {
  const w = await Wire.connect(port);
  await w.req({ type: "register", name, password }); // name_taken is fine: log in as that user
  const login = await w.ok({ type: "login", name, password });
  return { w, id: login.user.id, token: login.token, login };
}

/** Unique names per test run, so tests can share a database when they want to. */
let n = 0;
export function uniq(prefix = "u"): string {
  return `${prefix}${process.pid % 10000}_${++n}`;
}
