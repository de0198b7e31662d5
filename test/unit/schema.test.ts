/**
 * Request validation without sockets: lengths in code points, display names,
 * ids at the edge of 2^53, cross-field rules, and an error that names the
 * offending field.
 */
import { describe, expect, it } from "bun:test";
import { isChatError } from "../../src/protocol/errors.ts";
import { isRequestType, MAX_ID, type RequestType, validateRequest, validRequestId } from "../../src/protocol/schema.ts";

/** The bad_frame message for `frame`, or "ok" when it validates. */
function check(type: RequestType, frame: Record<string, unknown>): string {
  try {
    validateRequest(type, frame);
    return "ok";
  } catch (e) {
    if (!isChatError(e)) throw e;
    expect(e.code).toBe("bad_frame");
    return e.message;
  }
}

const PW = "password-1";
const emoji = (n: number) => "😀".repeat(n);

describe("lengths count code points", () => {
  it("takes a 32-character name of astral characters (64 UTF-16 units) and refuses 33", () => {
    expect(check("register", { name: emoji(32), password: PW })).toBe("ok");
    expect(check("register", { name: emoji(33), password: PW })).toStartWith("name: must be at most 32");
  });

  it("takes a 4096-character text and refuses 4097, whatever the characters", () => {
    for (const ch of ["a", "é", "你", "😀"]) {
      expect(check("send", { to: 1, text: ch.repeat(4096) })).toBe("ok");
      expect(check("send", { to: 1, text: ch.repeat(4097) })).toStartWith("text: must be at most 4096");
    }
  });

  it("counts a password of six astral characters as six", () => {
    expect(check("register", { name: "a", password: emoji(6) })).toBe("ok");
    expect(check("register", { name: "a", password: emoji(5) })).toStartWith("password: must be at least 6");
    expect(check("register", { name: "a", password: "x".repeat(128) })).toBe("ok");
    expect(check("register", { name: "a", password: "x".repeat(129) })).toStartWith("password:");
  });

  it("refuses empty texts and names", () => {
    expect(check("send", { to: 1, text: "" })).toBe("text: must not be empty");
    expect(check("register", { name: "", password: PW })).toStartWith("name: must not be empty");
    expect(check("create_group", { name: "" })).toStartWith("name:");
  });

  it("refuses an unpaired surrogate, which is no code point", () => {
    expect(check("send", { to: 1, text: "a\ud800b" })).toStartWith("text: must be valid Unicode");
    expect(check("send", { to: 1, text: "\udc00" })).toStartWith("text:");
    expect(check("register", { name: "x\ud83d", password: PW })).toStartWith("name:");
  });

  it("caps a group description at 256 characters, empty allowed", () => {
    expect(check("create_group", { name: "g", desc: "" })).toBe("ok");
    expect(check("create_group", { name: "g", desc: emoji(256) })).toBe("ok");
    expect(check("create_group", { name: "g", desc: "d".repeat(257) })).toStartWith("desc:");
    expect(check("create_group", { name: "g".repeat(64) })).toBe("ok");
    expect(check("create_group", { name: "g".repeat(65) })).toStartWith("name:");
  });
});

describe("display names", () => {
  it("refuses control characters anywhere, C0, DEL, C1 and line separators", () => {
    for (const c of ["\u0000", "\u0007", "\t", "\n", "\r", "\u001f", "\u007f", "\u0085", "\u009f", "\u2028", "\u2029"])
      expect(check("register", { name: `a${c}b`, password: PW })).toStartWith("name: must not contain control characters");
  });

  it("refuses leading and trailing white space but takes it inside", () => {
    expect(check("register", { name: " alice", password: PW })).toStartWith("name: must not start or end with white space");
    expect(check("register", { name: "alice ", password: PW })).toStartWith("name:");
    expect(check("register", { name: "\u3000alice", password: PW })).toStartWith("name:"); // ideographic space
    expect(check("register", { name: "\u00a0", password: PW })).toStartWith("name:");
    expect(check("register", { name: "alice smith", password: PW })).toBe("ok");
    expect(check("create_group", { name: " g" })).toStartWith("name:");
  });

  it("leaves texts free to carry newlines and tabs", () => {
    expect(check("send", { to: 1, text: " line one\n\tline two " })).toBe("ok");
  });

  it("refuses a name that is not a string", () => {
    for (const name of [1, null, true, ["a"], { a: 1 }]) expect(check("register", { name, password: PW })).toStartWith("name:");
  });
});

describe("ids", () => {
  const fields: [RequestType, string, Record<string, unknown>][] = [
    ["add_friend", "user", {}],
    ["send", "to", { text: "x" }],
    ["join_group", "group", {}],
    ["leave_group", "group", {}],
    ["group_send", "group", { text: "x" }],
    ["history", "with", {}],
    ["history", "before", { with: 1 }],
    ["login", "user", { password: PW }],
    ["set_role", "group", { user: 1, role: "admin" }],
    ["set_role", "user", { group: 1, role: "admin" }],
    ["kick", "group", { user: 1 }],
    ["kick", "user", { group: 1 }],
    ["group_unban", "user", { group: 1 }],
    ["update_group", "group", { name: "g" }],
    ["delete_group", "group", {}],
  ];

  it("takes 1 and 2^53-1", () => {
    for (const [type, field, rest] of fields)
      for (const v of [1, MAX_ID]) expect(check(type, { ...rest, [field]: v })).toBe("ok");
    expect(MAX_ID).toBe(2 ** 53 - 1);
  });

  it("refuses 2^53 and above, zero, negatives, floats, strings and others, naming the field", () => {
    const bad = [2 ** 53, 2 ** 64, 1e300, Number.POSITIVE_INFINITY, 0, -1, -0.5, 1.5, 1 + 1e-9, "1", "", null, true, [1], { id: 1 }];
    for (const [type, field, rest] of fields)
      for (const v of bad) expect(check(type, { ...rest, [field]: v })).toStartWith(`${field}:`);
  });

  it("takes a float that is a whole number, as JSON.parse reads 1.0 and 1e3", () => {
    expect(check("add_friend", JSON.parse('{"user":1.0}'))).toBe("ok");
    expect(check("add_friend", JSON.parse('{"user":1e3}'))).toBe("ok");
  });

  it("checks every mid of an ack and names its index", () => {
    expect(check("ack", { mids: [1, 2, MAX_ID] })).toBe("ok");
    expect(check("ack", { mids: [1, "2"] })).toStartWith("mids.1:");
    expect(check("ack", { mids: [1, 2, 2 ** 53] })).toStartWith("mids.2:");
    expect(check("ack", { mids: [] })).toStartWith("mids:");
    expect(check("ack", { mids: Array.from({ length: 1000 }, (_, i) => i + 1) })).toBe("ok");
    expect(check("ack", { mids: Array.from({ length: 1001 }, (_, i) => i + 1) })).toStartWith("mids:");
    expect(check("ack", { mids: 5 })).toStartWith("mids:");
  });

  it("bounds a history limit to 1-100", () => {
    expect(check("history", { with: 1, limit: 1 })).toBe("ok");
    expect(check("history", { with: 1, limit: 100 })).toBe("ok");
    for (const limit of [0, 101, -1, 2.5, "10"]) expect(check("history", { with: 1, limit })).toStartWith("limit:");
  });
});

describe("group administration", () => {
  it("gives only the roles admin and normal, and names them when another is asked for", () => {
    expect(check("set_role", { group: 1, user: 2, role: "admin" })).toBe("ok");
    expect(check("set_role", { group: 1, user: 2, role: "normal" })).toBe("ok");
    for (const role of ["creator", "Admin", "", 1, null]) expect(check("set_role", { group: 1, user: 2, role })).toBe('role: must be "admin" or "normal"');
    expect(check("set_role", { group: 1, user: 2 })).toStartWith("role:");
  });

  it("takes a kick's ban as a boolean only", () => {
    expect(check("kick", { group: 1, user: 2 })).toBe("ok");
    expect(check("kick", { group: 1, user: 2, ban: true })).toBe("ok");
    expect(check("kick", { group: 1, user: 2, ban: false })).toBe("ok");
    for (const ban of ["yes", 1, null]) expect(check("kick", { group: 1, user: 2, ban })).toStartWith("ban:");
  });

  it("wants a name or a desc in update_group, each by create_group's rules", () => {
    expect(check("update_group", { group: 1, name: "new" })).toBe("ok");
    expect(check("update_group", { group: 1, desc: "" })).toBe("ok");
    expect(check("update_group", { group: 1, name: "new", desc: "d" })).toBe("ok");
    expect(check("update_group", { group: 1 })).toStartWith("name:");
    expect(check("update_group", { group: 1, name: "" })).toStartWith("name:");
    expect(check("update_group", { group: 1, name: " padded" })).toStartWith("name:");
    expect(check("update_group", { group: 1, name: emoji(65) })).toStartWith("name: must be at most 64");
    expect(check("update_group", { group: 1, desc: "d".repeat(257) })).toStartWith("desc:");
  });
});

describe("request ids", () => {
  it("takes non-negative safe integers and strings of at most 64 code points", () => {
    for (const id of [0, 1, MAX_ID, "", "a".repeat(64), emoji(64)]) expect(validRequestId(id)).toBe(true);
  });

  it("refuses everything else", () => {
    for (const id of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, "a".repeat(65), emoji(65), null, true, [1], {}])
      expect(validRequestId(id)).toBe(false);
  });
});

describe("cross-field rules", () => {
  it("wants name or user with a password, or a token alone", () => {
    expect(check("login", { name: "a", password: PW })).toBe("ok");
    expect(check("login", { user: 5, password: PW })).toBe("ok");
    expect(check("login", { token: "t" })).toBe("ok");
    expect(check("login", { password: PW })).toStartWith("name:");
    expect(check("login", {})).toStartWith("name:");
    expect(check("login", { name: "a", user: 5, password: PW })).toStartWith("user:");
    expect(check("login", { name: "a" })).toStartWith("password:");
    expect(check("login", { token: "t", password: PW })).toStartWith("token:");
    expect(check("login", { token: "t", name: "a" })).toStartWith("token:");
    expect(check("login", { token: "" })).toStartWith("token:");
    expect(check("login", { token: "t".repeat(257) })).toStartWith("token:");
  });

  it("wants exactly one of with and group in a history", () => {
    expect(check("history", { group: 1 })).toBe("ok");
    expect(check("history", {})).toStartWith("with:");
    expect(check("history", { with: 1, group: 2 })).toStartWith("with:");
  });
});

describe("the envelope", () => {
  it("ignores unknown fields", () => {
    expect(check("ping", { future: { nested: [1, 2, 3] } })).toBe("ok");
    expect(check("send", { to: 1, text: "x", from: 99, sender: "mallory" })).toBe("ok");
  });

  it("knows every operation of the protocol and nothing inherited", () => {
    const ops = ["register", "login", "logout", "add_friend", "send", "create_group", "join_group", "leave_group", "group_send", "ack", "history", "friends", "groups", "ping"];
    ops.push("set_role", "kick", "group_unban", "update_group", "delete_group");
    for (const op of ops) expect(isRequestType(op)).toBe(true);
    for (const op of ["toString", "__proto__", "constructor", "hasOwnProperty", "PING", "ok", "error", "msg", ""]) expect(isRequestType(op)).toBe(false);
  });

  it("names a missing required field", () => {
    expect(check("send", { text: "x" })).toStartWith("to:");
    expect(check("send", { to: 1 })).toStartWith("text:");
    expect(check("register", { name: "a" })).toStartWith("password:");
    expect(check("group_send", { text: "x" })).toStartWith("group:");
  });
});
