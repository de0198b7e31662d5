/**
 * The deploy guide's database steps on a MariaDB of this file's own (root by
 * its socket, as on the database host): the guide's SQL as written (the
 * addresses and passwords replaced), `chat migrate` as the migration user, a
 * node as the row-only user; then deploy/backup.sh and deploy/restore.sh
 * around a dropped database, with the node serving the old history after.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import mysql from "mysql2/promise";
import { fill, guideBlock } from "../../deploy/lab/guide.ts";
import { startServices, stopServices } from "../../scripts/services.ts";
import { MIGRATIONS } from "../../sql/migrate.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import type { Wire } from "../support/wire.ts";

const REPO = resolve(import.meta.dir, "../..");
const dir = resolve(REPO, `.data/deploy-db-${process.pid}`);
const backups = mkdtempSync(`${tmpdir()}/chat-backups-`);
const NODE_PASSWORD = "node-pw-4f1c";
const MIGRATE_PASSWORD = "migrate-pw-9a2e";
let port: number;
let socket: string;
const nodes: NodeProcess[] = [];
const url = (user: string, password: string) => `mysql://${user}:${password}@127.0.0.1:${port}/chat`;
const nodeUrl = () => url("chat", NODE_PASSWORD);
const rootOpts = () => [`--socket=${socket}`, "--user=root"];

/** Runs SQL as root by the socket, like `mariadb` on the database host. */
function asRoot(sql: string): string {
  const r = Bun.spawnSync(["mariadb", "--no-defaults", ...rootOpts(), "--batch", "--skip-column-names", "-e", sql], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`mariadb as root failed: ${r.stderr}`);
  return r.stdout.toString().trim();
}

function script(name: string, args: string[]) {
  const r = Bun.spawnSync(["bash", join(REPO, "deploy", name), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function migrateAs(user: string, password: string) {
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/main.ts"), "migrate"], {
    env: { ...process.env, CHAT_MYSQL_URL: url(user, password) },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

async function startNode(name: string): Promise<NodeProcess> {
  const n = await spawnNode({ node: name, mysqlUrl: nodeUrl() });
  nodes.push(n);
  return n;
}

async function login(n: NodeProcess, name: string): Promise<{ w: Wire; id: number }> {
  const w = await n.connect();
  const r = await w.ok({ type: "login", name, password: "password-1" });
  return { w, id: r.user.id };
}

beforeAll(async () => {
  const s = await startServices(dir, { relaxedDurability: true });
  port = Number(new URL(s.mysqlUrl).port);
  socket = join(dir, "mariadb.sock");
  // A database host as the guide finds it: no chat database, no chat user yet.
  asRoot("DROP DATABASE IF EXISTS chat; DROP USER IF EXISTS 'chat'@'%';");
  // The guide's SQL for VMs at 10.0.0.11 and .12; here the VMs connect from loopback.
  const sql = fill(guideBlock("grants"), {
    "10.0.0.11": "127.0.0.1",
    "10.0.0.12": "localhost",
    "NODE-PASSWORD": NODE_PASSWORD,
    "MIGRATE-PASSWORD": MIGRATE_PASSWORD,
  });
  asRoot(sql);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  await stopServices(dir, { removeData: true });
  rmSync(backups, { recursive: true, force: true });
});

describe("the guide's database users", () => {
  it("lets `chat migrate` create the schema as the migration user, every migration of it", () => {
    const r = migrateAs("chat_migrate", MIGRATE_PASSWORD);
    expect(r.err).toBe("");
    expect(r.out).toContain(`applied ${MIGRATIONS.map((m) => m.name).join(", ")} to `);
  });

  it("serves a node as the row-only user", async () => {
    const n = await startNode("db1");
    const w = await n.connect();
    await w.ok({ type: "register", name: "grant_user", password: "password-1" });
    await w.ok({ type: "login", name: "grant_user", password: "password-1" });
    w.close();
    await n.kill();
  });

  it("gives the node's user no way to change the schema or read other databases", async () => {
    const conn = await mysql.createConnection({ uri: nodeUrl() });
    try {
      for (const sql of ["DROP TABLE messages", "CREATE TABLE spare (i INT)", "ALTER TABLE users ADD COLUMN x INT", "SELECT * FROM mysql.user"]) {
        const code = await conn.query(sql).then(
          () => "allowed",
          (e) => (e as { code: string }).code,
        );
        expect(`${sql}: ${code}`).toMatch(/: ER_(TABLE|DB)ACCESS_DENIED_ERROR$/);
      }
    } finally {
      await conn.end();
    }
  });

  it("stops a node whose user may not apply a due migration, saying to run `chat migrate`", async () => {
    asRoot("DELETE FROM chat.schema_migrations WHERE version = 2");
    const message = await spawnNode({ node: "db2", mysqlUrl: nodeUrl() }).then(
      (n) => {
        nodes.push(n);
        return "started";
      },
      (e: Error) => e.message,
    );
    expect(message).toContain("exited with 1");
    expect(message).toContain("schema migration 002_positions is due and this MySQL user may not change the schema");
    expect(message).toContain("run `chat migrate` with a user that may");
    // The migration user brings the schema back (every migration is idempotent).
    expect(migrateAs("chat_migrate", MIGRATE_PASSWORD).out).toContain("applied 002_positions");
  });
});

describe("deploy/backup.sh and deploy/restore.sh", () => {
  let dump: string;
  let before: { direct: unknown[]; group: unknown[] };
  let alice: number;
  let bob: number;
  let group: number;

  it("dump a database that holds a history, consistently and privately", async () => {
    const n = await startNode("bk1");
    const a = await n.connect();
    const b = await n.connect();
    await a.ok({ type: "register", name: "bk_alice", password: "password-1" });
    await b.ok({ type: "register", name: "bk_bob", password: "password-1" });
    await a.ok({ type: "login", name: "bk_alice", password: "password-1" });
    bob = (await b.ok({ type: "login", name: "bk_bob", password: "password-1" })).user.id;
    await a.ok({ type: "add_friend", user: bob });
    alice = (await b.ok({ type: "friends" })).friends[0].id;
    for (const text of ["first", "你好 👋", "it's \"quoted\""]) await a.ok({ type: "send", to: bob, text });
    await b.ok({ type: "send", to: alice, text: "and back" });
    group = (await a.ok({ type: "create_group", name: "backup-room" })).group.id;
    await b.ok({ type: "join_group", group });
    await b.ok({ type: "group_send", group, text: "to the room" });
    before = {
      direct: (await a.ok({ type: "history", with: bob })).messages,
      group: (await b.ok({ type: "history", group })).messages,
    };
    expect(before.direct).toHaveLength(4);
    expect(before.group).toHaveLength(1);

    // While the node runs: --single-transaction takes no locks.
    const r = script("backup.sh", [backups, "--", ...rootOpts()]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    dump = r.out.trim();
    expect(dump).toMatch(/\/chat-\d{8}-\d{6}\.sql\.gz$/);
    expect(statSync(dump).mode & 0o777).toBe(0o600);
    const text = gunzipSync(readFileSync(dump)).toString();
    expect(text).toContain("CREATE TABLE `messages`");
    expect(text.trimEnd().split("\n").at(-1)).toMatch(/^-- Dump completed/);
    a.close();
    b.close();
    await n.kill();
  });

  it("restore the dropped database, and a node serves the same history from it", async () => {
    asRoot("DROP DATABASE chat");
    const gone = await spawnNode({ node: "bk2", mysqlUrl: nodeUrl() }).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(gone).toContain("ER_BAD_DB_ERROR");

    const r = script("restore.sh", [dump, "--", ...rootOpts()]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("restored");

    const n = await startNode("bk3");
    const a = await login(n, "bk_alice");
    const b = await login(n, "bk_bob");
    expect(a.id).toBe(alice);
    expect((await a.w.ok({ type: "history", with: bob })).messages).toEqual(before.direct);
    expect((await b.w.ok({ type: "history", group })).messages).toEqual(before.group);
    a.w.close();
    b.w.close();
    await n.kill();
  });

  it("refuse to load over a database that holds tables, unless told to replace it", () => {
    const refused = script("restore.sh", [dump, "--", ...rootOpts()]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("database chat exists and holds");
    expect(refused.err).toContain("add --replace");
    asRoot("INSERT INTO chat.users (name, password_hash, created_at) VALUES ('after_backup', 'x', 0)");
    const replaced = script("restore.sh", ["--replace", dump, "--", ...rootOpts()]);
    expect(replaced.code).toBe(0);
    expect(replaced.out).toContain("dropped database chat");
    expect(asRoot("SELECT COUNT(*) FROM chat.users WHERE name = 'after_backup'")).toBe("0");
  });

  it("refuse a dump that was cut short, before touching the database", () => {
    const text = gunzipSync(readFileSync(dump)).toString();
    const cut = join(backups, "cut.sql");
    writeFileSync(cut, text.slice(0, Math.floor(text.length / 2)));
    const users = asRoot("SELECT COUNT(*) FROM chat.users");
    const r = script("restore.sh", ["--replace", cut, "--", ...rootOpts()]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("is not a complete dump");
    expect(asRoot("SELECT COUNT(*) FROM chat.users")).toBe(users);
    expect(Number(users)).toBeGreaterThan(0);
  });

  it("keep only the newest dumps that --keep asks for", () => {
    // Older than the one dump made above; with the one made now, the newest three stay.
    for (const stamp of ["20200101-000000", "20200102-000000", "20200103-000000"]) writeFileSync(join(backups, `chat-${stamp}.sql.gz`), "");
    const dumps = () => readdirSync(backups).filter((f) => /^chat-\d{8}-\d{6}\.sql\.gz$/.test(f)).sort().reverse();
    const before = dumps();
    const r = script("backup.sh", ["--keep", "3", backups, "--", ...rootOpts()]);
    expect(r.code).toBe(0);
    const made = r.out.trim();
    expect(existsSync(made)).toBe(true);
    // Names are to the second: a dump made in the same second as the one above replaces it.
    const newest = [...new Set([...before, basename(made)])].sort().reverse().slice(0, 3);
    expect(dumps()).toEqual(newest);
    expect(newest).toContain(basename(dump));
    expect(newest).toContain("chat-20200103-000000.sql.gz");
    expect(existsSync(join(backups, "chat-20200101-000000.sql.gz"))).toBe(false);
  });
});
