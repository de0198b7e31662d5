/**
 * The console client: the reference projects' menu (login / register / quit)
 * and commands (`chat`, `addfriend`, `creategroup`, `addgroup`, `groupchat`,
 * `loginout`, ...) plus the 1.1 ones (`conversations`, `read`, `edit`,
 * `delete`, `unfriend`), over the client library with autoAck and reconnect
 * on and a ConversationList for the unread counts. Sent messages are shown
 * as message lines, like received ones; on a terminal, typing a `chat` or
 * `groupchat` line tells the other side (`typing`).
 * On a terminal it prompts, hides passwords and keeps the typed line intact
 * when messages arrive; with piped input it reads plain lines and prints plain
 * lines, so scripts and tests can drive it.
 */
import { ChatClient, type ChatClientOptions } from "./connection.ts";
import {
  type Command,
  HELP,
  parseCommand,
  parseLoginName,
  parseMenuChoice,
  typingTarget,
  type UserArg,
} from "./console-commands.ts";
import {
  formatConversations,
  formatDeletedPush,
  formatEditedPush,
  formatError,
  formatFriendRequestPush,
  formatRequests,
  formatFriends,
  formatGroupRef,
  formatGroups,
  formatHistoryEnd,
  formatMessage,
  formatReadPush,
  formatTypingPush,
  formatUser,
  formatUserId,
  type Names,
} from "./console-format.ts";
import { ConsoleIo, INTERRUPTED } from "./console-io.ts";
import { conversationKey, ConversationList } from "./conversation-list.ts";
import type { ClientTlsOptions } from "./link.ts";
import { DEFAULTS } from "./options.ts";
import { RequestList } from "./request-list.ts";
import { SessionStore } from "./session-store.ts";
import type { ChatMessage, ConversationRef, Friend, Group, GroupRole, LoginResult, UserRef } from "./types.ts";

export interface ConsoleOptions {
  /** server host (default: the client library's, "127.0.0.1") */
  host?: string;
  /** server port (default: the client library's, DEFAULT_PORT) */
  port?: number;
  /** connect with TLS, trusting the system's CAs (default false; implied by `ca`) */
  tls?: boolean;
  /** CA certificate(s) to trust, as PEM text or the path of a PEM file; implies `tls` */
  ca?: string;
  /** name the server's certificate must carry (default: `host`) */
  serverName?: string;
  /** where commands come from (default process.stdin) */
  input?: NodeJS.ReadableStream;
  /** where output goes (default process.stdout) */
  output?: NodeJS.WritableStream;
  /** terminal mode: prompts, redraw, hidden password (default: input and output are TTYs) */
  tty?: boolean;
  /** overrides for the client library (default: reconnect and autoAck on, 30 s request timeout) */
  client?: ChatClientOptions;
  /**
   * remember the session in this directory, per server address, and log in
   * with it at the next start; `loginout` forgets it (default: none, nothing
   * is remembered; `chat client` passes `$XDG_CONFIG_HOME/chat`)
   */
  sessionDir?: string;
}

type Next = "continue" | "quit";

/** `history` asks for pages of this many messages (the protocol's default). */
const HISTORY_PAGE = 50;
/** The server forwards one `typing` per conversation every 2 s; sending more often is wasted. */
const TYPING_EVERY_MS = 2_000;
/** A peer typing on is shown once, again only after this long without a `typing` from them. */
const TYPING_SHOWN_MS = 5_000;

/**
 * Runs the console client until the user quits or the input ends; resolves
 * with the exit code: 0, or 1 when the server could not be reached or the
 * connection was lost for good.
 */
export async function runConsole(options: ConsoleOptions = {}): Promise<number> {
  const io = new ConsoleIo({
    input: options.input ?? process.stdin,
    output: options.output ?? process.stdout,
    tty: options.tty,
  });
  try {
    let tls: boolean | ClientTlsOptions = options.tls ?? false;
    if (options.ca !== undefined) tls = { ca: await readPem(options.ca), serverName: options.serverName };
    else if (tls && options.serverName) tls = { serverName: options.serverName };
    const client = new ChatClient({
      host: options.host ?? DEFAULTS.host,
      port: options.port ?? DEFAULTS.port,
      tls,
      reconnect: true,
      autoAck: true,
      requestTimeoutMs: 30_000,
      ...options.client,
    });
    const store = options.sessionDir === undefined ? null : new SessionStore(options.sessionDir, client.options.host, client.options.port);
    return await new ConsoleSession(client, io, store).run();
  } catch (err) {
    io.print(formatError(err));
    return 1;
  } finally {
    io.close();
  }
}

/** PEM text as given, or read from the file it names. */
async function readPem(textOrPath: string): Promise<string> {
  return textOrPath.includes("-----BEGIN") ? textOrPath : await Bun.file(textOrPath).text();
}

class ConsoleSession {
  #me: UserRef | undefined;
  #friends = new Map<number, Friend>();
  #groups = new Map<number, Group>();
  /** lines that arrive while a login's summary is being printed */
  #held: Array<string | (() => string)> | null = null;
  /** the connection is gone for good */
  #lost = false;
  /** we are closing the client ourselves */
  #closing = false;
  readonly #conversations: ConversationList;
  readonly #requests: RequestList;
  /** this session asked to delete the account: its end is expected */
  #deleting = false;
  /** names learned with `find_user`, by id: what the replies to a command by name call the user */
  #found = new Map<number, string>();
  /** when this console last sent `typing`, per conversation key */
  #typingSent = new Map<string, number>();
  /** when a peer's `typing` last came, per `user conversation-key` */
  #typingSeen = new Map<string, number>();
  readonly #names: Names = {
    user: (id) => this.#userName(id),
    group: (id) => this.#groups.get(id)?.name ?? this.#conversations.get({ group: id })?.name,
  };

  /** writes of the remembered token, one after the other */
  #saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ChatClient,
    private readonly io: ConsoleIo,
    private readonly store: SessionStore | null,
  ) {
    this.#conversations = new ConversationList(client);
    this.#requests = new RequestList(client);
    this.#listen();
    io.onEdit((line) => this.#typing(line));
  }

  async run(): Promise<number> {
    try {
      const hello = await this.client.connect();
      this.io.print(`* connected to node ${hello.node}`);
    } catch (err) {
      this.io.print(formatError(err));
      return 1;
    }
    await this.#resume();
    try {
      for (;;) {
        if (this.#lost) return 1;
        const next = this.#me ? await this.#command() : await this.#menu();
        if (next === "quit") return 0;
      }
    } finally {
      // Sends the acks that wait and ends the connection.
      this.#closing = true;
      await this.client.close();
      await this.#saving;
    }
  }

  /** Logs in with the remembered session, if there is one; a refused one is forgotten. */
  async #resume(): Promise<void> {
    const token = await this.store?.load();
    if (token === undefined) return;
    this.#held = [];
    try {
      this.#loggedIn(await this.client.login({ token }));
    } catch (err) {
      this.io.print(`* the remembered session has ended: ${formatError(err)}`);
      this.#keep(null);
    } finally {
      const held = this.#held;
      this.#held = null;
      for (const line of held) this.io.print(typeof line === "string" ? line : line());
    }
  }

  /** Remembers a token (null: forgets the session); a failure is shown, not fatal. */
  #keep(token: string | null): void {
    const store = this.store;
    if (!store) return;
    this.#saving = this.#saving
      .then(() => (token === null ? store.forget() : store.save(token)))
      .catch((err) => this.#show(`* could not remember the session: ${formatError(err)}`));
  }

  // ---- menu ----

  async #menu(): Promise<Next> {
    this.io.print("1. login\n2. register\n3. quit");
    const line = await this.io.next("choice: ");
    if (line === null) return "quit";
    if (line === INTERRUPTED) return "continue";
    switch (parseMenuChoice(line)) {
      case "login":
        return this.#login();
      case "register":
        return this.#register();
      case "quit":
        return "quit";
      default:
        this.io.print("error: Choose 1 (login), 2 (register) or 3 (quit).");
        return "continue";
    }
  }

  async #login(): Promise<Next> {
    const who = await this.io.next("name or id: ");
    if (who === null) return "quit";
    if (who === INTERRUPTED) return "continue";
    const password = await this.io.next("password: ", { secret: true });
    if (password === null) return "quit";
    if (password === INTERRUPTED) return "continue";
    // Pending messages are pushed right after the reply: show them after the summary.
    this.#held = [];
    try {
      this.#loggedIn(await this.client.login({ ...parseLoginName(who), password }));
    } catch (err) {
      this.io.print(formatError(err));
    } finally {
      const held = this.#held;
      this.#held = null;
      for (const line of held) this.io.print(typeof line === "string" ? line : line());
    }
    return "continue";
  }

  async #register(): Promise<Next> {
    const name = await this.io.next("name: ");
    if (name === null) return "quit";
    if (name === INTERRUPTED) return "continue";
    const password = await this.io.next("password: ", { secret: true });
    if (password === null) return "quit";
    if (password === INTERRUPTED) return "continue";
    let user: UserRef;
    try {
      user = await this.client.register(name.trim(), password);
      this.io.print(`ok: registered ${user.name} with id ${user.id}`);
    } catch (err) {
      this.io.print(formatError(err));
      return "continue";
    }
    // The new user means to use the account now: log it in.
    this.#held = [];
    try {
      this.#loggedIn(await this.client.login({ user: user.id, password }));
    } catch (err) {
      this.io.print(formatError(err));
    } finally {
      const held = this.#held;
      this.#held = null;
      for (const line of held) this.io.print(typeof line === "string" ? line : line());
    }
    return "continue";
  }

  #loggedIn(result: LoginResult): void {
    this.#remember(result);
    this.io.print(`ok: logged in as ${formatUser(result.user)} on node ${this.client.node}`);
    for (const line of formatFriends(this.#friends.values())) this.io.print(line);
    for (const line of formatGroups(this.#groups.values())) this.io.print(line);
    this.io.print(`pending messages: ${result.pending}`);
    if (result.unread !== undefined) this.io.print(`unread messages: ${result.unread}`);
    if (result.requests !== undefined) this.io.print(`friend requests: ${result.requests}${result.requests > 0 ? " (type requests)" : ""}`);
    if (this.client.offers("requests")) {
      this.#requests.load().catch((err) => this.#show(formatError(err)));
    }
    if (this.client.offers("conversations")) {
      // In the background: `conversations` and `read` wait for it when they need it.
      this.#conversations.load().catch((err) => this.#show(formatError(err)));
    }
  }

  #remember(result: LoginResult): void {
    this.#me = result.user;
    this.#friends = new Map(result.friends.map((f) => [f.id, f]));
    this.#groups = new Map(result.groups.map((g) => [g.id, g]));
  }

  // ---- commands ----

  async #command(): Promise<Next> {
    const line = await this.io.next(`${this.#me!.name}> `);
    if (line === null) return "quit";
    if (line === INTERRUPTED) return "continue";
    const parsed = parseCommand(line);
    if (parsed === null) return "continue";
    if (!parsed.ok) {
      this.io.print(`error: ${parsed.error}`);
      return "continue";
    }
    try {
      return await this.#run(parsed.command);
    } catch (err) {
      this.io.print(formatError(err));
      return "continue";
    }
  }

  async #run(command: Command): Promise<Next> {
    const c = this.client;
    const print = (line: string) => this.io.print(line);
    switch (command.cmd) {
      case "help":
        print(HELP);
        break;
      case "chat": {
        const to = await this.#resolve(command.to);
        const { mid, ts } = await c.send(to, command.text);
        print(this.#formatMessage({ mid, ts, from: this.#me!.id, name: this.#me!.name, to, text: command.text }));
        break;
      }
      case "groupchat": {
        const { mid, ts } = await c.groupSend(command.group, command.text);
        const { group, text } = command;
        print(this.#formatMessage({ mid, ts, from: this.#me!.id, name: this.#me!.name, group, text }));
        break;
      }
      case "addfriend": {
        const user = await this.#resolve(command.user);
        // Under the consent policy add_friend only asks, and its reply is friend_request's.
        if (c.offers("consent")) return this.#request(user, "");
        const friend = await c.addFriend(user);
        this.#friends.set(friend.id, friend);
        print(`ok: ${formatUser(friend)} is now your friend (${friend.online ? "online" : "offline"})`);
        break;
      }
      case "request":
        return this.#request(await this.#resolve(command.user), command.note);
      case "requests": {
        if (this.#requests.state !== "ready") await this.#requests.load();
        for (const line of formatRequests(this.#requests.incoming(), this.#requests.outgoing())) print(line);
        break;
      }
      case "accept": {
        const friend = await c.acceptFriend(await this.#resolve(command.user));
        this.#friends.set(friend.id, friend);
        print(`ok: ${formatUser(friend)} is now your friend (${friend.online ? "online" : "offline"})`);
        break;
      }
      case "decline": {
        const user = await this.#resolve(command.user);
        const name = this.#nameRequester(user);
        await c.declineFriend(user);
        print(`ok: declined the request of ${name}`);
        break;
      }
      case "block": {
        const user = await this.#resolve(command.user);
        const name = this.#nameRequester(user);
        await c.block(user);
        this.#friends.delete(user);
        print(`ok: blocked ${name}`);
        break;
      }
      case "unblock": {
        const user = await this.#resolve(command.user);
        await c.unblock(user);
        print(`ok: unblocked ${this.#nameRequester(user)}`);
        break;
      }
      case "blocked": {
        const blocked = await c.blocked();
        print(blocked.length === 0 ? "blocked: nobody" : `blocked (${blocked.length}):`);
        for (const u of blocked) print(`  ${formatUser(u)}`);
        break;
      }
      case "find": {
        const user = await c.findUser(command.name);
        this.#found.set(user.id, user.name);
        print(`found: ${formatUser(user)}`);
        break;
      }
      case "passwd":
        return this.#passwd();
      case "deleteaccount":
        return this.#deleteAccount();
      case "creategroup": {
        const group = await c.createGroup(command.name, command.desc || undefined);
        this.#groups.set(group.id, { ...group, members: [{ ...this.#me!, role: group.role, online: true }] });
        print(`ok: created group ${group.id} ${group.name}`);
        break;
      }
      case "addgroup": {
        const group = await c.joinGroup(command.group);
        this.#groups.set(group.id, group);
        const members = (group.members ?? []).map(formatUser).join(", ");
        print(`ok: joined group ${group.id} ${group.name}, members: ${members}`);
        break;
      }
      case "leavegroup":
        await c.leaveGroup(command.group);
        this.#groups.delete(command.group);
        print(`ok: left group ${command.group}`);
        break;
      case "kick": {
        const user = await this.#resolve(command.user);
        await c.kick(command.group, user, command.ban ? { ban: true } : {});
        const who = this.#nameMember(command.group, user);
        this.#dropMember(command.group, user);
        print(`ok: removed ${who} from group ${command.group}${command.ban ? ", banned" : ""}`);
        break;
      }
      case "unban": {
        const user = await this.#resolve(command.user);
        await c.unban(command.group, user);
        print(`ok: user ${user} may join group ${command.group} again`);
        break;
      }
      case "role": {
        const user = await this.#resolve(command.user);
        await c.setRole(command.group, user, command.role);
        this.#setRole(command.group, user, command.role);
        print(`ok: ${this.#nameMember(command.group, user)} is ${command.role} in group ${command.group}`);
        break;
      }
      case "rename": {
        const group = await c.updateGroup(command.group, { name: command.name });
        const known = this.#groups.get(group.id);
        if (known) known.name = group.name;
        print(`ok: group ${group.id} is now named ${group.name}`);
        break;
      }
      case "deletegroup":
        await c.deleteGroup(command.group);
        this.#groups.delete(command.group);
        print(`ok: deleted group ${command.group}`);
        break;
      case "friends": {
        const friends = await c.friends();
        this.#friends = new Map(friends.map((f) => [f.id, f]));
        for (const line of formatFriends(friends)) print(line);
        break;
      }
      case "groups": {
        const groups = await c.groups();
        this.#groups = new Map(groups.map((g) => [g.id, g]));
        for (const line of formatGroups(groups)) print(line);
        break;
      }
      case "history": {
        const { before } = command;
        const ref: ConversationRef = "group" in command ? { group: command.group } : { with: await this.#resolve(command.with) };
        const messages = await c.history({ ...ref, before, limit: HISTORY_PAGE });
        print(`history with ${this.#nameConversation(ref)}: ${messages.length} ${messages.length === 1 ? "message" : "messages"}`);
        for (const m of messages) print(this.#formatMessage(m));
        print(formatHistoryEnd(ref, messages, HISTORY_PAGE));
        break;
      }
      case "conversations": {
        await this.#loadConversations();
        for (const line of formatConversations(this.#conversations.list(), this.#myId, this.#names)) print(line);
        break;
      }
      case "read": {
        const ref: ConversationRef = "group" in command ? { group: command.group } : { with: await this.#resolve(command.with) };
        await this.#loadConversations();
        const position = await this.#conversations.markRead(ref);
        const what = this.#nameConversation(ref);
        print(position === null ? `ok: nothing to read with ${what}` : `ok: read ${what} up to mid ${position}`);
        break;
      }
      case "edit":
        await c.edit(command.mid, command.text);
        print(`ok: edited mid ${command.mid}`);
        break;
      case "delete":
        await c.deleteMessage(command.mid);
        print(`ok: deleted mid ${command.mid}`);
        break;
      case "unfriend": {
        const user = await this.#resolve(command.user);
        const name = this.#nameUser(user);
        await c.removeFriend(user);
        this.#friends.delete(user);
        print(`ok: ${name} is no longer your friend`);
        break;
      }
      case "ping":
        print(`ok: pong in ${(await c.ping()).toFixed(1)} ms`);
        break;
      case "loginout":
        await c.logout();
        this.#me = undefined;
        this.#friends.clear();
        this.#groups.clear();
        print("ok: logged out");
        break;
      case "quit":
        return "quit";
    }
    return "continue";
  }

  /** `request`, and `addfriend` under the consent policy. */
  async #request(user: number, note: string): Promise<Next> {
    const result = await this.client.friendRequest(user, note || undefined);
    if ("friend" in result) {
      this.#friends.set(result.friend.id, result.friend);
      this.io.print(`ok: ${formatUser(result.friend)} had asked you too: you are friends now`);
    } else {
      this.io.print(`ok: asked ${this.#nameRequester(user)} to be your friend`);
    }
    return "continue";
  }

  /** Asks a password twice: "quit" when the input ended, null when interrupted or the two differ (said so). */
  async #askTwice(first: string, again: string): Promise<{ password: string } | null | "quit"> {
    const a = await this.io.next(first, { secret: true });
    if (a === null) return "quit";
    if (a === INTERRUPTED) return null;
    const b = await this.io.next(again, { secret: true });
    if (b === null) return "quit";
    if (b === INTERRUPTED) return null;
    if (a !== b) {
      this.io.print("error: the two passwords differ; nothing changed");
      return null;
    }
    return { password: a };
  }

  async #passwd(): Promise<Next> {
    const old = await this.io.next("old password: ", { secret: true });
    if (old === null) return "quit";
    if (old === INTERRUPTED) return "continue";
    const fresh = await this.#askTwice("new password: ", "new password again: ");
    if (fresh === "quit") return "quit";
    if (fresh === null) return "continue";
    await this.client.changePassword(old, fresh.password);
    this.io.print("ok: password changed; your other sessions can no longer log back in");
    return "continue";
  }

  async #deleteAccount(): Promise<Next> {
    this.io.print("deleting your account cannot be undone: your friends, groups and message texts go with it");
    const asked = await this.#askTwice("password: ", "password again: ");
    if (asked === "quit") return "quit";
    if (asked === null) return "continue";
    const { password } = asked;
    this.#deleting = true;
    try {
      await this.client.deleteAccount(password);
    } catch (err) {
      this.#deleting = false;
      throw err;
    }
    this.#me = undefined;
    this.io.print("ok: account deleted");
    return "quit";
  }

  /** A user as typed: an id as it is, a name looked up (`find_user`, else the friends'). */
  async #resolve(user: UserArg): Promise<number> {
    if (typeof user === "number") return user;
    if (this.client.offers("find")) {
      const found = await this.client.findUser(user);
      this.#found.set(found.id, found.name);
      return found.id;
    }
    for (const f of this.#friends.values()) if (f.name === user) return f.id;
    throw new Error(`no friend named ${user} (this server cannot look up other names: use the id)`);
  }

  /** `bob(8)` when a friend, a request or a group names them, else `user 8`. */
  #nameRequester(id: number): string {
    const name = this.#userName(id) ?? this.#requests.from(id)?.user.name ?? this.#found.get(id);
    return name ? formatUser({ id, name }) : `user ${id}`;
  }

  // ---- pushes and connection events ----

  #listen(): void {
    const c = this.client;
    // Every login (a relogin after a reconnect too) and password change brings the token to remember next.
    c.on("ok", ({ op }) => {
      if ((op === "login" || op === "change_password") && c.token) this.#keep(c.token);
      else if (op === "logout") this.#keep(null);
    });
    c.on("msg", (m) => {
      // A message ends the sender's typing: the next `typing` shows again.
      this.#typingSeen.delete(`${m.from} ${conversationKey(m.group !== undefined ? { group: m.group } : { with: m.from })}`);
      // Formatted when shown: pending messages wait for the login summary, and the names it brings.
      this.#show(() => this.#formatMessage(m));
    });
    c.on("presence", (p) => {
      const friend = this.#friends.get(p.user);
      if (friend) friend.online = p.online;
      this.#show(`* ${this.#nameUser(p.user)} is ${p.online ? "online" : "offline"}`);
    });
    c.on("friend_added", (p) => {
      this.#friends.set(p.friend.id, p.friend);
      this.#show(`* ${formatUser(p.friend)} added you as a friend`);
    });
    c.on("friend_removed", (p) => {
      // The push is the same whether the friend removed us or another session of ours removed them.
      this.#show(`* ${this.#nameUser(p.user)} is no longer your friend`);
      this.#friends.delete(p.user);
    });
    c.on("member_joined", (p) => {
      const group = this.#groups.get(p.group);
      if (group && !group.members.some((m) => m.id === p.user.id)) {
        group.members.push({ ...p.user, role: "normal", online: true });
      }
      const who = p.user.id === this.#myId ? "you" : formatUser(p.user);
      this.#show(`* ${who} joined ${formatGroupRef(p.group, this.#names)}`);
    });
    c.on("member_left", (p) => {
      this.#dropMember(p.group, p.user.id);
      const where = formatGroupRef(p.group, this.#names);
      if (!p.by) return this.#show(`* ${p.user.id === this.#myId ? "you" : formatUser(p.user)} left ${where}`);
      const who = p.user.id === this.#myId ? "you were" : `${formatUser(p.user)} was`;
      this.#show(`* ${who} removed from ${where} by ${formatUser(p.by)}`);
    });
    c.on("role_changed", (p) => {
      this.#setRole(p.group, p.user.id, p.role);
      const who = p.user.id === this.#myId ? "you are" : `${formatUser(p.user)} is`;
      this.#show(`* ${who} now ${p.role} in ${formatGroupRef(p.group, this.#names)}`);
    });
    c.on("group_updated", (p) => {
      const group = this.#groups.get(p.group.id);
      if (group) Object.assign(group, { name: p.group.name, desc: p.group.desc });
      const desc = p.group.desc ? ` "${p.group.desc}"` : "";
      this.#show(`* group ${p.group.id} is now ${p.group.name}${desc}`);
    });
    c.on("group_deleted", (p) => {
      const where = formatGroupRef(p.group, this.#names);
      this.#groups.delete(p.group);
      this.#show(`* ${where} was deleted`);
    });
    c.on("friend_request", (p) => this.#show(formatFriendRequestPush(p)));
    c.on("account_deleted", () => {
      this.#keep(null);
      if (this.#deleting) return;
      this.#me = undefined;
      this.#show("* your account was deleted (in another session)");
    });
    c.on("read", (p) => this.#show(formatReadPush(p, this.#myId, this.#names)));
    c.on("typing", (p) => {
      const key = `${p.user} ${conversationKey(p.group !== undefined ? { group: p.group } : { with: p.user })}`;
      const now = Date.now();
      const last = this.#typingSeen.get(key);
      this.#typingSeen.set(key, now);
      if (last === undefined || now - last > TYPING_SHOWN_MS) this.#show(formatTypingPush(p, this.#names));
    });
    c.on("edited", (p) => this.#show(formatEditedPush(p, this.#myId, this.#names)));
    c.on("deleted", (p) => this.#show(formatDeletedPush(p, this.#myId, this.#names)));
    c.on("disconnected", ({ willReconnect }) => {
      if (this.#deleting) return;
      this.#show(willReconnect ? "* connection lost, reconnecting..." : "* connection lost");
    });
    c.on("reconnected", ({ node, login, loginError }) => {
      this.#show(`* reconnected to node ${node}`);
      if (login) this.#remember(login);
      if (loginError) this.#keep(null);
      if (loginError && this.#me) {
        this.#me = undefined;
        this.#show(`* could not log back in: ${formatError(loginError)}`);
        this.io.interrupt(); // back to the menu
      }
    });
    c.on("close", () => {
      if (this.#closing || this.#deleting) return;
      this.#lost = true;
      this.#show("* disconnected");
      this.io.interrupt();
    });
    c.on("error", (err) => this.#show(formatError(err)));
  }

  #show(line: string | (() => string)): void {
    if (this.#held) this.#held.push(line);
    else this.io.print(typeof line === "string" ? line : line());
  }

  /** The logged-in user's id, known from the moment the login's reply arrives (before `#me`). */
  get #myId(): number | undefined {
    return this.client.user?.id;
  }

  #formatMessage(m: ChatMessage): string {
    return formatMessage(m, this.#myId, this.#names);
  }

  /** A member leaves the cached group; the whole group when it is this user. */
  #dropMember(group: number, user: number): void {
    if (user === this.#me?.id) return void this.#groups.delete(group);
    const g = this.#groups.get(group);
    if (g) g.members = g.members.filter((m) => m.id !== user);
  }

  #setRole(group: number, user: number, role: GroupRole): void {
    const g = this.#groups.get(group);
    if (!g) return;
    if (user === this.#me?.id) g.role = role;
    const m = g.members.find((x) => x.id === user);
    if (m) m.role = role;
  }

  /** `bob(8)` when the group's cached members or the friends know the name. */
  #nameMember(group: number, id: number): string {
    const name = this.#groups.get(group)?.members.find((m) => m.id === id)?.name ?? this.#friends.get(id)?.name;
    return name ? formatUser({ id, name }) : `user ${id}`;
  }

  #nameUser(id: number): string {
    return formatUserId(id, this.#names);
  }

  /** `bob(8)` or `group 3 team` */
  #nameConversation(ref: ConversationRef): string {
    return "group" in ref ? formatGroupRef(ref.group, this.#names) : this.#nameUser(ref.with);
  }

  /** A friend's name, else a fellow member's, else the conversation list's. */
  #userName(id: number): string | undefined {
    const me = this.client.user;
    if (id === me?.id) return me.name;
    const friend = this.#friends.get(id);
    if (friend) return friend.name;
    for (const g of this.#groups.values()) {
      const member = g.members.find((m) => m.id === id);
      if (member) return member.name;
    }
    return this.#conversations.get({ with: id })?.name;
  }

  /** The conversation list, loaded (once) if it is not yet. */
  async #loadConversations(): Promise<void> {
    if (!this.client.offers("conversations")) {
      throw new Error("this server does not offer conversations (protocol 1.1)");
    }
    if (this.#conversations.state !== "ready") await this.#conversations.load();
    await this.#conversations.settled();
  }

  /** A half-typed `chat`/`groupchat` line: tells that conversation, at most once per TYPING_EVERY_MS. */
  #typing(line: string): void {
    if (!this.#me || !this.client.connected || !this.client.offers("typing")) return;
    const ref = typingTarget(line);
    if (!ref) return;
    const key = conversationKey(ref);
    const now = Date.now();
    if (now - (this.#typingSent.get(key) ?? 0) < TYPING_EVERY_MS) return;
    this.#typingSent.set(key, now);
    // Best effort: a wrong id shows its error when the line is sent, not while it is typed.
    this.client.typing(ref).catch(() => {});
  }
}
