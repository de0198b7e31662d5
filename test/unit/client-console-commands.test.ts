/** The console client's command parsing and output formats, as pure functions. */
import { describe, expect, it } from "bun:test";
import { HELP, parseCommand, parseLoginName, parseMenuChoice, typingTarget } from "../../src/client/console-commands.ts";
import {
  formatConversations,
  formatDeletedPush,
  formatEditedPush,
  formatError,
  formatGroups,
  formatHistoryEnd,
  formatMessage,
  formatReadPush,
  formatTime,
  formatTypingPush,
  type Names,
} from "../../src/client/console-format.ts";
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
    expect(ok("conversations")).toEqual({ cmd: "conversations" });
    expect(ok("read 5")).toEqual({ cmd: "read", with: 5 });
    expect(ok("read g:3")).toEqual({ cmd: "read", group: 3 });
    expect(ok("edit 12 better words")).toEqual({ cmd: "edit", mid: 12, text: "better words" });
    expect(ok("delete 12")).toEqual({ cmd: "delete", mid: 12 });
    expect(ok("unfriend 5")).toEqual({ cmd: "unfriend", user: 5 });
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

  it("answers a bad group administration command with a sentence and its usage", () => {
    expect(err("kick 3")).toBe("kick needs a user. Type: kick <groupid> <user> [ban]");
    expect(err("kick 3 8 forever")).toBe("\"forever\" is not \"ban\". Type: kick <groupid> <user> [ban]");
    expect(err("kick 3 0")).toBe("\"0\" is not a user id or a name (one word). Type: kick <groupid> <user> [ban]");
    expect(err("role 3 8 creator")).toBe("\"creator\" is not admin or normal. Type: role <groupid> <user> <admin|normal>");
    expect(err("role 3 8")).toBe("role needs admin or normal. Type: role <groupid> <user> <admin|normal>");
    expect(err("rename 3")).toBe("rename needs a name. Type: rename <groupid> <name>");
    expect(err("rename x team")).toBe("\"x\" is not a group id (a whole number above 0). Type: rename <groupid> <name>");
    expect(err("unban 3")).toBe("unban needs a user. Type: unban <groupid> <user>");
    expect(err("deletegroup")).toBe("deletegroup needs a group id. Type: deletegroup <groupid>");
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
    expect(ok("convs")).toEqual({ cmd: "conversations" });
    expect(ok("logout")).toEqual({ cmd: "loginout" });
    expect(ok("exit")).toEqual({ cmd: "quit" });
    expect(ok("CHAT 5 Hi")).toEqual({ cmd: "chat", to: 5, text: "Hi" });
  });

  it("reads the friend request, blocking, finding and account commands", () => {
    expect(ok("request bob")).toEqual({ cmd: "request", user: "bob", note: "" });
    expect(ok("request 8 we met at the meetup: hi")).toEqual({ cmd: "request", user: 8, note: "we met at the meetup: hi" });
    expect(ok("request:bob:hello there")).toEqual({ cmd: "request", user: "bob", note: "hello there" });
    expect(ok("requests")).toEqual({ cmd: "requests" });
    expect(ok("accept bob")).toEqual({ cmd: "accept", user: "bob" });
    expect(ok("accept 8")).toEqual({ cmd: "accept", user: 8 });
    expect(ok("decline:bob")).toEqual({ cmd: "decline", user: "bob" });
    expect(ok("block bob")).toEqual({ cmd: "block", user: "bob" });
    expect(ok("unblock 8")).toEqual({ cmd: "unblock", user: 8 });
    expect(ok("blocked")).toEqual({ cmd: "blocked" });
    expect(ok("find carol")).toEqual({ cmd: "find", name: "carol" });
    expect(ok("find mary ann")).toEqual({ cmd: "find", name: "mary ann" });
    expect(ok("passwd")).toEqual({ cmd: "passwd" });
    expect(ok("password")).toEqual({ cmd: "passwd" });
    expect(ok("delete-account")).toEqual({ cmd: "deleteaccount" });
    expect(ok("DELETE-ACCOUNT")).toEqual({ cmd: "deleteaccount" });
  });

  it("takes a name wherever it takes a user, and an all-digit one as an id", () => {
    expect(ok("chat bob hello there")).toEqual({ cmd: "chat", to: "bob", text: "hello there" });
    expect(ok("addfriend dave")).toEqual({ cmd: "addfriend", user: "dave" });
    expect(ok("unfriend dave")).toEqual({ cmd: "unfriend", user: "dave" });
    expect(ok("kick 3 dave ban")).toEqual({ cmd: "kick", group: 3, user: "dave", ban: true });
    expect(ok("unban 3 dave")).toEqual({ cmd: "unban", group: 3, user: "dave" });
    expect(ok("role 3 dave admin")).toEqual({ cmd: "role", group: 3, user: "dave", role: "admin" });
    expect(ok("chat:bob:hi")).toEqual({ cmd: "chat", to: "bob", text: "hi" });
    expect(ok("addfriend 12")).toEqual({ cmd: "addfriend", user: 12 });
  });

  it("answers a bad friend or account command with a sentence and its usage", () => {
    expect(err("request")).toBe("request needs a user. Type: request <user> [note]");
    expect(err("request 0 hi")).toBe("\"0\" is not a user id or a name (one word). Type: request <user> [note]");
    expect(err("accept")).toBe("accept needs a user. Type: accept <user>");
    expect(err("accept bob carol")).toBe("\"bob carol\" is not a user id or a name (one word). Type: accept <user>");
    expect(err("decline 0")).toBe("\"0\" is not a user id or a name (one word). Type: decline <user>");
    expect(err("block")).toBe("block needs a user. Type: block <user>");
    expect(err("unblock a b")).toBe("\"a b\" is not a user id or a name (one word). Type: unblock <user>");
    expect(err("blocked bob")).toBe("blocked takes nothing more. Type: blocked");
    expect(err("find")).toBe("find needs a name. Type: find <name>");
    expect(err("passwd old")).toBe("passwd takes nothing more. Type: passwd");
    expect(err("delete-account now")).toBe("delete-account takes nothing more. Type: delete-account");
    expect(err("delete-")).toBe('unknown command "delete-" (type help)');
  });

  it("ignores a blank line", () => {
    expect(parseCommand("   ")).toBeNull();
  });

  it("takes a friend's name as well as an id in history and read, and g:N or gN for a group", () => {
    expect(parseCommand("history bob 40")).toEqual({ ok: true, command: { cmd: "history", with: "bob", before: 40 } });
    expect(parseCommand("read gary")).toEqual({ ok: true, command: { cmd: "read", with: "gary" } });
    expect(parseCommand("read 8")).toEqual({ ok: true, command: { cmd: "read", with: 8 } });
    expect(parseCommand("history g:3")).toEqual({ ok: true, command: { cmd: "history", group: 3 } });
    expect(parseCommand("read g3")).toEqual({ ok: true, command: { cmd: "read", group: 3 } });
  });

  it("answers bad input with what is wrong and the command's usage", () => {
    expect(err("chat 5")).toBe("chat needs a message. Type: chat <friend> <message>");
    expect(err("chat 0 hello")).toBe("\"0\" is not a user id or a name (one word). Type: chat <friend> <message>");
    expect(err("addfriend 0")).toBe("\"0\" is not a user id or a name (one word). Type: addfriend <user>");
    expect(err("addfriend 9007199254740992")).toBe("\"9007199254740992\" is not a user id or a name (one word). Type: addfriend <user>");
    expect(err("addgroup 3 4")).toBe("\"3 4\" is not a group id (a whole number above 0). Type: addgroup <groupid>");
    expect(err("friends now")).toBe("friends takes nothing more. Type: friends");
    expect(err("history g:x")).toBe("\"g:x\" is not a friend (id or name) or a group as g:groupid. Type: history <friend|g:groupid> [before-mid]");
    expect(err("read")).toBe("read needs a friend or a group (g:groupid). Type: read <friend|g:groupid>");
    expect(err("read g:x")).toBe("\"g:x\" is not a friend (id or name) or a group as g:groupid. Type: read <friend|g:groupid>");
    expect(err("edit 12")).toBe("edit needs the new text. Type: edit <mid> <new text>");
    expect(err("edit x new")).toBe("\"x\" is not a message id (mid) (a whole number above 0). Type: edit <mid> <new text>");
    expect(err("delete")).toBe("delete needs a message id (mid). Type: delete <mid>");
    expect(err("delete 12 13")).toBe("\"12 13\" is not a message id (mid) (a whole number above 0). Type: delete <mid>");
    expect(err("unfriend 0")).toBe("\"0\" is not a user id or a name (one word). Type: unfriend <user>");
    expect(err("conversations 5")).toBe("conversations takes nothing more. Type: conversations");
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
    expect(ok("read:g:3")).toEqual({ cmd: "read", group: 3 });
    expect(ok("edit:12:now: with colons")).toEqual({ cmd: "edit", mid: 12, text: "now: with colons" });
    expect(ok("delete:12")).toEqual({ cmd: "delete", mid: 12 });
    expect(ok("unfriend:5")).toEqual({ cmd: "unfriend", user: 5 });
  });

  it("keeps colons inside the message", () => {
    expect(ok("chat:5:see: here:now")).toEqual({ cmd: "chat", to: 5, text: "see: here:now" });
  });

  it("answers bad colon input with what is wrong and the usage", () => {
    expect(err("chat:5")).toBe("chat needs a message. Type: chat <friend> <message>");
    expect(err("chat:5:")).toBe("chat needs a message. Type: chat <friend> <message>");
    expect(err("addgroup:x")).toBe("\"x\" is not a group id (a whole number above 0). Type: addgroup <groupid>");
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
    const commands = ["chat", "addfriend", "creategroup", "addgroup", "groupchat", "loginout", "history", "quit", "kick", "unban", "role", "rename", "deletegroup"];
    for (const c of [...commands, "conversations", "convs", "read", "edit", "delete", "unfriend"]) {
      expect(HELP).toMatch(new RegExp(`\\b${c}\\b`));
    }
  });
});

describe("typingTarget", () => {
  it("names the conversation of a half-typed chat or groupchat line with some text", () => {
    expect(typingTarget("chat 8 h")).toEqual({ with: 8 });
    expect(typingTarget("  CHAT:8:hel")).toEqual({ with: 8 });
    expect(typingTarget("groupchat 3 hi")).toEqual({ group: 3 });
    expect(typingTarget("groupchat:3:h")).toEqual({ group: 3 });
  });

  it("is null until there is an id and the start of a message, and for other commands", () => {
    for (const line of ["", "chat", "chat 8", "chat 8 ", "chat 0 hi", "chat x hi", "history 8 12", "chatter 8 hi"]) {
      expect(typingTarget(line)).toBeNull();
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

  const names: Names = {
    user: (id) => ({ 8: "bob", 7: "alice" })[id],
    group: (id) => ({ 3: "team" })[id],
  };

  it("formats messages to me, from me and in groups, naming the group and ending with the mid", () => {
    const base = { mid: 4, text: "hello", ts: at(12, 0, 1) };
    expect(formatMessage({ ...base, from: 7, name: "alice", to: 9 }, 9, names, now)).toBe(
      "[12:00:01] alice(7) -> you: hello (mid 4)",
    );
    expect(formatMessage({ ...base, from: 9, name: "me", to: 8 }, 9, names, now)).toBe(
      "[12:00:01] you -> bob(8): hello (mid 4)",
    );
    expect(formatMessage({ ...base, from: 9, name: "me", to: 5 }, 9, names, now)).toBe(
      "[12:00:01] you -> user(5): hello (mid 4)",
    );
    expect(formatMessage({ ...base, from: 7, name: "alice", group: 3 }, 9, names, now)).toBe(
      "[12:00:01] alice(7) -> group 3 team: hello (mid 4)",
    );
    expect(formatMessage({ ...base, from: 9, name: "me", group: 4 }, 9, names, now)).toBe(
      "[12:00:01] you -> group 4: hello (mid 4)",
    );
  });

  it("marks an edited message and shows a deleted one as deleted", () => {
    const base = { mid: 4, from: 7, name: "alice", to: 9, ts: at(12, 0, 1) };
    expect(formatMessage({ ...base, text: "fixed", edited: 1 }, 9, names, now)).toBe(
      "[12:00:01] alice(7) -> you: fixed (mid 4, edited)",
    );
    expect(formatMessage({ ...base, text: "", edited: 1, deleted: 2 }, 9, names, now)).toBe(
      "[12:00:01] alice(7) -> you: (deleted) (mid 4)",
    );
  });

  it("lists conversations with their unread counts and last messages, aligned", () => {
    const last = (mid: number, from: number, name: string) => ({ mid, from, name, text: `m${mid}`, ts: at(12, 0, mid) });
    const list = [
      { group: 3, name: "team", last: { ...last(12, 7, "alice"), group: 3 }, unread: 2, read: 9 },
      { with: 8, name: "bob", last: { ...last(10, 9, "me"), to: 8 }, unread: 0, read: 9, peer_read: 10 },
    ];
    expect(formatConversations(list, 9, names, now)).toEqual([
      "conversations (2, 2 unread):",
      "  group 3 team  2 unread  [12:00:12] alice(7): m12 (mid 12)",
      "  bob(8)        0 unread  [12:00:10] you: m10 (mid 10)",
    ]);
    expect(formatConversations([], 9, names, now)).toEqual(["conversations: none"]);
  });

  it("ends a history page with how to get the one before it", () => {
    const page = (n: number) => Array.from({ length: n }, (_, i) => ({ mid: 100 + i, from: 8, name: "bob", to: 9, text: "x", ts: 0 }));
    expect(formatHistoryEnd({ with: 8 }, page(50), 50)).toBe("(older messages: history 8 100)");
    expect(formatHistoryEnd({ group: 3 }, page(50), 50)).toBe("(older messages: history g:3 100)");
    expect(formatHistoryEnd({ with: 8 }, page(49), 50)).toBe("(no older messages)");
    expect(formatHistoryEnd({ with: 8 }, [], 50)).toBe("(no older messages)");
  });

  it("shows reads, typing, edits and deletes as lines naming the mid", () => {
    expect(formatReadPush({ type: "read", user: 8, with: 8, mid: 12 }, 9, names)).toBe("* bob(8) read up to mid 12");
    expect(formatReadPush({ type: "read", user: 9, with: 8, mid: 12 }, 9, names)).toBe("* you read bob(8) up to mid 12");
    expect(formatReadPush({ type: "read", user: 9, group: 3, mid: 12 }, 9, names)).toBe("* you read group 3 team up to mid 12");
    expect(formatTypingPush({ type: "typing", user: 8 }, names)).toBe("* bob(8) is typing");
    expect(formatTypingPush({ type: "typing", user: 7, group: 3 }, names)).toBe("* alice(7) is typing in group 3 team");
    const edit = { type: "edited" as const, mid: 12, text: "new", edited: 1, from: 8, to: 9 };
    expect(formatEditedPush(edit, 9, names)).toBe("* bob(8) edited mid 12: new");
    expect(formatEditedPush({ ...edit, from: 9, to: undefined, group: 3 }, 9, names)).toBe("* you edited mid 12 in group 3 team: new");
    const del = { type: "deleted" as const, mid: 12, deleted: 1, from: 8, to: 9 };
    expect(formatDeletedPush(del, 9, names)).toBe("* bob(8) deleted mid 12");
    expect(formatDeletedPush({ ...del, from: 9, to: 8 }, 9, names)).toBe("* you deleted mid 12");
    expect(formatDeletedPush({ ...del, from: 7, to: undefined, group: 3 }, 9, names)).toBe(
      "* mid 12 of alice(7) in group 3 team was deleted",
    );
    expect(formatDeletedPush({ ...del, from: 9, to: undefined, group: 3 }, 9, names)).toBe(
      "* your mid 12 in group 3 team was deleted",
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

  it("shows an error as one sentence, its code at the end", () => {
    expect(formatError(new RequestError("not_friend", "user 9 is not your friend"))).toBe(
      "error: User 9 is not your friend. (not_friend)",
    );
    expect(formatError(new Error("boom"))).toBe("error: Boom.");
  });

  it("names the field of a bad request the way people do, and explains codes the server words for programs", () => {
    expect(formatError(new RequestError("bad_frame", "password: must be at least 6 characters"))).toBe(
      "error: The password must be at least 6 characters. (bad_frame)",
    );
    expect(formatError(new RequestError("bad_frame", "new: must be at most 128 characters"))).toBe(
      "error: The new password must be at most 128 characters. (bad_frame)",
    );
    expect(formatError(new RequestError("bad_frame", "mids.1: must be an integer"))).toBe(
      "error: Mids.1 must be an integer. (bad_frame)",
    );
    expect(formatError(new RequestError("unknown_type", "unknown type \"find_user\""))).toBe(
      "error: This server does not offer that command. (unknown_type)",
    );
    expect(formatError(new RequestError("unavailable", "the database is unavailable"))).toBe(
      "error: The database is unavailable; try again. (unavailable)",
    );
    expect(formatError(new RequestError("rate_limited", "too many failed logins; wait 30 s!"))).toBe(
      "error: Too many failed logins; wait 30 s! (rate_limited)",
    );
    expect(formatError(new RequestError("blocked", ""))).toBe("error: Blocked. (blocked)");
  });
});
