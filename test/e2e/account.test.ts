/** Protocol 1.1 account changes: change_password and delete_account. */
import { describe, expect, test } from "bun:test";
import { befriend, PASSWORD, session, sharedServer } from "../support/conformance.ts";
import { uniq } from "../support/server.ts";

const srv = sharedServer({ node: "acct" });

function err(code: string) {
  return expect.objectContaining({ type: "error", code });
}

describe("change_password", () => {
  test("needs the old password; then the new one logs in and the old one does not", async () => {
    const a = await srv.fresh("pw");
    expect(await a.w.req({ type: "change_password", old: "not-it", new: "another-pw" })).toEqual(err("bad_credentials"));
    const r = await a.w.ok({ type: "change_password", old: PASSWORD, new: "another-pw" });
    expect(r.token).toEqual(expect.any(String));
    const w = await srv.conn();
    expect(await w.req({ type: "login", name: a.name, password: PASSWORD })).toEqual(err("bad_credentials"));
    expect((await w.ok({ type: "login", name: a.name, password: "another-pw" })).user.id).toBe(a.id);
    expect(await a.w.req({ type: "change_password", old: "another-pw", new: "short" })).toEqual(err("bad_frame"));
  });

  test("revokes every other token, the other sessions' included; the fresh one works until this session logs out", async () => {
    const a = await srv.fresh("pw");
    const other = await session(srv.port, a.name);
    srv.keep(other.w);
    const { token } = await a.w.ok({ type: "change_password", old: PASSWORD, new: "brand-new-pw" });
    for (const old of [a.token, other.token]) expect(await (await srv.conn()).req({ type: "login", token: old })).toEqual(err("bad_credentials"));
    // The other session stays connected.
    expect((await other.w.ok({ type: "ping" })).type).toBe("ok");
    expect((await (await srv.conn()).ok({ type: "login", token })).user.id).toBe(a.id);
    await a.w.ok({ type: "logout" });
    expect(await (await srv.conn()).req({ type: "login", token })).toEqual(err("bad_credentials"));
  });
});

describe("delete_account", () => {
  test("needs the password; ends every session with account_deleted, this one right after its ok", async () => {
    const a = await srv.fresh("del");
    const other = await session(srv.port, a.name);
    srv.keep(other.w);
    expect(await a.w.req({ type: "delete_account", password: "not-it" })).toEqual(err("bad_credentials"));
    const r = await a.w.req({ type: "delete_account", password: PASSWORD });
    expect(r).toEqual(expect.objectContaining({ type: "ok" }));
    for (const w of [a.w, other.w]) {
      expect(await w.next((f) => f.type === "error" && f.code === "account_deleted")).not.toHaveProperty("re");
      await w.closedPromise();
    }
    const w = await srv.conn();
    expect(await w.req({ type: "login", name: a.name, password: PASSWORD })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", user: a.id, password: PASSWORD })).toEqual(err("bad_credentials"));
    expect(await w.req({ type: "login", token: a.token })).toEqual(err("bad_credentials"));
  });

  test("leaves nothing of the user in the database but its id; friends and groups hear of it; its messages are tombstones; the name is free", async () => {
    const a = await srv.fresh("del");
    const friend = await srv.fresh("del");
    const member = await srv.fresh("del");
    const asker = await srv.fresh("del");
    await befriend(a, friend);
    await asker.w.ok({ type: "friend_request", user: a.id });
    await a.w.ok({ type: "block", user: asker.id });
    const g = (await a.w.ok({ type: "create_group", name: uniq("delg") })).group.id;
    await member.w.ok({ type: "join_group", group: g });
    const m1 = await a.w.ok({ type: "group_send", group: g, text: "from a, to the group" });
    await a.w.ok({ type: "send", to: friend.id, text: "from a, to the friend" });
    await friend.w.ok({ type: "send", to: a.id, text: "pending for a" });
    await a.w.ok({ type: "delete_account", password: PASSWORD });
    expect(await friend.w.push("friend_removed")).toEqual({ type: "friend_removed", user: a.id });
    expect(await member.w.push("member_left", (f) => f.group === g)).toEqual(expect.objectContaining({ user: { id: a.id, name: a.name } }));
    expect(await member.w.push("role_changed", (f) => f.group === g)).toEqual(expect.objectContaining({ role: "creator", user: expect.objectContaining({ id: member.id }) }));
    const h = await member.w.ok({ type: "history", group: g });
    expect(h.messages.find((x: { mid: number }) => x.mid === m1.mid)).toEqual(expect.objectContaining({ text: "", name: "", from: a.id, deleted: expect.any(Number) }));

    const q = async (sql: string, params: unknown[]) => ((await srv.ts.pool.query(sql, params)) as [Record<string, unknown>[], unknown])[0];
    expect(await q("SELECT name, password_hash FROM users WHERE id = ?", [a.id])).toEqual([{ name: null, password_hash: "" }]);
    for (const [sql, n] of [
      ["SELECT * FROM tokens WHERE user_id = ?", 1],
      ["SELECT * FROM friends WHERE user_id = ? OR friend_id = ?", 2],
      ["SELECT * FROM friend_requests WHERE from_id = ? OR to_id = ?", 2],
      ["SELECT * FROM blocks WHERE user_id = ? OR blocked_id = ?", 2],
      ["SELECT * FROM group_members WHERE user_id = ?", 1],
      ["SELECT * FROM positions WHERE user_id = ?", 1],
      ["SELECT * FROM acked_above WHERE user_id = ?", 1],
      ["SELECT * FROM messages WHERE sender_id = ? AND body <> ''", 1],
    ] as const)
      expect(await q(sql, Array(n).fill(a.id))).toEqual([]);
    // The name is free again, for a new user with a new id.
    const w = await srv.conn();
    const again = await w.ok({ type: "register", name: a.name, password: PASSWORD });
    expect(again.user.id).not.toBe(a.id);
  });
});
