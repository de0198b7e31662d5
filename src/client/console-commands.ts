/**
 * Parsing of the console client's commands, as pure functions. Two syntaxes:
 * words (`chat 5 hello there`) and the reference projects' colons
 * (`chat:5:hello there`). The last argument takes the rest of the line, so a
 * message may contain spaces and colons. Wherever a command takes a user,
 * a name works as well as an id (all digits is an id, anything else a name).
 */

/** A user as typed: an id, or a name for the console to look up. */
export type UserArg = number | string;

export type Command =
  | { cmd: "help" }
  | { cmd: "chat"; to: UserArg; text: string }
  | { cmd: "addfriend"; user: UserArg }
  | { cmd: "creategroup"; name: string; desc: string }
  | { cmd: "addgroup"; group: number }
  | { cmd: "groupchat"; group: number; text: string }
  | { cmd: "leavegroup"; group: number }
  | { cmd: "kick"; group: number; user: UserArg; ban: boolean }
  | { cmd: "unban"; group: number; user: UserArg }
  | { cmd: "role"; group: number; user: UserArg; role: "admin" | "normal" }
  | { cmd: "rename"; group: number; name: string }
  | { cmd: "deletegroup"; group: number }
  | { cmd: "friends" }
  | { cmd: "groups" }
  | { cmd: "history"; with: UserArg; before?: number }
  | { cmd: "history"; group: number; before?: number }
  | { cmd: "conversations" }
  | { cmd: "read"; with: UserArg }
  | { cmd: "read"; group: number }
  | { cmd: "edit"; mid: number; text: string }
  | { cmd: "delete"; mid: number }
  | { cmd: "unfriend"; user: UserArg }
  | { cmd: "request"; user: UserArg; note: string }
  | { cmd: "requests" }
  | { cmd: "accept"; user: UserArg }
  | { cmd: "decline"; user: UserArg }
  | { cmd: "block"; user: UserArg }
  | { cmd: "unblock"; user: UserArg }
  | { cmd: "blocked" }
  | { cmd: "find"; name: string }
  | { cmd: "passwd" }
  | { cmd: "deleteaccount" }
  | { cmd: "ping" }
  | { cmd: "loginout" }
  | { cmd: "quit" };

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string };

type Arg = "id" | "user" | "text" | "word" | "target" | "ban" | "role";

interface Spec {
  usage: string;
  summary: string;
  args: Arg[];
  /** how many trailing args may be left out */
  optional?: number;
  build(args: string[]): Command;
}

const num = (s: string | undefined) => Number(s);
/** `8` is user 8, `bob` the user named bob. */
const user = (s: string | undefined): UserArg => (/^[0-9]+$/.test(s!) ? Number(s) : s!);

/** `g:3` (or `g3`) is group 3; `8` friend 8, `bob` the friend named bob. */
const GROUP_TARGET = /^g:?([0-9]+)$/i;
function target(s: string): { with: UserArg } | { group: number } {
  const g = GROUP_TARGET.exec(s);
  return g ? { group: num(g[1]) } : { with: user(s) };
}

const SPECS: Record<string, Spec> = {
  help: { usage: "help", summary: "show this list", args: [], build: () => ({ cmd: "help" }) },
  chat: {
    usage: "chat <friend> <message>",
    summary: "send a message to a friend (by name or id)",
    args: ["user", "text"],
    build: ([to, text]) => ({ cmd: "chat", to: user(to), text: text! }),
  },
  addfriend: {
    usage: "addfriend <user>",
    summary: "add a friend (where the server asks for consent: send a request)",
    args: ["user"],
    build: ([u]) => ({ cmd: "addfriend", user: user(u) }),
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
    usage: "kick <groupid> <user> [ban]",
    summary: "remove a member from a group you run; with ban, for good",
    args: ["id", "user", "ban"],
    optional: 1,
    build: ([group, u, ban]) => ({ cmd: "kick", group: num(group), user: user(u), ban: ban !== undefined }),
  },
  unban: {
    usage: "unban <groupid> <user>",
    summary: "let a banned user join a group again",
    args: ["id", "user"],
    build: ([group, u]) => ({ cmd: "unban", group: num(group), user: user(u) }),
  },
  role: {
    usage: "role <groupid> <user> <admin|normal>",
    summary: "make a member of your group an admin, or normal again",
    args: ["id", "user", "role"],
    build: ([group, u, role]) => ({ cmd: "role", group: num(group), user: user(u), role: role!.toLowerCase() as "admin" | "normal" }),
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
    usage: "history <friend|g:groupid> [before-mid]",
    summary: "show the last 50 messages of a conversation, or the 50 before a mid",
    args: ["target", "id"],
    optional: 1,
    build: ([t, before]) => ({ cmd: "history", ...target(t!), ...(before === undefined ? {} : { before: num(before) }) }),
  },
  conversations: {
    usage: "conversations",
    summary: "list your conversations with their unread counts and last messages",
    args: [],
    build: () => ({ cmd: "conversations" }),
  },
  read: {
    usage: "read <friend|g:groupid>",
    summary: "mark a conversation read up to its last message",
    args: ["target"],
    build: ([t]) => ({ cmd: "read", ...target(t!) }),
  },
  edit: {
    usage: "edit <mid> <new text>",
    summary: "change the text of a message you sent",
    args: ["id", "text"],
    build: ([mid, text]) => ({ cmd: "edit", mid: num(mid), text: text! }),
  },
  delete: {
    usage: "delete <mid>",
    summary: "recall a message (yours; in a group you run, anyone's)",
    args: ["id"],
    build: ([mid]) => ({ cmd: "delete", mid: num(mid) }),
  },
  unfriend: {
    usage: "unfriend <user>",
    summary: "end a friendship (for both of you)",
    args: ["user"],
    build: ([u]) => ({ cmd: "unfriend", user: user(u) }),
  },
  request: {
    usage: "request <user> [note]",
    summary: "ask someone to be your friend, with an optional note",
    args: ["user", "text"],
    optional: 1,
    build: ([u, note]) => ({ cmd: "request", user: user(u), note: note ?? "" }),
  },
  requests: { usage: "requests", summary: "list the friend requests to you and from you", args: [], build: () => ({ cmd: "requests" }) },
  accept: {
    usage: "accept <user>",
    summary: "accept a friend request",
    args: ["user"],
    build: ([u]) => ({ cmd: "accept", user: user(u) }),
  },
  decline: {
    usage: "decline <user>",
    summary: "decline a friend request (nobody is told)",
    args: ["user"],
    build: ([u]) => ({ cmd: "decline", user: user(u) }),
  },
  block: {
    usage: "block <user>",
    summary: "stop someone asking you for friendship; ends a friendship with them",
    args: ["user"],
    build: ([u]) => ({ cmd: "block", user: user(u) }),
  },
  unblock: {
    usage: "unblock <user>",
    summary: "lift a block",
    args: ["user"],
    build: ([u]) => ({ cmd: "unblock", user: user(u) }),
  },
  blocked: { usage: "blocked", summary: "list the people you blocked", args: [], build: () => ({ cmd: "blocked" }) },
  find: {
    usage: "find <name>",
    summary: "find someone's id by their exact name (the rest of the line)",
    args: ["text"],
    build: ([name]) => ({ cmd: "find", name: name! }),
  },
  passwd: { usage: "passwd", summary: "change your password (asks the old one and the new one twice)", args: [], build: () => ({ cmd: "passwd" }) },
  "delete-account": {
    usage: "delete-account",
    summary: "delete your account for good (asks your password twice)",
    args: [],
    build: () => ({ cmd: "deleteaccount" }),
  },
  ping: { usage: "ping", summary: "measure the round trip to the server", args: [], build: () => ({ cmd: "ping" }) },
  loginout: { usage: "loginout", summary: "log out, back to the menu", args: [], build: () => ({ cmd: "loginout" }) },
  quit: { usage: "quit", summary: "exit the client", args: [], build: () => ({ cmd: "quit" }) },
};

const ALIASES: Record<string, string> = {
  logout: "loginout",
  exit: "quit",
  "?": "help",
  convs: "conversations",
  password: "passwd",
  deleteaccount: "delete-account",
};

/** The help text: one line per command. */
export const HELP: string = [
  "commands:",
  ...Object.values(SPECS).map((s) => `  ${s.usage.padEnd(44)} ${s.summary}`),
  "  the colon syntax works too: chat:5:hello, addfriend:5, creategroup:name:desc, addgroup:3, groupchat:3:hi, edit:12:new text",
  "  convs is short for conversations; every message line ends with its mid",
].join("\n");

/**
 * Parses one command line. Returns null for a blank line. A usage error comes
 * back as `{ok: false, error}` with the command's usage.
 */
export function parseCommand(line: string): ParseResult | null {
  const trimmed = line.trim();
  if (trimmed === "") return null;
  const head = /^([A-Za-z?](?:[A-Za-z-]*[A-Za-z])?)(:|\s+|$)/.exec(trimmed);
  const word = head?.[1]?.toLowerCase() ?? trimmed.split(/[\s:]/, 1)[0]!;
  const name = ALIASES[word] ?? word;
  const spec = SPECS[name];
  if (!head || !spec) return { ok: false, error: `unknown command "${word}" (type help)` };
  const rest = trimmed.slice(head[0].length);
  const colon = head[2] === ":";
  const args = colon ? splitColons(rest, spec) : splitWords(rest, spec.args.length);
  const min = spec.args.length - (spec.optional ?? 0);
  if (args.length > spec.args.length) return usage(spec, `${name} takes nothing more`);
  if (args.length < min) return usage(spec, `${name} needs ${andList(placeholders(spec).slice(args.length, min))}`);
  for (let i = 0; i < args.length; i++) {
    if (valid(spec.args[i]!, args[i]!)) continue;
    const what = placeholders(spec)[i]!;
    return usage(spec, args[i]!.trim() === "" ? `${name} needs ${phrase(what)}` : `"${args[i]}" is not ${describe(spec.args[i]!, what)}`);
  }
  return { ok: true, command: spec.build(args) };
}

/**
 * The conversation a half-typed line is writing to, once it has a friend
 * or group id and the start of a message (`chat 8 hel`, `groupchat:3:h`):
 * what the console reports as typing. Null for anything else.
 */
export function typingTarget(line: string): { with: number } | { group: number } | null {
  const m = /^\s*(chat|groupchat)(?:\s+|:)([0-9]+)(?:\s+|:)\S/i.exec(line);
  if (!m || !isId(m[2]!)) return null;
  const id = Number(m[2]);
  return m[1]!.toLowerCase() === "chat" ? { with: id } : { group: id };
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

/** A usage error as a sentence, then the command's form: `chat needs a message. Type: chat <friend> <message>`. */
function usage(spec: Spec, what: string): ParseResult {
  return { ok: false, error: `${what}. Type: ${spec.usage}` };
}

/** The names of a command's arguments, from its usage: `kick <groupid> <user> [ban]` → groupid, user, ban. */
function placeholders(spec: Spec): string[] {
  return [...spec.usage.matchAll(/[<[]([^>\]]+)[>\]]/g)].map((m) => m[1]!);
}

/** Each usage placeholder in words, for usage errors. */
const PHRASES: Record<string, string> = {
  friend: "a friend",
  message: "a message",
  user: "a user",
  name: "a name",
  desc: "a description",
  groupid: "a group id",
  ban: '"ban"',
  "admin|normal": "admin or normal",
  "friend|g:groupid": "a friend or a group (g:groupid)",
  "before-mid": "a mid to page back from",
  mid: "a message id (mid)",
  "new text": "the new text",
  note: "a note",
};

const phrase = (placeholder: string) => PHRASES[placeholder] ?? placeholder;

function andList(placeholders: string[]): string {
  const words = placeholders.map(phrase);
  return words.length <= 1 ? (words[0] ?? "more") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

/** What an argument must be, for "… is not …". */
function describe(kind: Arg, placeholder: string): string {
  switch (kind) {
    case "id":
      return `${phrase(placeholder)} (a whole number above 0)`;
    case "user":
      return "a user id or a name (one word)";
    case "target":
      return "a friend (id or name) or a group as g:groupid";
    default:
      return phrase(placeholder);
  }
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
    case "user":
      // A name is one word; a colon would be the next field's.
      return /^[0-9]+$/.test(value) ? isId(value) : /^[^\s:]+$/.test(value);
    case "target": {
      const g = GROUP_TARGET.exec(value);
      return g ? isId(g[1]!) : valid("user", value);
    }
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
