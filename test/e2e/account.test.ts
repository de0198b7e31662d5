/** Protocol 1.1 account changes: change_password. */
import { describe, expect, test } from "bun:test";
import { PASSWORD, session, sharedServer } from "../support/conformance.ts";

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
