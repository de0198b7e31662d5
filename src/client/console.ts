/**
 * The console client: the reference projects' menu (login / register / quit)
 * and commands (`chat`, `addfriend`, `creategroup`, `addgroup`, `groupchat`,
 * `loginout`, ...), over the client library with autoAck and reconnect on.
 * On a terminal it prompts, hides passwords and keeps the typed line intact
 * when messages arrive; with piped input it reads plain lines and prints plain
 * lines, so scripts and tests can drive it.
 */
import { ChatClient, type ChatClientOptions } from "./connection.ts";
import { type Command, HELP, parseCommand, parseLoginName, parseMenuChoice } from "./console-commands.ts";
import { formatError, formatFriends, formatGroups, formatMessage, formatUser } from "./console-format.ts";
import { ConsoleIo, INTERRUPTED } from "./console-io.ts";
import type { ClientTlsOptions } from "./link.ts";
import { DEFAULTS } from "./options.ts";
import type { Friend, Group, GroupRole, LoginResult, UserRef } from "./types.ts";

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
}

type Next = "continue" | "quit";

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
    return await new ConsoleSession(client, io).run();
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
  #held: string[] | null = null;
  /** the connection is gone for good */
  #lost = false;
  /** we are closing the client ourselves */
  #closing = false;

  constructor(
    private readonly client: ChatClient,
    private readonly io: ConsoleIo,
  ) {
    this.#listen();
  }

  async run(): Promise<number> {
    try {
      const hello = await this.client.connect();
      this.io.print(`* connected to node ${hello.node}`);
    } catch (err) {
      this.io.print(formatError(err));
      return 1;
    }
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
    }
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
        this.io.print(`error (usage): choose 1 (login), 2 (register) or 3 (quit)`);
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
      for (const line of held) this.io.print(line);
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
    try {
      const user = await this.client.register(name.trim(), password);
      this.io.print(`ok: registered ${user.name} with id ${user.id}`);
    } catch (err) {
      this.io.print(formatError(err));
    }
    return "continue";
  }

  #loggedIn(result: LoginResult): void {
    this.#remember(result);
    this.io.print(`ok: logged in as ${formatUser(result.user)} on node ${this.client.node}`);
    for (const line of formatFriends(this.#friends.values())) this.io.print(line);
    for (const line of formatGroups(this.#groups.values())) this.io.print(line);
    this.io.print(`pending messages: ${result.pending}`);
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
      this.io.print(`error (usage): ${parsed.error}`);
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
      case "chat":
        print(`ok: sent mid ${(await c.send(command.to, command.text)).mid}`);
        break;
      case "groupchat":
        print(`ok: sent mid ${(await c.groupSend(command.group, command.text)).mid}`);
        break;
      case "addfriend": {
        const friend = await c.addFriend(command.user);
        this.#friends.set(friend.id, friend);
        print(`ok: ${formatUser(friend)} is now your friend (${friend.online ? "online" : "offline"})`);
        break;
      }
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
        await c.kick(command.group, command.user, command.ban ? { ban: true } : {});
        const who = this.#nameMember(command.group, command.user);
        this.#dropMember(command.group, command.user);
        print(`ok: removed ${who} from group ${command.group}${command.ban ? ", banned" : ""}`);
        break;
      }
      case "unban":
        await c.unban(command.group, command.user);
        print(`ok: user ${command.user} may join group ${command.group} again`);
        break;
      case "role":
        await c.setRole(command.group, command.user, command.role);
        this.#setRole(command.group, command.user, command.role);
        print(`ok: ${this.#nameMember(command.group, command.user)} is ${command.role} in group ${command.group}`);
        break;
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
        const isGroup = "group" in command;
        const messages = await c.history(isGroup ? { group: command.group, before } : { with: command.with, before });
        const what = isGroup ? `group ${command.group}` : this.#nameUser(command.with);
        print(`history with ${what}: ${messages.length} messages`);
        for (const m of messages) print(this.#formatMessage(m));
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

  // ---- pushes and connection events ----

  #listen(): void {
    const c = this.client;
    c.on("msg", (m) => this.#show(this.#formatMessage(m)));
    c.on("presence", (p) => {
      const friend = this.#friends.get(p.user);
      if (friend) friend.online = p.online;
      this.#show(`* ${this.#nameUser(p.user)} is ${p.online ? "online" : "offline"}`);
    });
    c.on("friend_added", (p) => {
      this.#friends.set(p.friend.id, p.friend);
      this.#show(`* ${formatUser(p.friend)} added you as a friend`);
    });
    c.on("member_joined", (p) => {
      const group = this.#groups.get(p.group);
      if (group && !group.members.some((m) => m.id === p.user.id)) {
        group.members.push({ ...p.user, role: "normal", online: true });
      }
      this.#show(`* ${formatUser(p.user)} joined group ${p.group}`);
    });
    c.on("member_left", (p) => {
      this.#dropMember(p.group, p.user.id);
      if (!p.by) return this.#show(`* ${formatUser(p.user)} left group ${p.group}`);
      const who = p.user.id === this.#me?.id ? "you were" : `${formatUser(p.user)} was`;
      this.#show(`* ${who} removed from group ${p.group} by ${formatUser(p.by)}`);
    });
    c.on("role_changed", (p) => {
      this.#setRole(p.group, p.user.id, p.role);
      const who = p.user.id === this.#me?.id ? "you are" : `${formatUser(p.user)} is`;
      this.#show(`* ${who} now ${p.role} in group ${p.group}`);
    });
    c.on("group_updated", (p) => {
      const group = this.#groups.get(p.group.id);
      if (group) Object.assign(group, { name: p.group.name, desc: p.group.desc });
      const desc = p.group.desc ? ` "${p.group.desc}"` : "";
      this.#show(`* group ${p.group.id} is now ${p.group.name}${desc}`);
    });
    c.on("group_deleted", (p) => {
      this.#groups.delete(p.group);
      this.#show(`* group ${p.group} was deleted`);
    });
    c.on("disconnected", ({ willReconnect }) => {
      this.#show(willReconnect ? "* connection lost, reconnecting..." : "* connection lost");
    });
    c.on("reconnected", ({ node, login, loginError }) => {
      this.#show(`* reconnected to node ${node}`);
      if (login) this.#remember(login);
      if (loginError && this.#me) {
        this.#me = undefined;
        this.#show(`* could not log back in: ${formatError(loginError)}`);
        this.io.interrupt(); // back to the menu
      }
    });
    c.on("close", () => {
      if (this.#closing) return;
      this.#lost = true;
      this.#show("* disconnected");
      this.io.interrupt();
    });
    c.on("error", (err) => this.#show(formatError(err)));
  }

  #show(line: string): void {
    if (this.#held) this.#held.push(line);
    else this.io.print(line);
  }

  #formatMessage(m: Parameters<typeof formatMessage>[0]): string {
    return formatMessage(m, this.#me?.id, (id) => this.#friends.get(id)?.name);
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
    return formatUser({ id, name: this.#friends.get(id)?.name ?? "user" });
  }
}
