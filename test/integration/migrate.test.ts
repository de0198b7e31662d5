import { describe, expect, it } from "bun:test";
import mysql from "mysql2/promise";
import { migrate } from "../../sql/migrate.ts";
import { freshDatabase } from "../support/db.ts";

describe("migrate", () => {
  it("creates every table on an empty database and applies nothing the second time", async () => {
    const url = await freshDatabase({ migrated: false });
    const first = await migrate(url);
    expect(first.applied).toEqual(["001_init"]);
    const second = await migrate(url);
    expect(second.applied).toEqual([]);
    const conn = await mysql.createConnection({ uri: url });
    const [rows] = (await conn.query("SHOW TABLES")) as unknown as [Record<string, string>[]];
    await conn.end();
    const tables = rows.map((r) => Object.values(r)[0]).sort();
    expect(tables).toEqual(["chat_groups", "friends", "group_members", "messages", "pending", "schema_migrations", "tokens", "users"]);
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
});
