import { describe, expect, it } from "bun:test";
import mysql from "mysql2/promise";
import { MIGRATIONS, migrate } from "../../sql/migrate.ts";
import { pendingCount, pendingPage } from "../../src/store/messages.ts";
import { freshDatabase } from "../support/db.ts";

describe("migrate", () => {
  it("creates every table on an empty database and applies nothing the second time", async () => {
    const url = await freshDatabase({ migrated: false });
    const first = await migrate(url);
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.name));
    const second = await migrate(url);
    expect(second.applied).toEqual([]);
    const conn = await mysql.createConnection({ uri: url });
    const [rows] = (await conn.query("SHOW TABLES")) as unknown as [Record<string, string>[]];
    await conn.end();
    const tables = rows.map((r) => Object.values(r)[0]).sort();
    expect(tables).toEqual(["acked_above", "blocks", "chat_groups", "friend_requests", "friends", "group_bans", "group_members", "messages", "positions", "schema_migrations", "tokens", "users"]);
  });

  it("adds the ban column and its index, and applying the bans file again changes nothing", async () => {
    const url = await freshDatabase({ migrated: false });
    expect((await migrate(url, { upTo: 2 })).applied).toEqual(["001_init", "002_positions"]);
    const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
    try {
      await conn.query("INSERT INTO users (name, password_hash, created_at) VALUES ('old', 'x', 0)");
      expect((await migrate(url, { upTo: 4 })).applied).toEqual(["003_group_admin", "004_bans"]);
      const bans = MIGRATIONS.find((m) => m.name === "004_bans") as { sql: string };
      await conn.query(bans.sql);
      const [cols] = (await conn.query("SHOW COLUMNS FROM users WHERE Field = 'banned_at'")) as unknown as [{ Null: string }[]];
      expect(cols.map((c) => c.Null)).toEqual(["YES"]);
      const [idx] = (await conn.query("SHOW INDEX FROM users WHERE Key_name = 'users_banned'")) as unknown as [unknown[]];
      expect(idx.length).toBe(1);
      const [[u]] = (await conn.query("SELECT banned_at FROM users WHERE name = 'old'")) as unknown as [[{ banned_at: unknown }]];
      expect(u.banned_at).toBeNull();
      expect((await migrate(url, { upTo: 4 })).current).toBe(4);
    } finally {
      await conn.end();
    }
  });

  it("round-trips emoji, Chinese, quotes and NUL in names and texts", async () => {
    const url = await freshDatabase();
    const conn = await mysql.createConnection({ uri: url, charset: "utf8mb4" });
    const name = "李雷😀'\"\\";
    const body = "你好 👋🏽 it's \"quoted\" \\ and \u0000 NUL";
    await conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES (?, 'x', 0)", [name]);
    await conn.execute("INSERT INTO messages (sender_id, recipient_id, body, ts) VALUES (1, 1, ?, 0)", [body]);
    const [[u]] = (await conn.execute("SELECT name FROM users")) as unknown as [[{ name: string }]];
    const [[m]] = (await conn.execute("SELECT body FROM messages")) as unknown as [[{ body: string }]];
    await conn.end();
    expect(u.name).toBe(name);
    expect(m.body).toBe(body);
  });

  it("moves a version 1 database's pending rows into positions: the same messages stay pending, in order", async () => {
    const url = await freshDatabase({ migrated: false });
    expect((await migrate(url, { upTo: 1 })).applied).toEqual(["001_init"]);
    const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
    try {
      // Filled as version 1 filled it: one pending row per recipient of each message, removed by acks.
      await conn.query("INSERT INTO users (id, name, password_hash, created_at) VALUES (1,'ann','x',0),(2,'bob','x',0),(3,'cy','x',0),(4,'di','x',0)");
      await conn.query("INSERT INTO friends (user_id, friend_id, created_at) VALUES (1,2,0),(2,1,0),(1,3,0),(3,1,0)");
      await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (7,'g',1,0)");
      await conn.query("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (7,1,'creator',0),(7,2,'normal',0),(7,4,'normal',0)");
      const direct = (mid: number, from: number, to: number) =>
        conn.query("INSERT INTO messages (mid, sender_id, recipient_id, peer_lo, peer_hi, body, ts) VALUES (?,?,?,?,?,?,0)", [mid, from, to, Math.min(from, to), Math.max(from, to), `m${mid}`]);
      const group = (mid: number, from: number) => conn.query("INSERT INTO messages (mid, sender_id, group_id, body, ts) VALUES (?,?,7,?,0)", [mid, from, `m${mid}`]);
      await direct(1, 2, 1);
      await direct(2, 2, 1);
      await group(3, 1);
      await direct(4, 2, 1);
      await direct(5, 2, 1);
      await direct(6, 1, 2);
      await group(7, 2);
      await direct(8, 3, 1);
      await group(9, 4);
      // ann acked 1, 5 (not 2, 4: a hole), and 7; bob acked 3; user 3 (cy) left the group with 3 pending.
      const pending: [number, number][] = [[1, 2], [1, 4], [1, 8], [1, 9], [2, 6], [2, 9], [4, 3], [4, 7], [3, 3]];
      await conn.query(`INSERT INTO pending (user_id, mid) VALUES ${pending.map(() => "(?,?)").join(",")}`, pending.flat());

      expect((await migrate(url)).applied).toEqual(MIGRATIONS.slice(1).map((m) => m.name));
      const db = { execute: conn.execute.bind(conn), query: conn.query.bind(conn) } as never;
      const mids = async (user: number) => (await pendingPage(db, user, 0, 100)).map((m) => m.mid);
      expect(await mids(1)).toEqual([2, 4, 8, 9]);
      expect(await mids(2)).toEqual([6, 9]);
      expect(await mids(4)).toEqual([3, 7]);
      expect(await mids(3)).toEqual([]); // left the group: no longer a party to its messages
      expect(await pendingCount(db, 1)).toBe(4);
      // Paging starts after a mid, as the replay does.
      expect((await pendingPage(db, 1, 4, 100)).map((m) => m.mid)).toEqual([8, 9]);

      // Applying the file again changes nothing.
      const snapshot = async () => JSON.stringify(await Promise.all([conn.query("SELECT * FROM positions ORDER BY 1,2,3"), conn.query("SELECT * FROM acked_above ORDER BY 1,2")].map(async (q) => (await q)[0])));
      const before = await snapshot();
      await conn.query((MIGRATIONS[1] as { sql: string }).sql);
      expect(await snapshot()).toBe(before);
      expect((await migrate(url, { upTo: 2 })).applied).toEqual([]);
    } finally {
      await conn.end();
    }
  });

  it("names the latest three messages to each user of a one-to-one conversation on its positions row, and a second run changes nothing", async () => {
    const url = await freshDatabase({ migrated: false });
    expect((await migrate(url, { upTo: 6 })).current).toBe(6);
    const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
    try {
      await conn.query("INSERT INTO users (id, name, password_hash, created_at) VALUES (1,'ann','x',0),(2,'bob','x',0),(3,'cy','x',0)");
      await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (7,'g',1,0)");
      await conn.query(
        "INSERT INTO positions (user_id, group_id, peer_id, acked_upto, read_upto) VALUES (1,0,2,0,0),(2,0,1,0,0),(1,0,3,0,0),(3,0,1,0,0),(1,7,0,0,0),(2,7,0,0,0)",
      );
      const direct = (mid: number, from: number, to: number) =>
        conn.query("INSERT INTO messages (mid, sender_id, recipient_id, peer_lo, peer_hi, body, ts) VALUES (?,?,?,?,?,'x',0)", [mid, from, to, Math.min(from, to), Math.max(from, to)]);
      await direct(1, 2, 1);
      await direct(2, 1, 2);
      await direct(3, 2, 1);
      await conn.query("INSERT INTO messages (mid, sender_id, group_id, body, ts) VALUES (4,2,7,'x',0)");
      await direct(5, 2, 1);
      await direct(6, 3, 1);
      await direct(8, 2, 1);
      expect((await migrate(url)).applied).toEqual(["007_last_in"]);
      const rows = async () => (await conn.query("SELECT user_id, group_id, peer_id, last_in, prev_in, prev2_in FROM positions ORDER BY 1,2,3"))[0] as unknown as Record<string, number>[];
      const after = await rows();
      expect(after).toEqual([
        { user_id: 1, group_id: 0, peer_id: 2, last_in: 8, prev_in: 5, prev2_in: 3 },
        { user_id: 1, group_id: 0, peer_id: 3, last_in: 6, prev_in: 0, prev2_in: 0 },
        { user_id: 1, group_id: 7, peer_id: 0, last_in: 0, prev_in: 0, prev2_in: 0 },
        { user_id: 2, group_id: 0, peer_id: 1, last_in: 2, prev_in: 0, prev2_in: 0 },
        { user_id: 2, group_id: 7, peer_id: 0, last_in: 0, prev_in: 0, prev2_in: 0 },
        { user_id: 3, group_id: 0, peer_id: 1, last_in: 0, prev_in: 0, prev2_in: 0 },
      ]);
      await conn.query((MIGRATIONS.find((m) => m.name === "007_last_in") as { sql: string }).sql);
      expect(await rows()).toEqual(after);
    } finally {
      await conn.end();
    }
  });

  it("gives a version 1 group whose creator left a creator, and deletes the groups nobody is in, with their messages", async () => {
    const url = await freshDatabase({ migrated: false });
    expect((await migrate(url, { upTo: 2 })).applied).toEqual(["001_init", "002_positions"]);
    const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
    try {
      await conn.query("INSERT INTO users (id, name, password_hash, created_at) VALUES (1,'ann','x',0),(2,'bob','x',0),(3,'cy','x',0)");
      // 7: the creator (ann) is still in it. 8: its creator left; bob and cy joined at
      // the same millisecond, so the lower id (bob) is the first. 9: everybody left.
      await conn.query("INSERT INTO chat_groups (id, name, creator_id, created_at) VALUES (7,'kept',1,0),(8,'orphaned',1,0),(9,'empty',1,0)");
      await conn.query(
        "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (7,1,'creator',10),(7,2,'normal',20),(8,3,'normal',50),(8,2,'normal',50),(8,1,'normal',60)",
      );
      await conn.query("INSERT INTO messages (mid, sender_id, group_id, body, ts) VALUES (1,1,7,'a',0),(2,1,8,'b',0),(3,1,9,'c',0),(4,2,9,'d',0)");

      expect((await migrate(url, { upTo: 3 })).applied).toEqual(["003_group_admin"]);
      const snapshot = async () => {
        const [members] = await conn.query("SELECT group_id, user_id, role FROM group_members ORDER BY group_id, user_id");
        const [groups] = await conn.query("SELECT id, creator_id FROM chat_groups ORDER BY id");
        const [messages] = await conn.query("SELECT mid, group_id FROM messages ORDER BY mid");
        return { members, groups, messages } as unknown as Record<"members" | "groups" | "messages", Record<string, unknown>[]>;
      };
      const after = await snapshot();
      expect(after.members).toEqual([
        { group_id: 7, user_id: 1, role: "creator" },
        { group_id: 7, user_id: 2, role: "normal" },
        { group_id: 8, user_id: 1, role: "normal" },
        { group_id: 8, user_id: 2, role: "creator" },
        { group_id: 8, user_id: 3, role: "normal" },
      ]);
      expect(after.groups).toEqual([
        { id: 7, creator_id: 1 },
        { id: 8, creator_id: 2 },
      ]);
      expect(after.messages).toEqual([
        { mid: 1, group_id: 7 },
        { mid: 2, group_id: 8 },
      ]);
      // The new role and the bans table are there.
      await conn.query("UPDATE group_members SET role = 'admin' WHERE group_id = 7 AND user_id = 2");
      await conn.query("INSERT INTO group_bans (group_id, user_id, by_id, ts) VALUES (7, 3, 1, 0)");

      // Applying the file again changes nothing.
      const before = JSON.stringify(await snapshot());
      await conn.query((MIGRATIONS[2] as { sql: string }).sql);
      expect(JSON.stringify(await snapshot())).toBe(before);
      const [[role]] = (await conn.query("SELECT role FROM group_members WHERE group_id = 7 AND user_id = 2")) as unknown as [[{ role: string }]];
      expect(role.role).toBe("admin");
      expect((await migrate(url, { upTo: 3 })).applied).toEqual([]);
    } finally {
      await conn.end();
    }
  });
});
