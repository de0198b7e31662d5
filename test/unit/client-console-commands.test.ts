/** The console client's command parsing and output formats, as pure functions. */
import { describe, expect, it } from "bun:test";
import { HELP, parseCommand, parseLoginName, parseMenuChoice } from "../../src/client/console-commands.ts";
import { formatError, formatGroups, formatMessage, formatTime } from "../../src/client/console-format.ts";
import { RequestError } from "../../src/client/errors.ts";

const ok = (line: string) => {
  const r = parseCommand(line);
  if (!r?.ok) throw new Error(`did not parse: ${line}: ${r?.error}`);
  return r.command;
};
const err = (line: string) => {
  const r = parseCommand(line);
  if (r?.ok !== false) throw new Error(`parsed: ${line}`);
  return r.error;
};

describe("parseCommand, word syntax", () => {
  it("reads every command", () => {
    expect(ok("help")).toEqual({ cmd: "help" });
    expect(ok("chat 5 hello there")).toEqual({ cmd: "chat", to: 5, text: "hello there" });
    expect(ok("addfriend 5")).toEqual({ cmd: "addfriend", user: 5 });
    expect(ok("creategroup devs we write code")).toEqual({ cmd: "creategroup", name: "devs", desc: "we write code" });
    expect(ok("creategroup devs")).toEqual({ cmd: "creategroup", name: "devs", desc: "" });
    expect(ok("addgroup 3")).toEqual({ cmd: "addgroup", group: 3 });
    expect(ok("groupchat 3 hi all")).toEqual({ cmd: "groupchat", group: 3, text: "hi all" });
    expect(ok("leavegroup 3")).toEqual({ cmd: "leavegroup", group: 3 });
    expect(ok("friends")).toEqual({ cmd: "friends" });
    expect(ok("groups")).toEqual({ cmd: "groups" });
    expect(ok("ping")).toEqual({ cmd: "ping" });
    expect(ok("loginout")).toEqual({ cmd: "loginout" });
    expect(ok("quit")).toEqual({ cmd: "quit" });
  });

  it("reads the group administration commands", () => {
    expect(ok("kick 3 8")).toEqual({ cmd: "kick", group: 3, user: 8, ban: false });
    expect(ok("kick 3 8 ban")).toEqual({ cmd: "kick", group: 3, user: 8, ban: true });
    expect(ok("kick 3 8 BAN")).toEqual({ cmd: "kick", group: 3, user: 8, ban: true });
    expect(ok("unban 3 8")).toEqual({ cmd: "unban", group: 3, user: 8 });
    expect(ok("role 3 8 admin")).toEqual({ cmd: "role", group: 3, user: 8, role: "admin" });
    expect(ok("role 3 8 Normal")).toEqual({ cmd: "role", group: 3, user: 8, role: "normal" });
    expect(ok("rename 3 our new  name")).toEqual({ cmd: "rename", group: 3, name: "our new  name" });
    expect(ok("deletegroup 3")).toEqual({ cmd: "deletegroup", group: 3 });
    expect(ok("kick:3:8:ban")).toEqual({ cmd: "kick", group: 3, user: 8, ban: true });
    expect(ok("role:3:8:admin")).toEqual({ cmd: "role", group: 3, user: 8, role: "admin" });
    expect(ok("rename:3:a: b")).toEqual({ cmd: "rename", group: 3, name: "a: b" });
  });

  it("answers a bad group administration command with its usage", () => {
    expect(err("kick 3")).toBe("usage: kick <groupid> <userid> [ban]");
    expect(err("kick 3 8 forever")).toBe("usage: kick <groupid> <userid> [ban]");
    expect(err("kick 3 bob")).toBe("usage: kick <groupid> <userid> [ban]");
    expect(err("role 3 8 creator")).toBe("usage: role <groupid> <userid> <admin|normal>");
    expect(err("role 3 8")).toBe("usage: role <groupid> <userid> <admin|normal>");
    expect(err("rename 3")).toBe("usage: rename <groupid> <name>");
    expect(err("rename x team")).toBe("usage: rename <groupid> <name>");
    expect(err("unban 3")).toBe("usage: unban <groupid> <userid>");
    expect(err("deletegroup")).toBe("usage: deletegroup <groupid>");
  });

  it("keeps a message's inner spacing and colons as typed", () => {
    expect(ok("chat 5   a  b: c ")).toEqual({ cmd: "chat", to: 5, text: "a  b: c" });
  });

  it("reads history of a friend or a group, with an optional page start", () => {
    expect(ok("history 5")).toEqual({ cmd: "history", with: 5 });
    expect(ok("history 5 1000")).toEqual({ cmd: "history", with: 5, before: 1000 });
    expect(ok("history g:3")).toEqual({ cmd: "history", group: 3 });
    expect(ok("history g3 77")).toEqual({ cmd: "history", group: 3, before: 77 });
  });

  it("accepts aliases and any case", () => {
    expect(ok("logout")).toEqual({ cmd: "loginout" });
    expect(ok("exit")).toEqual({ cmd: "quit" });
    expect(ok("CHAT 5 Hi")).toEqual({ cmd: "chat", to: 5, text: "Hi" });
  });

  it("ignores a blank line", () => {
    expect(parseCommand("   ")).toBeNull();
  });

  it("answers bad input with the command's usage", () => {
    expect(err("chat 5")).toBe("usage: chat <friendid> <message>");
    expect(err("chat bob hello")).toBe("usage: chat <friendid> <message>");
    expect(err("addfriend 0")).toBe("usage: addfriend <userid>");
    expect(err("addfriend 9007199254740992")).toBe("usage: addfriend <userid>");
    expect(err("addgroup 3 4")).toBe("usage: addgroup <groupid>");
    expect(err("friends now")).toBe("usage: friends");
    expect(err("history x")).toBe("usage: history <friendid|g:groupid> [before-mid]");
    expect(err("dance")).toBe('unknown command "dance" (type help)');
    expect(err("5")).toBe('unknown command "5" (type help)');
  });
});

describe("parseCommand, the references' colon syntax", () => {
  it("reads every command", () => {
    expect(ok("chat:5:hello there")).toEqual({ cmd: "chat", to: 5, text: "hello there" });
    expect(ok("addfriend:5")).toEqual({ cmd: "addfriend", user: 5 });
    expect(ok("creategroup:my group:a place to talk")).toEqual({
      cmd: "creategroup",
      name: "my group",
      desc: "a place to talk",
    });
    expect(ok("creategroup:devs")).toEqual({ cmd: "creategroup", name: "devs", desc: "" });
    expect(ok("creategroup:devs:")).toEqual({ cmd: "creategroup", name: "devs", desc: "" });
    expect(ok("addgroup:3")).toEqual({ cmd: "addgroup", group: 3 });
    expect(ok("groupchat:3:hi")).toEqual({ cmd: "groupchat", group: 3, text: "hi" });
    expect(ok("loginout")).toEqual({ cmd: "loginout" });
    expect(ok("history:g:3:100")).toEqual({ cmd: "history", group: 3, before: 100 });
    expect(ok("history:5")).toEqual({ cmd: "history", with: 5 });
  });

  it("keeps colons inside the message", () => {
    expect(ok("chat:5:see: here:now")).toEqual({ cmd: "chat", to: 5, text: "see: here:now" });
  });

  it("answers bad input with the usage", () => {
    expect(err("chat:5")).toBe("usage: chat <friendid> <message>");
    expect(err("chat:5:")).toBe("usage: chat <friendid> <message>");
    expect(err("addgroup:x")).toBe("usage: addgroup <groupid>");
  });
});

describe("menu and login input", () => {
  it("reads the menu by number or word", () => {
    expect(["1", "login", "2", " register ", "3", "quit", "4", ""].map(parseMenuChoice)).toEqual([
      "login",
      "login",
      "register",
      "register",
      "quit",
      "quit",
      null,
      null,
    ]);
  });

  it("takes digits as an id and anything else as a name", () => {
    expect(parseLoginName(" 7 ")).toEqual({ user: 7 });
    expect(parseLoginName("alice")).toEqual({ name: "alice" });
    expect(parseLoginName("0")).toEqual({ name: "0" });
  });

  it("lists every command in the help", () => {
    for (const c of ["chat", "addfriend", "creategroup", "addgroup", "groupchat", "loginout", "history", "quit", "kick", "unban", "role", "rename", "deletegroup"]) {
      expect(HELP).toContain(c);
    }
  });
});

describe("console output formats", () => {
  const now = new Date(2026, 4, 17, 15, 0, 0);
  const at = (h: number, m: number, s: number, day = 17) => new Date(2026, 4, day, h, m, s).getTime();

  it("shows the local time, with the date when it is not today", () => {
    expect(formatTime(at(12, 0, 1), now)).toBe("12:00:01");
    expect(formatTime(at(9, 5, 7, 16), now)).toBe("2026-05-16 09:05:07");
  });

  it("formats messages to me, from me and in groups", () => {
    const names = (id: number) => ({ 8: "bob" })[id];
    const base = { mid: 1, text: "hello", ts: at(12, 0, 1) };
    expect(formatMessage({ ...base, from: 7, name: "alice", to: 9 }, 9, names, now)).toBe(
      "[12:00:01] alice(7) -> you: hello",
    );
    expect(formatMessage({ ...base, from: 9, name: "me", to: 8 }, 9, names, now)).toBe("[12:00:01] you -> bob(8): hello");
    expect(formatMessage({ ...base, from: 7, name: "alice", group: 3 }, 9, names, now)).toBe(
      "[12:00:01] group 3 alice(7): hello",
    );
  });

  it("formats a group with its members", () => {
    const g = {
      id: 3,
      name: "devs",
      desc: "code",
      role: "creator" as const,
      members: [{ id: 7, name: "alice", role: "creator" as const, online: true }],
    };
    expect(formatGroups([g])).toEqual(['groups (1):', '  group 3 devs "code" (you: creator)', "    alice(7) creator online"]);
    expect(formatGroups([])).toEqual(["groups: none"]);
  });

  it("shows an error on one line with its code", () => {
    expect(formatError(new RequestError("not_friend", "user 9 is not your friend"))).toBe(
      "error (not_friend): user 9 is not your friend",
    );
    expect(formatError(new Error("boom"))).toBe("error: boom");
  });
});
