/**
 * Parsing of the console client's commands, as pure functions. Two syntaxes:
 * words (`chat 5 hello there`) and the reference projects' colons
 * (`chat:5:hello there`). The last argument takes the rest of the line, so a
 * message may contain spaces and colons.
 */

export type Command =
  | { cmd: "help" }
  | { cmd: "chat"; to: number; text: string }
  | { cmd: "addfriend"; user: number }
  | { cmd: "creategroup"; name: string; desc: string }
  | { cmd: "addgroup"; group: number }
  | { cmd: "groupchat"; group: number; text: string }
  | { cmd: "leavegroup"; group: number }
  | { cmd: "kick"; group: number; user: number; ban: boolean }
  | { cmd: "unban"; group: number; user: number }
  | { cmd: "role"; group: number; user: number; role: "admin" | "normal" }
  | { cmd: "rename"; group: number; name: string }
  | { cmd: "deletegroup"; group: number }
  | { cmd: "friends" }
  | { cmd: "groups" }
  | { cmd: "history"; with: number; before?: number }
  | { cmd: "history"; group: number; before?: number }
  | { cmd: "ping" }
  | { cmd: "loginout" }
  | { cmd: "quit" };

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string };

type Arg = "id" | "text" | "word" | "target" | "ban" | "role";

interface Spec {
  usage: string;
  summary: string;
  args: Arg[];
  /** how many trailing args may be left out */
  optional?: number;
  build(args: string[]): Command;
}

const num = (s: string | undefined) => Number(s);

const SPECS: Record<string, Spec> = {
  help: { usage: "help", summary: "show this list", args: [], build: () => ({ cmd: "help" }) },
  chat: {
    usage: "chat <friendid> <message>",
    summary: "send a message to a friend",
    args: ["id", "text"],
    build: ([to, text]) => ({ cmd: "chat", to: num(to), text: text! }),
  },
  addfriend: {
    usage: "addfriend <userid>",
    summary: "add a friend (both of you become friends)",
    args: ["id"],
    build: ([user]) => ({ cmd: "addfriend", user: num(user) }),
  },
  creategroup: {
    usage: "creategroup <name> <desc>",
    summary: "create a group (the name is one word; creategroup:name:desc allows spaces)",
    args: ["word", "text"],
    optional: 1,
    build: ([name, desc]) => ({ cmd: "creategroup", name: name!, desc: desc ?? "" }),
  },
  addgroup: {
    usage: "addgroup <groupid>",
    summary: "join a group",
    args: ["id"],
    build: ([group]) => ({ cmd: "addgroup", group: num(group) }),
  },
  groupchat: {
    usage: "groupchat <groupid> <message>",
    summary: "send a message to a group",
    args: ["id", "text"],
    build: ([group, text]) => ({ cmd: "groupchat", group: num(group), text: text! }),
  },
  leavegroup: {
    usage: "leavegroup <groupid>",
    summary: "leave a group",
    args: ["id"],
    build: ([group]) => ({ cmd: "leavegroup", group: num(group) }),
  },
  kick: {
    usage: "kick <groupid> <userid> [ban]",
    summary: "remove a member from a group you run; with ban, for good",
    args: ["id", "id", "ban"],
    optional: 1,
    build: ([group, user, ban]) => ({ cmd: "kick", group: num(group), user: num(user), ban: ban !== undefined }),
  },
  unban: {
    usage: "unban <groupid> <userid>",
    summary: "let a banned user join a group again",
    args: ["id", "id"],
    build: ([group, user]) => ({ cmd: "unban", group: num(group), user: num(user) }),
  },
  role: {
    usage: "role <groupid> <userid> <admin|normal>",
    summary: "make a member of your group an admin, or normal again",
    args: ["id", "id", "role"],
    build: ([group, user, role]) => ({ cmd: "role", group: num(group), user: num(user), role: role!.toLowerCase() as "admin" | "normal" }),
  },
  rename: {
    usage: "rename <groupid> <name>",
    summary: "give a group you run a new name",
    args: ["id", "text"],
    build: ([group, name]) => ({ cmd: "rename", group: num(group), name: name! }),
  },
  deletegroup: {
    usage: "deletegroup <groupid>",
    summary: "end a group you created, its messages with it",
    args: ["id"],
    build: ([group]) => ({ cmd: "deletegroup", group: num(group) }),
  },
  friends: { usage: "friends", summary: "list friends and who is online", args: [], build: () => ({ cmd: "friends" }) },
  groups: { usage: "groups", summary: "list your groups and their members", args: [], build: () => ({ cmd: "groups" }) },
  history: {
    usage: "history <friendid|g:groupid> [before-mid]",
    summary: "show earlier messages of a conversation",
    args: ["target", "id"],
    optional: 1,
    build: ([target, before]) => {
      const page = before === undefined ? {} : { before: num(before) };
      return /^g/i.test(target!)
        ? { cmd: "history", group: num(target!.replace(/^g:?/i, "")), ...page }
        : { cmd: "history", with: num(target), ...page };
    },
  },
  ping: { usage: "ping", summary: "measure the round trip to the server", args: [], build: () => ({ cmd: "ping" }) },
  loginout: { usage: "loginout", summary: "log out, back to the menu", args: [], build: () => ({ cmd: "loginout" }) },
  quit: { usage: "quit", summary: "exit the client", args: [], build: () => ({ cmd: "quit" }) },
};

const ALIASES: Record<string, string> = { logout: "loginout", exit: "quit", "?": "help" };

/** The help text: one line per command. */
export const HELP: string = [
  "commands:",
  ...Object.values(SPECS).map((s) => `  ${s.usage.padEnd(44)} ${s.summary}`),
  "  the colon syntax works too: chat:5:hello, addfriend:5, creategroup:name:desc, addgroup:3, groupchat:3:hi",
].join("\n");

/**
 * Parses one command line. Returns null for a blank line. A usage error comes
 * back as `{ok: false, error}` with the command's usage.
 */
export function parseCommand(line: string): ParseResult | null {
  const trimmed = line.trim();
  if (trimmed === "") return null;
  const head = /^([A-Za-z?]+)(:|\s+|$)/.exec(trimmed);
  const word = head?.[1]?.toLowerCase() ?? trimmed.split(/[\s:]/, 1)[0]!;
  const name = ALIASES[word] ?? word;
  const spec = SPECS[name];
  if (!head || !spec) return { ok: false, error: `unknown command "${word}" (type help)` };
  const rest = trimmed.slice(head[0].length);
  const colon = head[2] === ":";
  const args = colon ? splitColons(rest, spec) : splitWords(rest, spec.args.length);
  const min = spec.args.length - (spec.optional ?? 0);
  if (args.length < min || args.length > spec.args.length) return usage(spec);
  for (let i = 0; i < args.length; i++) {
    if (!valid(spec.args[i]!, args[i]!)) return usage(spec);
  }
  return { ok: true, command: spec.build(args) };
}

export type MenuChoice = "login" | "register" | "quit";

/** The start menu: `1`/`login`, `2`/`register`, `3`/`quit`; null for anything else. */
export function parseMenuChoice(line: string): MenuChoice | null {
  switch (line.trim().toLowerCase()) {
    case "1":
    case "login":
      return "login";
    case "2":
    case "register":
      return "register";
    case "3":
    case "quit":
    case "exit":
      return "quit";
    default:
      return null;
  }
}

/**
 * Reads "name or id" at the login prompt: all digits is an id (the
 * references log in by id), anything else a name.
 */
export function parseLoginName(text: string): { user: number } | { name: string } {
  const t = text.trim();
  return /^[0-9]+$/.test(t) && isId(t) ? { user: Number(t) } : { name: t };
}

function usage(spec: Spec): ParseResult {
  return { ok: false, error: `usage: ${spec.usage}` };
}

/** Splits off up to n-1 words; the last argument keeps the rest of the line as typed. */
function splitWords(rest: string, n: number): string[] {
  const out: string[] = [];
  let s = rest.trim();
  while (s !== "" && out.length < n - 1) {
    const m = /^(\S+)\s*/.exec(s)!;
    out.push(m[1]!);
    s = s.slice(m[0].length);
  }
  if (s !== "") out.push(s);
  return out;
}

/** Colon fields; the last argument keeps any further colons (`chat:5:see: here`). */
function splitColons(rest: string, spec: Spec): string[] {
  // `history:g:3:100`: the `g:` belongs to the target.
  const gPrefix = spec.args[0] === "target" && /^g:/i.test(rest) ? "g" : "";
  const body = gPrefix ? rest.slice(2) : rest;
  const parts = body.split(":");
  const n = spec.args.length;
  const out = parts.length > n ? [...parts.slice(0, n - 1), parts.slice(n - 1).join(":")] : parts;
  if (gPrefix) out[0] = `g${out[0]}`;
  // `creategroup:name:` means no description; trailing empty optional fields drop.
  while (out.length > 0 && out[out.length - 1] === "" && out.length > n - (spec.optional ?? 0)) out.pop();
  return out.map((part, i) => (spec.args[i] === "text" ? part : part.trim()));
}

function valid(kind: Arg, value: string): boolean {
  switch (kind) {
    case "id":
      return isId(value);
    case "target":
      return isId(value.replace(/^g:?/i, ""));
    case "word":
    case "text":
      return value.trim() !== "";
    case "ban":
      return /^ban$/i.test(value);
    case "role":
      return /^(admin|normal)$/i.test(value);
  }
}

function isId(s: string): boolean {
  if (!/^[0-9]+$/.test(s)) return false;
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0;
}
