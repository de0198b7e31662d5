/** Where the console remembers its session: the directory it picks, and the file's life and mode. */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSessionDir, SessionStore } from "../../src/client/session-store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "chat-session-"));
  dirs.push(d);
  return d;
};

describe("defaultSessionDir", () => {
  it("is $XDG_CONFIG_HOME/chat, else ~/.config/chat, ignoring a relative XDG_CONFIG_HOME", () => {
    expect(defaultSessionDir({ XDG_CONFIG_HOME: "/x/conf", HOME: "/home/a" })).toBe("/x/conf/chat");
    expect(defaultSessionDir({ HOME: "/home/a" })).toBe("/home/a/.config/chat");
    expect(defaultSessionDir({ XDG_CONFIG_HOME: "rel", HOME: "/home/a" })).toBe("/home/a/.config/chat");
  });
});

describe("SessionStore", () => {
  it("keeps one token per server address in a file only the user can read, and forgets it", async () => {
    const dir = join(fresh(), "chat");
    const a = new SessionStore(dir, "127.0.0.1", 6000);
    const b = new SessionStore(dir, "::1", 6000);
    expect(await a.load()).toBeUndefined();
    await a.save("tok-a");
    await b.save("tok-b");
    expect(await a.load()).toBe("tok-a");
    expect(await b.load()).toBe("tok-b");
    expect(b.path).toBe(join(dir, "session-__1-6000.token"));
    expect(statSync(a.path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
    await a.save("tok-a2");
    expect(await a.load()).toBe("tok-a2");
    await a.forget();
    await a.forget();
    expect(await a.load()).toBeUndefined();
    expect(await b.load()).toBe("tok-b");
  });
});
