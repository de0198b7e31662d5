/**
 * What the web page knows, and everything it asks the server: one ChatClient
 * over the page's WebSocket, its ConversationList and RequestList, the
 * friends and groups with their presence, a Timeline per conversation, and
 * the connection's state. Views read it and subscribe to `change`; they
 * never talk to the client themselves.
 *
 * The session token is kept in localStorage: a reload (or a reconnect, which
 * the client does by itself) logs back in with it, and logging out revokes it.
 */
import { ChatClient } from "../client/connection.ts";
import { conversationKey, ConversationList } from "../client/conversation-list.ts";
import { ClientError, ConnectionClosedError, RequestError } from "../client/errors.ts";
import { newCid } from "../client/client-base.ts";
import { RequestList } from "../client/request-list.ts";
import type {
  ChatMessage,
  Conversation,
  ConversationRef,
  Friend,
  Group,
  GroupMember,
  LoginResult,
  UserRef,
} from "../client/types.ts";
import { Emitter } from "../client/emitter.ts";
import { Timeline } from "./timeline.ts";

export type Status = "connecting" | "online" | "reconnecting" | "offline";

/** What changed, for the views to redraw only that. */
export type Change = "auth" | "status" | "list" | "people" | "groups" | "timeline" | "typing" | "requests";

export interface WebChatEvents {
  change: { what: Change; key?: string };
  /** a failed action the user should read about */
  notice: string;
}

export interface WebChatOptions {
  /** the server's WebSocket, default this page's own `/ws` */
  url?: string;
  /** where the token is kept (default localStorage) */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
}

const TOKEN_KEY = "chat.token";
/** Messages written and not yet stored, per user: `chat.outbox.<id>`. */
const OUTBOX_KEY = "chat.outbox";

interface OutboxEntry {
  key: string;
  cid: string;
  text: string;
  ts: number;
}
/** How long someone counts as typing after their `typing` push (PROTOCOL.md: about 5 s). */
const TYPING_MS = 5_000;
/** The server forwards one `typing` per 2 s; sending more often only costs requests. */
const TYPING_EVERY_MS = 2_000;
/** Messages per history page. */
const PAGE = 50;
/** How many pages a reconnect's catch-up goes back at most (past that, what was missed shows after a reload). */
const CATCH_UP_PAGES = 20;

/** A user as the people views show them. */
export interface Person extends UserRef {
  online: boolean;
  /** local time they were last known to have a session online */
  seenOnline: number;
}

export function keyOf(ref: ConversationRef): string {
  return conversationKey(ref);
}

export function refOf(key: string): ConversationRef {
  const id = Number(key.slice(2));
  return key.startsWith("g:") ? { group: id } : { with: id };
}

export function pageWsUrl(): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

export class WebChat extends Emitter<WebChatEvents> {
  readonly client: ChatClient;
  readonly list: ConversationList;
  readonly requests: RequestList;
  status: Status = "connecting";
  me: UserRef | undefined;
  readonly friends = new Map<number, Person>();
  readonly groups = new Map<number, Group>();
  blocked: UserRef[] = [];
  /** who is typing where: key → user id → until when */
  readonly typing = new Map<string, Map<number, number>>();
  #timelines = new Map<string, Timeline>();
  #lastTyping = new Map<string, number>();
  /** read requests on their way: key → up to which mid */
  #reading = new Map<string, number>();
  readonly #storage: NonNullable<WebChatOptions["storage"]>;

  constructor(options: WebChatOptions = {}) {
    super();
    this.#storage = options.storage ?? localStorage;
    this.client = new ChatClient({ url: options.url ?? pageWsUrl(), reconnect: true, autoAck: true, requestTimeoutMs: 30_000 });
    this.list = new ConversationList(this.client);
    this.requests = new RequestList(this.client);
    this.#follow();
  }

  // ---- connection and session ----

  /** Connects (trying again until the server answers), then logs in with the kept token if there is one. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.connect();
        break;
      } catch {
        // The server may be starting or between nodes: say so, and try again.
        this.#setStatus("offline");
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
        this.#setStatus("connecting");
      }
    }
    this.#setStatus("online");
    await this.#resume();
  }

  /**
   * Logs in with the kept token, if any; shows the login form otherwise. A
   * token the server refuses is forgotten; one that could not be tried (the
   * connection dropped) is tried again at the reconnect.
   */
  async #resume(): Promise<void> {
    const token = this.#storage.getItem(TOKEN_KEY);
    if (token) {
      try {
        await this.#loggedIn(await this.client.loginWithToken(token));
        return;
      } catch (err) {
        if (err instanceof RequestError) this.#storage.removeItem(TOKEN_KEY); // expired or revoked: the login form it is
      }
    }
    this.emit("change", { what: "auth" });
  }

  async login(name: string, password: string): Promise<void> {
    await this.#loggedIn(await this.client.login({ name, password }));
  }

  async register(name: string, password: string): Promise<void> {
    await this.client.register(name, password);
    await this.login(name, password);
  }

  /** Logs out for real: the server revokes the token, and the page forgets it. */
  async logout(): Promise<void> {
    this.#storage.removeItem(TOKEN_KEY);
    // Logging out forgets what this page knew of the user, unsent messages included.
    const outbox = this.#outboxKey();
    if (outbox) this.#storage.removeItem(outbox);
    try {
      await this.client.logout();
    } finally {
      this.#clear();
    }
  }

  async #loggedIn(result: LoginResult): Promise<void> {
    this.#storage.setItem(TOKEN_KEY, result.token);
    this.#adopt(result);
    this.emit("change", { what: "auth" });
    this.#restoreOutbox();
    await this.#loadLists();
  }

  // ---- the outbox: messages written and not yet stored survive a reload ----

  #outboxKey(): string | undefined {
    return this.me ? `${OUTBOX_KEY}.${this.me.id}` : undefined;
  }

  #saveOutbox(): void {
    const key = this.#outboxKey();
    if (!key) return;
    const unsent: OutboxEntry[] = [];
    for (const [conversation, t] of this.#timelines)
      for (const p of t.unsent()) if (p.cid) unsent.push({ key: conversation, cid: p.cid, text: p.text, ts: p.ts });
    try {
      if (unsent.length === 0) this.#storage.removeItem(key);
      else this.#storage.setItem(key, JSON.stringify(unsent));
    } catch {
      // Storage full or refused (private mode): the messages still go while the page is open.
    }
  }

  /** Sends again, with their cids, the messages a previous page wrote and did not see stored (the server stores each once). */
  #restoreOutbox(): void {
    const key = this.#outboxKey();
    const raw = key ? this.#storage.getItem(key) : null;
    if (!raw || !this.me) return;
    let entries: OutboxEntry[];
    try {
      entries = JSON.parse(raw) as OutboxEntry[];
      if (!Array.isArray(entries)) return;
    } catch {
      return; // not ours to read: nothing to send
    }
    for (const e of entries) {
      if (typeof e?.key !== "string" || typeof e.cid !== "string" || typeof e.text !== "string") continue;
      const t = this.timeline(e.key);
      if (t.pending(e.cid)) continue;
      t.addPending({ cid: e.cid, from: this.me.id, name: this.me.name, text: e.text, ts: Number(e.ts) || Date.now(), status: "sending" });
      void this.#deliver(e.key, e.cid);
    }
  }

  /**
   * Loads the conversation and request lists (they keep themselves up to date
   * from then on, and reload at each reconnect once loaded). One cut off by a
   * lost connection is loaded at the reconnect.
   */
  async #loadLists(): Promise<void> {
    const loads = [
      this.list.state === "idle" ? this.list.load() : undefined,
      this.client.offers("requests") && this.requests.state === "idle" ? this.requests.load() : undefined,
      this.refreshBlocked(),
    ];
    for (const r of await Promise.allSettled(loads)) {
      if (r.status === "rejected" && !(r.reason instanceof ConnectionClosedError)) this.emit("notice", describe(r.reason));
    }
    this.emit("change", { what: "list" });
  }

  /** Friends and groups from a login reply (the first, or the one after a reconnect). */
  #adopt(result: LoginResult): void {
    this.me = result.user;
    const now = Date.now();
    const before = new Map(this.friends);
    this.friends.clear();
    for (const f of result.friends) this.friends.set(f.id, person(f, f.online ? now : (before.get(f.id)?.seenOnline ?? 0)));
    this.groups.clear();
    for (const g of result.groups) this.groups.set(g.id, g);
    this.emit("change", { what: "people" });
    this.emit("change", { what: "groups" });
  }

  #clear(): void {
    this.me = undefined;
    this.friends.clear();
    this.groups.clear();
    this.blocked = [];
    this.typing.clear();
    this.#timelines.clear();
    this.emit("change", { what: "auth" });
  }

  #setStatus(status: Status): void {
    if (this.status === status) return;
    this.status = status;
    this.emit("change", { what: "status" });
  }

  /** The client's pushes and lifecycle, into this state. */
  #follow(): void {
    const c = this.client;
    c.on("disconnected", ({ willReconnect }) => this.#setStatus(willReconnect ? "reconnecting" : "offline"));
    c.on("reconnecting", () => this.#setStatus("reconnecting"));
    c.on("reconnected", ({ login, loginError }) => {
      this.#setStatus("online");
      if (login) {
        this.#storage.setItem(TOKEN_KEY, login.token);
        this.#adopt(login);
        // Messages this user's other sessions sent meanwhile are not pushed here: fetch what is open again.
        for (const [key, t] of this.#timelines) if (t.loaded) void this.#catchUp(key).catch(() => {
          // Lost again: the next reconnect fetches it.
        });
        void this.#loadLists();
      } else if (loginError || this.me) {
        this.#storage.removeItem(TOKEN_KEY);
        this.#clear();
      } else {
        // Not logged in yet: the first login with the kept token may have been cut off.
        void this.#resume();
      }
    });
    c.on("close", () => this.#setStatus("offline"));
    c.on("account_deleted", () => {
      this.#storage.removeItem(TOKEN_KEY);
      this.#clear();
    });
    c.on("msg", (m) => this.#message(m));
    c.on("edited", (p) => {
      const key = this.#keyOfMessage(p);
      if (key && this.#timelines.get(key)?.edit(p.mid, p.text, p.edited)) this.emit("change", { what: "timeline", key });
    });
    c.on("deleted", (p) => {
      const key = this.#keyOfMessage(p);
      if (key && this.#timelines.get(key)?.delete(p.mid, p.deleted)) this.emit("change", { what: "timeline", key });
    });
    c.on("typing", (p) => {
      const key = p.group !== undefined ? `g:${p.group}` : `u:${p.user}`;
      const who = this.typing.get(key) ?? new Map<number, number>();
      who.set(p.user, Date.now() + TYPING_MS);
      this.typing.set(key, who);
      this.emit("change", { what: "typing", key });
      setTimeout(() => this.emit("change", { what: "typing", key }), TYPING_MS + 50);
    });
    c.on("presence", (p) => {
      const f = this.friends.get(p.user);
      if (f) {
        f.online = p.online;
        if (p.online) f.seenOnline = Date.now();
      }
      for (const g of this.groups.values()) for (const m of g.members) if (m.id === p.user) m.online = p.online;
      this.emit("change", { what: "people" });
      this.emit("change", { what: "groups" });
    });
    c.on("friend_added", (p) => {
      this.friends.set(p.friend.id, person(p.friend, p.friend.online ? Date.now() : 0));
      this.emit("change", { what: "people" });
      this.#fetchIfShown(`u:${p.friend.id}`);
    });
    c.on("friend_removed", (p) => {
      this.friends.delete(p.user);
      this.emit("change", { what: "people" });
    });
    c.on("member_joined", (p) => {
      const g = this.groups.get(p.group);
      if (g && !g.members.some((m) => m.id === p.user.id)) {
        g.members.push({ ...p.user, role: "normal", online: this.friends.get(p.user.id)?.online ?? true });
      }
      this.emit("change", { what: "groups" });
    });
    c.on("member_left", (p) => {
      if (p.user.id === this.me?.id) {
        this.groups.delete(p.group);
        this.emit("notice", p.by ? `${p.by.name} removed you from a group` : "you left a group");
      } else {
        const g = this.groups.get(p.group);
        if (g) g.members = g.members.filter((m) => m.id !== p.user.id);
      }
      this.emit("change", { what: "groups" });
    });
    c.on("role_changed", (p) => {
      const g = this.groups.get(p.group);
      const m = g?.members.find((x) => x.id === p.user.id);
      if (m) m.role = p.role;
      if (g && p.user.id === this.me?.id) g.role = p.role;
      this.emit("change", { what: "groups" });
    });
    c.on("group_updated", (p) => {
      const g = this.groups.get(p.group.id);
      if (g) Object.assign(g, { name: p.group.name, desc: p.group.desc });
      this.emit("change", { what: "groups" });
      this.emit("change", { what: "list" });
    });
    c.on("group_deleted", (p) => {
      this.groups.delete(p.group);
      this.emit("change", { what: "groups" });
    });
    // One-to-one read receipts live in the list's `peer_read`; redraw the open timeline's ticks too.
    c.on("read", (p) => {
      if (p.user !== this.me?.id && p.with !== undefined) this.emit("change", { what: "timeline", key: `u:${p.with}` });
    });
    this.list.on("change", () => this.emit("change", { what: "list" }));
    this.requests.on("change", () => this.emit("change", { what: "requests" }));
  }

  /** A conversation opened while its history could not be read (not yet a friend): read it now. */
  #fetchIfShown(key: string): void {
    const t = this.#timelines.get(key);
    if (t && !t.loaded) {
      void this.#catchUp(key).catch(() => {
        // Still not readable, or the connection dropped: opening it again tries again.
      });
    }
  }

  #keyOfMessage(m: { from: number; to?: number; group?: number }): string | undefined {
    if (m.group !== undefined) return `g:${m.group}`;
    const other = m.from === this.me?.id ? m.to : m.from;
    return other === undefined ? undefined : `u:${other}`;
  }

  #message(m: ChatMessage): void {
    const key = this.#keyOfMessage(m);
    if (!key) return;
    const t = this.#timelines.get(key);
    if (t?.loaded && t.addStored([m])) this.emit("change", { what: "timeline", key });
    // A message ends its sender's typing.
    if (this.typing.get(key)?.delete(m.from)) this.emit("change", { what: "typing", key });
  }

  // ---- conversations ----

  timeline(key: string): Timeline {
    let t = this.#timelines.get(key);
    if (!t) {
      t = new Timeline();
      this.#timelines.set(key, t);
    }
    return t;
  }

  /** The list's entry for a conversation, when it has messages. */
  conversation(key: string): Conversation | undefined {
    return this.list.get(refOf(key));
  }

  /** A conversation's display name. */
  nameOf(key: string): string {
    const ref = refOf(key);
    if ("group" in ref) return this.groups.get(ref.group)?.name ?? this.conversation(key)?.name ?? `group ${ref.group}`;
    return this.friends.get(ref.with)?.name ?? (this.conversation(key)?.name || `user ${ref.with}`);
  }

  /** Loads the newest page of a conversation the first time it is opened. */
  async open(key: string): Promise<void> {
    const t = this.timeline(key);
    if (!t.loaded) await this.#catchUp(key);
    await this.markRead(key);
  }

  /**
   * The newest page of a conversation; after a reconnect, pages back until
   * it meets what was shown before: what the user's other sessions sent
   * meanwhile is not pending for this one, so only history brings it.
   */
  async #catchUp(key: string): Promise<void> {
    const t = this.timeline(key);
    const shownUpTo = t.loaded ? t.newestMid : undefined;
    let before: number | undefined;
    for (let page = 1; ; page++) {
      const messages = await this.client.history({ ...refOf(key), ...(before === undefined ? {} : { before }), limit: PAGE });
      if (!t.loaded && messages.length < PAGE) t.complete = true;
      t.loaded = true;
      t.addStored(messages);
      if (shownUpTo === undefined || messages.length < PAGE || page >= CATCH_UP_PAGES) break;
      const oldest = Math.min(...messages.map((m) => m.mid));
      if (oldest <= shownUpTo) break;
      before = oldest;
    }
    this.emit("change", { what: "timeline", key });
  }

  /** Fetches the page before the oldest message shown; resolves with how many came. */
  async loadOlder(key: string): Promise<number> {
    const t = this.timeline(key);
    const before = t.oldestMid;
    if (!t.loaded || t.complete || t.loadingOlder || before === undefined) return 0;
    t.loadingOlder = true;
    try {
      const messages = await this.client.history({ ...refOf(key), before, limit: PAGE });
      if (messages.length < PAGE) t.complete = true;
      t.addStored(messages);
      return messages.length;
    } finally {
      t.loadingOlder = false;
      this.emit("change", { what: "timeline", key });
    }
  }

  /** Marks everything shown as read (the newest message the list or the timeline knows). */
  async markRead(key: string): Promise<void> {
    const entry = this.conversation(key);
    const newest = Math.max(entry?.last.mid ?? 0, this.timeline(key).newestMid ?? 0);
    if (newest === 0 || !entry || (entry.read >= newest && entry.unread === 0)) return;
    if ((this.#reading.get(key) ?? 0) >= newest) return; // already on its way
    this.#reading.set(key, newest);
    try {
      await this.client.read(refOf(key), newest);
    } finally {
      if (this.#reading.get(key) === newest) this.#reading.delete(key);
    }
  }

  /**
   * Sends a message: shown at once as "sending" with a fresh cid; the client
   * sends it again by itself after a reconnect (same cid, stored once). A
   * send that fails for good shows as "failed" and `retry` tries it again.
   */
  send(key: string, text: string): void {
    if (!this.me) return;
    const cid = newCid();
    this.timeline(key).addPending({ cid, from: this.me.id, name: this.me.name, text, ts: Date.now(), status: "sending" });
    this.emit("change", { what: "timeline", key });
    this.#saveOutbox();
    void this.#deliver(key, cid);
  }

  retry(key: string, cid: string): void {
    const p = this.timeline(key).pending(cid);
    if (!p || p.status !== "failed") return;
    p.status = "sending";
    p.error = undefined;
    this.emit("change", { what: "timeline", key });
    void this.#deliver(key, cid);
  }

  /** Gives up on a message that failed: it is no longer shown nor sent again. */
  discard(key: string, cid: string): void {
    const p = this.timeline(key).pending(cid);
    if (!p || p.status !== "failed") return;
    this.timeline(key).drop(cid);
    this.#saveOutbox();
    this.emit("change", { what: "timeline", key });
  }

  async #deliver(key: string, cid: string): Promise<void> {
    const t = this.timeline(key);
    const p = t.pending(cid);
    if (!p) return;
    const ref = refOf(key);
    try {
      const r = "group" in ref
        ? await this.client.groupSend(ref.group, p.text, { cid })
        : await this.client.send(ref.with, p.text, { cid });
      t.confirm(cid, r.mid, r.ts);
    } catch (err) {
      p.status = "failed";
      p.error = describe(err);
    }
    this.#saveOutbox();
    this.emit("change", { what: "timeline", key });
  }

  async edit(key: string, mid: number, text: string): Promise<void> {
    const edited = await this.client.edit(mid, text);
    if (this.timeline(key).edit(mid, text, edited)) this.emit("change", { what: "timeline", key });
  }

  async deleteMessage(key: string, mid: number): Promise<void> {
    const deleted = await this.client.deleteMessage(mid);
    if (this.timeline(key).delete(mid, deleted)) this.emit("change", { what: "timeline", key });
  }

  /** Tells the others this user types, at most once per 2 s (what the server forwards anyway). */
  typed(key: string): void {
    if (!this.client.offers("typing") || !this.client.connected) return;
    const now = Date.now();
    if (now - (this.#lastTyping.get(key) ?? 0) < TYPING_EVERY_MS) return;
    this.#lastTyping.set(key, now);
    this.client.typing(refOf(key)).catch(() => {
      // Typing is a hint: a lost one needs no word to the user.
    });
  }

  /** Who is typing in a conversation now. */
  typists(key: string): string[] {
    const who = this.typing.get(key);
    if (!who) return [];
    const now = Date.now();
    const names: string[] = [];
    for (const [user, until] of who) {
      if (until < now) who.delete(user);
      else names.push(this.#userName(user, key));
    }
    return names;
  }

  #userName(user: number, key: string): string {
    const ref = refOf(key);
    if ("group" in ref) return this.groups.get(ref.group)?.members.find((m) => m.id === user)?.name ?? `user ${user}`;
    return this.friends.get(user)?.name ?? `user ${user}`;
  }

  /**
   * The tick of an own one-to-one message: read once the friend's read
   * position reaches it; delivered once the friend had a session online
   * after it was stored (online recipients get it pushed at once, the
   * others at their next login); else sent.
   */
  tick(key: string, mid: number, ts: number, okAt?: number): "sent" | "delivered" | "read" {
    const entry = this.conversation(key);
    if (entry && "peer_read" in entry && entry.peer_read >= mid) return "read";
    const ref = refOf(key);
    const friend = "with" in ref ? this.friends.get(ref.with) : undefined;
    if (friend && (friend.online || friend.seenOnline >= (okAt ?? ts))) return "delivered";
    return "sent";
  }

  // ---- people ----

  findUser(name: string): Promise<UserRef> {
    return this.client.findUser(name);
  }

  /** Adds a friend (open policy) or asks them (consent); resolves with which it was. */
  async befriend(user: number): Promise<"friends" | "requested"> {
    if (this.client.offers("consent")) {
      const r = await this.client.friendRequest(user);
      if ("friend" in r) this.friends.set(r.friend.id, person(r.friend, Date.now()));
      this.emit("change", { what: "people" });
      return "friend" in r ? "friends" : "requested";
    }
    const f = await this.client.addFriend(user);
    this.friends.set(f.id, person(f, f.online ? Date.now() : 0));
    this.emit("change", { what: "people" });
    this.#fetchIfShown(`u:${f.id}`);
    return "friends";
  }

  async accept(user: number): Promise<void> {
    const f = await this.client.acceptFriend(user);
    this.friends.set(f.id, person(f, f.online ? Date.now() : 0));
    this.emit("change", { what: "people" });
    this.#fetchIfShown(`u:${f.id}`);
  }

  decline(user: number): Promise<void> {
    return this.client.declineFriend(user);
  }

  async unfriend(user: number): Promise<void> {
    await this.client.removeFriend(user);
    this.friends.delete(user);
    this.emit("change", { what: "people" });
  }

  async block(user: number): Promise<void> {
    await this.client.block(user);
    this.friends.delete(user);
    await this.refreshBlocked();
  }

  async unblock(user: number): Promise<void> {
    await this.client.unblock(user);
    await this.refreshBlocked();
  }

  async refreshBlocked(): Promise<void> {
    if (!this.client.offers("block")) return;
    this.blocked = await this.client.blocked();
    this.emit("change", { what: "people" });
  }

  // ---- groups ----

  async createGroup(name: string, desc: string): Promise<number> {
    const g = await this.client.createGroup(name, desc || undefined);
    this.groups.set(g.id, { ...g, members: [{ ...this.me!, role: g.role, online: true }] });
    this.emit("change", { what: "groups" });
    return g.id;
  }

  async joinGroup(id: number): Promise<void> {
    const g = await this.client.joinGroup(id);
    this.groups.set(g.id, g);
    this.emit("change", { what: "groups" });
    this.#fetchIfShown(`g:${g.id}`);
  }

  async leaveGroup(id: number): Promise<void> {
    await this.client.leaveGroup(id);
    this.groups.delete(id);
    this.emit("change", { what: "groups" });
  }

  async deleteGroup(id: number): Promise<void> {
    await this.client.deleteGroup(id);
    this.groups.delete(id);
    this.emit("change", { what: "groups" });
  }

  async updateGroup(id: number, name: string, desc: string): Promise<void> {
    const g = await this.client.updateGroup(id, { name, desc });
    const mine = this.groups.get(id);
    if (mine) Object.assign(mine, { name: g.name, desc: g.desc });
    this.emit("change", { what: "groups" });
    this.emit("change", { what: "list" });
  }

  async setRole(group: number, user: number, role: "admin" | "normal"): Promise<void> {
    await this.client.setRole(group, user, role);
    const m = this.#member(group, user);
    if (m) m.role = role;
    this.emit("change", { what: "groups" });
  }

  async kick(group: number, user: number, ban: boolean): Promise<void> {
    await this.client.kick(group, user, { ban });
    const g = this.groups.get(group);
    if (g) g.members = g.members.filter((m) => m.id !== user);
    this.emit("change", { what: "groups" });
  }

  /** Fetches the groups again: members' online state is pushed only for friends. */
  async refreshGroups(): Promise<void> {
    const groups = await this.client.groups();
    this.groups.clear();
    for (const g of groups) this.groups.set(g.id, g);
    this.emit("change", { what: "groups" });
  }

  #member(group: number, user: number): GroupMember | undefined {
    return this.groups.get(group)?.members.find((m) => m.id === user);
  }
}

function person(f: Friend, seenOnline: number): Person {
  return { id: f.id, name: f.name, online: f.online, seenOnline };
}

/** An error as a sentence for the page. */
export function describe(err: unknown): string {
  if (err instanceof RequestError) return `${err.message || err.code} (${err.code})`;
  if (err instanceof ConnectionClosedError) return "not connected";
  if (err instanceof ClientError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
