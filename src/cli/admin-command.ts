/**
 * `chat admin`: an operator's commands against a running cluster, with the
 * server's own database and Redis options (and its config file): find and
 * show users, reset a password, ban and unban, delete a group, list the live
 * nodes, the overall figures. Nothing here prints a password hash or a token.
 *
 * Exit codes: 0 done, 1 a user or group that does not exist (or the database
 * or Redis failed), 2 a usage error.
 */
import { hostname } from "node:os";
import type { ClusterAdmin } from "../cluster/cluster-admin.ts";
import type { Envelope } from "../cluster/envelope.ts";
import { ChatError } from "../protocol/errors.ts";
import { validateRequest } from "../protocol/schema.ts";
import { redact } from "../server/run.ts";
import { DEFAULTS } from "../server/server.ts";
import { type Account, accountById, accountByName, accountsByPrefix, liveTokens, setPasswordHash, summaries } from "../store/accounts.ts";
import { ban, unban } from "../store/bans.ts";
import type { Db } from "../store/db.ts";
import { deleteGroup, deleteGroupMessages, type GroupRow, groupById, groupByName } from "../store/groups.ts";
import { pendingCount } from "../store/messages.ts";
import { createServerPool } from "../store/server-pool.ts";
import { storeStats } from "../store/stats.ts";
import { revokeUserTokens } from "../store/tokens.ts";
import { formatAccount, formatAccounts, formatNodes, formatStats, since, startOfTodayUtc, who } from "./admin-report.ts";
import { type CommandGroup, command } from "./command.ts";
import { MYSQL_OPTIONS, withPassword } from "./mysql.ts";
import { type Parsed, type Table, UsageError, type Values } from "./options.ts";
import { SERVER_OPTIONS } from "./server-command.ts";
import { file, int, toggle } from "./value-types.ts";

/** A user or group named on the command line does not exist: exit 1. */
export class NotFoundError extends Error {
  readonly code = "not_found";
}

const DB = {
  ...MYSQL_OPTIONS,
  config: { type: file, env: "CHAT_CONFIG", help: "the server's JSON config file: the options of this command are read from it, the others ignored" },
} satisfies Table;

const REDIS = {
  redisUrl: {
    ...SERVER_OPTIONS.redisUrl,
    help: "the cluster's Redis, redis://host:port: tells the nodes at once, and knows the live nodes; without it, only the database is used",
  },
  redisSentinels: { ...SERVER_OPTIONS.redisSentinels, help: "or the cluster's Redis Sentinel: the sentinels, host:port,... (the primary they name is used)" },
  redisMaster: SERVER_OPTIONS.redisMaster,
  redisPasswordFile: SERVER_OPTIONS.redisPasswordFile,
} satisfies Table;

/**
 * The Redis URL to use: --redis (with the password file's password), or the
 * primary the sentinels name now; undefined when neither is given.
 */
async function redisUrlOf(values: Values<typeof REDIS>, given: (key: keyof typeof REDIS) => boolean): Promise<string | undefined> {
  if (values.redisSentinels && values.redisUrl !== undefined) throw new UsageError("--redis and --redis-sentinels both name Redis: give one of them");
  if (!values.redisSentinels && given("redisMaster")) throw new UsageError("--redis-master goes with --redis-sentinels");
  const password = values.redisPasswordFile;
  let url = values.redisUrl;
  if (values.redisSentinels) {
    const { askSentinels } = await import("../cluster/redis-sentinel.ts");
    const target = { sentinels: values.redisSentinels, master: values.redisMaster };
    const primary = await askSentinels(target);
    const list = values.redisSentinels.map((n) => `${n.host}:${n.port}`).join(",");
    if (!primary) throw new RedisDownError(`none of the sentinels (${list}) answered`);
    url = `redis://${primary.host.includes(":") ? `[${primary.host}]` : primary.host}:${primary.port}`;
  }
  if (url === undefined || password === undefined) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

const JSON_OUTPUT = { json: { type: toggle, help: "print JSON instead of text" } } satisfies Table;

/** How often a node checks for bans without Redis, as the nodes run by default. */
const BAN_CHECK = `${DEFAULTS.banCheckIntervalMs / 1000} s`;

/** The origin of this process's envelopes: no node has it, so every node acts on them. */
const ORIGIN = `admin@${hostname()}:${process.pid}`;

/** The database for one command: a small pool, closed when it is done. A too old schema is named as such. */
async function withDb<T>(values: Values<typeof DB>, fn: (db: Db) => Promise<T>): Promise<T> {
  const pool = createServerPool({ ...withPassword({ ...values.mysql }, values.mysqlPasswordFile), initSize: 0, maxSize: 4 }, 30_000);
  try {
    return await fn(pool);
  } catch (e) {
    const code = (e as { code?: string })?.code;
    if (code === "ER_BAD_FIELD_ERROR" || code === "ER_NO_SUCH_TABLE")
      throw new Error(`the database's schema is older than this chat (${(e as Error).message}); run chat migrate first`);
    if (e instanceof NotFoundError || !code) throw e;
    throw new Error(`the database failed: ${(e as Error).message}${(e as Error).message.includes(code) ? "" : ` (${code})`}`);
  } finally {
    await pool.close();
  }
}

/** Connects to Redis; one line naming it when it does not answer. */
async function connectRedis(url: string): Promise<ClusterAdmin> {
  // Loaded only when needed, as by the server: the Redis client is large.
  const { ClusterAdmin, RedisUnreachableError } = await import("../cluster/cluster-admin.ts");
  try {
    return await ClusterAdmin.connect(url);
  } catch (e) {
    if (!(e instanceof RedisUnreachableError)) throw e;
    throw new RedisDownError(`Redis at ${redact(url)} did not answer: ${e.message}`);
  }
}

class RedisDownError extends Error {}

/** Redis when --redis (or --redis-sentinels) is given, else undefined; a Redis that does not answer is reported and treated as absent. */
async function cluster(parsed: Parsed<typeof REDIS>, what: string): Promise<ClusterAdmin | undefined> {
  try {
    const url = await redisUrlOf(parsed.values, (k) => parsed.source[k].from !== "default");
    if (url === undefined) return undefined;
    return await connectRedis(url);
  } catch (e) {
    if (!(e instanceof RedisDownError)) throw e;
    process.stderr.write(`warning: ${e.message}; ${what}\n`);
    return undefined;
  }
}

/** USER: an id (digits), or a name. */
async function findUser(db: Db, arg: string): Promise<Account> {
  if (/^\d+$/.test(arg)) {
    const a = await accountById(db, Number(arg));
    if (a) return a;
    const named = await accountByName(db, arg);
    throw new NotFoundError(`no user has id ${arg}${named ? ` (a user is named "${arg}": give its id, ${named.id})` : ""}`);
  }
  const a = await accountByName(db, arg);
  if (!a) throw new NotFoundError(`no user is named ${JSON.stringify(arg)} (chat admin users ${JSON.stringify(arg)} lists names that start so)`);
  return a;
}

/** GROUP: an id (digits), or a name. */
async function findGroup(db: Db, arg: string): Promise<GroupRow> {
  if (/^\d+$/.test(arg)) {
    const g = await groupById(db, Number(arg));
    if (g) return g;
    const named = await groupByName(db, arg);
    throw new NotFoundError(`no group has id ${arg}${named ? ` (a group is named "${arg}": give its id, ${named.id})` : ""}`);
  }
  const g = await groupByName(db, arg);
  if (!g) throw new NotFoundError(`no group is named ${JSON.stringify(arg)}`);
  return g;
}

const USERS = {
  ...DB,
  ...REDIS,
  limit: { type: int(1, 1000), help: "list at most this many users", default: 50 },
  prefix: { type: toggle, help: "list the names that start with NAME, even when one is NAME" },
  ...JSON_OUTPUT,
} satisfies Table;

async function users(parsed: Parsed<typeof USERS>, [arg]: string[]) {
  const { values } = parsed;
  const redis = await cluster(parsed, "online state not shown");
  try {
    await withDb(values, async (db) => {
      // An id first; a name of digits only is found by name when no user has that id.
      const byId = arg !== undefined && !values.prefix && /^\d+$/.test(arg) ? await accountById(db, Number(arg)) : undefined;
      const one = byId ?? (arg === undefined || values.prefix ? undefined : await accountByName(db, arg));
      if (one) {
        const [summary] = await summaries(db, [one]);
        const details = {
          ...(summary as NonNullable<typeof summary>),
          pending: await pendingCount(db, one.id),
          liveTokens: await liveTokens(db, one.id),
          onlineOn: await redis?.nodesOf(one.id),
        };
        return void process.stdout.write(values.json ? `${JSON.stringify(details)}\n` : formatAccount(details));
      }
      const found = await accountsByPrefix(db, arg ?? "", values.limit + 1);
      if (found.length === 0 && arg !== undefined) throw new NotFoundError(`no user's name is or starts with ${JSON.stringify(arg)}`);
      const list = await summaries(db, found.slice(0, values.limit));
      const more = found.length > values.limit;
      if (values.json) return void process.stdout.write(`${JSON.stringify({ users: list, more })}\n`);
      process.stdout.write(formatAccounts(list, arg === undefined ? "newest first" : `names starting with ${JSON.stringify(arg)}`, more ? values.limit : undefined));
    });
  } finally {
    await redis?.close();
  }
}

const RESET = {
  ...DB,
  stdin: { type: toggle, help: "read the new password from stdin (its first line) instead of making one up" },
  hashMemory: SERVER_OPTIONS.hashMemory,
  hashTime: SERVER_OPTIONS.hashTime,
} satisfies Table;

/** 144 random bits, 24 characters of base64url: a password nobody guesses and anybody can type. */
const randomPassword = () => Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");

async function resetPassword({ values }: Parsed<typeof RESET>, [arg]: string[]) {
  let password = randomPassword();
  if (values.stdin) {
    if (process.stdin.isTTY) process.stderr.write("new password (one line, then Enter and Ctrl-D):\n");
    password = (await Bun.stdin.text()).split(/\r?\n/)[0] ?? "";
    try {
      validateRequest("register", { name: "x", password });
    } catch (e) {
      if (!(e instanceof ChatError)) throw e;
      throw new UsageError(`the password on stdin is not one a user could register with: ${e.message}`);
    }
  }
  await withDb(values, async (db) => {
    const user = await findUser(db, arg as string);
    const hash = await Bun.password.hash(password, { algorithm: "argon2id", memoryCost: values.hashMemory, timeCost: values.hashTime });
    if (!(await setPasswordHash(db, user.id, hash))) throw new NotFoundError(`user ${user.id} was deleted meanwhile`);
    const revoked = await revokeUserTokens(db, user.id);
    if (!values.stdin) process.stdout.write(`new password for ${who(user)}: ${password}\n`);
    else process.stdout.write(`the password of ${who(user)} is the one from stdin\n`);
    process.stdout.write(
      `revoked ${revoked} login token${revoked === 1 ? "" : "s"}: sessions logged in now go on until they end, and cannot resume without the new password\n`,
    );
    if (user.banned !== null) process.stdout.write(`note: ${who(user)} is banned (${since(user.banned)}): chat admin unban lets it log in\n`);
  });
}

const BAN = { ...DB, ...REDIS } satisfies Table;

/** Tells the nodes with sessions of `user`, if Redis is there; says what happens otherwise. */
async function tellNodes(redis: ClusterAdmin | undefined, user: Account, env: Envelope, what: string): Promise<void> {
  if (!redis) return void process.stdout.write(`without Redis, each node ${what} at its next ban check (every ${BAN_CHECK} by default)\n`);
  const heard = await redis.tell(user.id, env);
  const told = heard === 0 ? `no node has a session of ${who(user)}` : `${heard} node${heard === 1 ? "" : "s"} with sessions of ${who(user)} heard it: those sessions end now`;
  process.stdout.write(`told the nodes through Redis: ${told}\n`);
}

async function banCommand(parsed: Parsed<typeof BAN>, [arg]: string[]) {
  const { values } = parsed;
  const redis = await cluster(parsed, "the ban holds; sessions end at each node's ban check");
  try {
    await withDb(values, async (db) => {
      const user = await findUser(db, arg as string);
      const fresh = await ban(db, user.id);
      const revoked = await revokeUserTokens(db, user.id);
      const banned = (await accountById(db, user.id))?.banned ?? null;
      process.stdout.write(
        fresh
          ? `banned ${who(user)}: its logins now fail with bad_credentials; revoked ${revoked} login token${revoked === 1 ? "" : "s"}\n`
          : `${who(user)} was banned already (${banned === null ? "" : since(banned)}); revoked ${revoked} login token${revoked === 1 ? "" : "s"}\n`,
      );
      await tellNodes(redis, user, { kind: "end_sessions", origin: ORIGIN, reason: "banned" }, `ends the sessions of ${who(user)}`);
    });
  } finally {
    await redis?.close();
  }
}

async function unbanCommand({ values }: Parsed<typeof DB>, [arg]: string[]) {
  await withDb(values, async (db) => {
    const user = await findUser(db, arg as string);
    const lifted = await unban(db, user.id);
    process.stdout.write(
      lifted
        ? `unbanned ${who(user)}: it can log in with its password again (the ban revoked its tokens)\n`
        : `${who(user)} is not banned: nothing to do\n`,
    );
  });
}

const DELETE_GROUP = { ...DB, ...REDIS } satisfies Table;

async function deleteGroupCommand(parsed: Parsed<typeof DELETE_GROUP>, [arg]: string[]) {
  const { values } = parsed;
  const redis = await cluster(parsed, "the members' sessions are not told; they see the group gone at their next login");
  try {
    await withDb(values, async (db) => {
      const group = await findGroup(db, arg as string);
      const members = await deleteGroup(db, group.id);
      if (!members) throw new NotFoundError(`no group has id ${group.id} (deleted meanwhile)`);
      // Sessions drop the group from their caches before they get the push: no send to it passes their check after.
      const frame = `${JSON.stringify({ type: "group_deleted", group: group.id })}\n`;
      let reached = 0;
      if (redis)
        for (const m of members) if ((await redis.tell(m, { kind: "push", origin: ORIGIN, frame, change: { kind: "group_left", group: group.id } })) > 0) reached++;
      // Messages last, in slices; this also takes those that sessions sent while they did not know yet.
      let messages = 0;
      for (let n = -1; n !== 0; ) messages += n = await deleteGroupMessages(db, group.id);
      const counts = `${members.length} member${members.length === 1 ? "" : "s"}, ${messages} message${messages === 1 ? "" : "s"}`;
      process.stdout.write(`deleted group ${group.id} ${JSON.stringify(group.name)}: ${counts}\n`);
      process.stdout.write(
        redis
          ? `told the members' sessions through Redis (group_deleted): ${reached} of ${members.length} had sessions on a node\n`
          : "without Redis the members' sessions were not told: a session logged in now learns at its next login\n",
      );
    });
  } finally {
    await redis?.close();
  }
}

const NODES = {
  config: DB.config,
  ...REDIS,
  redisUrl: { ...REDIS.redisUrl, help: "the cluster's Redis, redis://host:port (or --redis-sentinels): the live nodes are known there" },
  ...JSON_OUTPUT,
} satisfies Table;

async function nodes(parsed: Parsed<typeof NODES>) {
  const { values } = parsed;
  const url = await redisUrlOf(values, (k) => parsed.source[k].from !== "default");
  if (url === undefined) throw new UsageError("--redis is required (or CHAT_REDIS_URL, or --redis-sentinels)");
  const redis = await connectRedis(url);
  try {
    const list = await redis.nodes();
    process.stdout.write(values.json ? `${JSON.stringify({ nodes: list })}\n` : formatNodes(list));
  } finally {
    await redis.close();
  }
}

const STATS = { ...DB, ...REDIS, ...JSON_OUTPUT } satisfies Table;

async function stats(parsed: Parsed<typeof STATS>) {
  const { values } = parsed;
  const redis = await cluster(parsed, "the nodes are not shown");
  try {
    const day = startOfTodayUtc();
    const store = await withDb(values, (db) => storeStats(db, day));
    const live = redis ? (await redis.nodes()).filter((n) => n.alive) : undefined;
    const nodes = live && { live: live.length, connections: sum(live, "connections"), sessions: sum(live, "sessions") };
    const figures = { ...store, today: day, nodes };
    process.stdout.write(values.json ? `${JSON.stringify(figures)}\n` : formatStats(figures));
  } finally {
    await redis?.close();
  }
}

const sum = (list: { stats: Record<string, number> }[], key: string) => list.reduce((n, x) => n + (x.stats[key] ?? 0), 0);

export const ADMIN: CommandGroup = {
  summary:
    "Operates a running cluster with the server's own options: the database (--mysql, --mysql-password-file, --config) " +
    "and, for what lives there, Redis (--redis). Exit code 1 when a user or group does not exist, 2 for a usage error.",
  commands: {
    users: command({
      options: USERS,
      args: ["[NAME]"],
      summary:
        "Shows a user (NAME an id or an exact name): created, banned, friends, groups, pending messages, live tokens, and with --redis the nodes it is on. " +
        "Otherwise lists the users whose name starts with NAME (all users, newest first, without NAME), at most --limit.",
      brief: "find users by name or prefix, or show one",
      run: users,
      alsoInConfig: SERVER_OPTIONS,
    }),
    "reset-password": command({
      options: RESET,
      args: ["USER"],
      summary:
        "Gives USER (an id or a name) a new password, printed, or read from stdin with --stdin, hashed with argon2id at the server's --hash-memory and --hash-time, " +
        "and revokes its login tokens. Sessions logged in now go on until they end.",
      brief: "give a user a new password, revoke its tokens",
      run: resetPassword,
      alsoInConfig: SERVER_OPTIONS,
    }),
    ban: command({
      options: BAN,
      args: ["USER"],
      summary:
        "Bans USER (an id or a name): its logins, by password or token, fail with bad_credentials, its tokens are revoked, and every session of it ends " +
        `with an error "banned": at once through --redis, else at each node's next ban check (every ${BAN_CHECK} by default, chat server --ban-check).`,
      brief: "ban a user: its sessions end, its logins fail",
      run: banCommand,
      alsoInConfig: SERVER_OPTIONS,
    }),
    unban: command({
      options: DB,
      args: ["USER"],
      summary: "Lifts the ban of USER (an id or a name): it can log in with its password again.",
      brief: "lift a ban",
      run: unbanCommand,
      alsoInConfig: SERVER_OPTIONS,
    }),
    "delete-group": command({
      options: DELETE_GROUP,
      args: ["GROUP"],
      summary:
        "Deletes GROUP (an id or a name) with its members, its messages and their delivery state. With --redis the members' sessions " +
        "get group_deleted and drop the group at once; without, they learn at their next login.",
      brief: "remove a group with its members and messages",
      run: deleteGroupCommand,
      alsoInConfig: SERVER_OPTIONS,
    }),
    nodes: command({
      options: NODES,
      summary:
        "Lists the nodes Redis knows: alive (their heartbeat key is there) or dead and not yet reaped, with the age of their last heartbeat, " +
        "their users, connections and sessions, and when they started.",
      brief: "the live nodes: heartbeats, users, connections, sessions",
      run: nodes,
      alsoInConfig: SERVER_OPTIONS,
    }),
    stats: command({
      options: STATS,
      summary:
        "Prints the cluster's figures: users (banned), groups, message ids issued, messages today (UTC), live tokens, held acks, " +
        "and with --redis the live nodes with their connections and sessions. Cheap queries only: no scan of the messages.",
      brief: "users, groups, messages, tokens, nodes",
      run: stats,
      alsoInConfig: SERVER_OPTIONS,
    }),
  },
};
