/**
 * The user's conversation list (protocol 1.1 `conversations`) for one
 * ChatClient, kept up to date from pushes and from what this session does
 * itself (the client's `ok` event): new messages move a conversation to the
 * top and count as unread when they are someone else's and above the read
 * position; reads, edits, deletes, unfriending and leaving apply as they
 * arrive; a reconnect reloads the list.
 *
 * ```ts
 * const list = new ConversationList(client);
 * list.on("change", () => render(list.list(), list.unread));
 * await list.load();
 * ```
 *
 * Unread counts stay exact without asking the server, except when a read
 * position stops short of a conversation's last message (another session
 * read part of it): then that one entry is fetched again, with
 * `conversations` `{before: last + 1, limit: 1}`, which answers exactly that
 * conversation while its last message is still `last`. When the entry
 * changed while the answer was on its way, it asks again (`refreshAttempts`);
 * after that, the count stays as estimated until the conversation's next
 * event asks once more.
 */
import type { ChatClient } from "./connection.ts";
import { ConnectionClosedError } from "./errors.ts";
import { Emitter } from "./emitter.ts";
import { LoadGate, type LoadState } from "./load-gate.ts";
import type {
  ChatMessage,
  Conversation,
  ConversationRef,
  DeletedPush,
  EditedPush,
  Push,
  ReadPush,
  Reply,
} from "./types.ts";

export interface ConversationListOptions {
  /** conversations asked for per `conversations` request while loading, 1-100 (default 100) */
  pageSize?: number;
  /** how often an entry is fetched again when it changed while being fetched (default 3) */
  refreshAttempts?: number;
}

export const CONVERSATION_LIST_DEFAULTS = {
  pageSize: 100,
  refreshAttempts: 3,
} satisfies ConversationListOptions;

/** What changed: the whole list (loaded, reloaded, cleared), or one entry. */
export type ConversationChange =
  | { kind: "reset" }
  | { kind: "updated"; key: string; conversation: Conversation }
  | { kind: "removed"; key: string };

export interface ConversationListEvents {
  change: ConversationChange;
  /** a reload or a refetch that failed (other than by the connection closing, which a reconnect repairs) */
  error: Error;
}

/** idle: not loaded (or logged out); loading: the first pages are on their way; ready: kept up to date. */
export type ConversationListState = LoadState;

/** How many deleted mids are remembered for a `msg` that arrives after its `deleted` push. */
const DELETED_MEMORY = 1000;

/** `u:8` for a one-to-one conversation with user 8, `g:3` for group 3. */
export function conversationKey(ref: ConversationRef | Conversation): string {
  return "group" in ref ? `g:${ref.group}` : `u:${ref.with}`;
}

export class ConversationList extends Emitter<ConversationListEvents> {
  readonly #client: ChatClient;
  readonly #options: Required<ConversationListOptions>;
  readonly #gate = new LoadGate();
  #entries = new Map<string, Conversation>();
  /** Bumped on every change of an entry: a refetch that saw another version asks again. */
  #versions = new Map<string, number>();
  /** Entries the server has listed (loaded, or found by a refetch); the others come from a single message. */
  #confirmed = new Set<string>();
  /** Entries whose unread count is an estimate: their next event fetches them again. */
  #stale = new Set<string>();
  #refreshing = new Set<string>();
  /** mid → when deleted, for a `msg` that arrives after its `deleted` push. */
  #deleted = new Map<number, number>();
  #loading: Promise<void> | null = null;
  /** The load and refetches on their way. */
  #inFlight = new Set<Promise<void>>();
  /** The user whose list this is. */
  #user: number | undefined;
  readonly #unsubscribe: Array<() => void>;

  constructor(client: ChatClient, options: ConversationListOptions = {}) {
    super();
    const o = { ...CONVERSATION_LIST_DEFAULTS, ...options };
    if (!(Number.isInteger(o.pageSize) && o.pageSize >= 1 && o.pageSize <= 100)) {
      throw new TypeError("pageSize must be an integer from 1 to 100");
    }
    if (!(Number.isInteger(o.refreshAttempts) && o.refreshAttempts >= 1)) {
      throw new TypeError("refreshAttempts must be a positive integer");
    }
    this.#options = o;
    this.#client = client;
    this.#unsubscribe = [
      client.on("msg", (m) => this.#apply(() => this.#message(m))),
      client.on("read", (p) => this.#apply(() => this.#read(p))),
      client.on("edited", (p) => this.#apply(() => this.#edited(p))),
      client.on("deleted", (p) => this.#apply(() => this.#deletedPush(p))),
      client.on("friend_removed", (p) => this.#apply(() => this.#remove(`u:${p.user}`))),
      client.on("member_left", (p) => {
        if (p.user.id === this.#user) this.#apply(() => this.#remove(`g:${p.group}`));
      }),
      client.on("push", (p) => this.#groupPush(p)),
      client.on("ok", (e) => this.#ok(e.op, e.fields, e.reply)),
      client.on("reconnected", ({ login, loginError }) => {
        if (this.#gate.state === "idle") return;
        if (loginError || !login) this.#reset();
        else this.#reload();
      }),
    ];
  }

  get state(): ConversationListState {
    return this.#gate.state;
  }

  /** Unread messages over all conversations. */
  get unread(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.unread;
    return n;
  }

  /** The conversations, newest last message first (copies). */
  list(): Conversation[] {
    return [...this.#entries.values()].sort((a, b) => b.last.mid - a.last.mid).map(copy);
  }

  /** One conversation (a copy), or undefined when it has no message (or is not the user's). */
  get(ref: ConversationRef): Conversation | undefined {
    const e = this.#entries.get(conversationKey(ref));
    return e && copy(e);
  }

  /**
   * Loads the whole list (paging through `conversations`) and keeps it up to
   * date from then on. Needs a logged-in client whose server offers
   * `conversations`. A load while one is on its way joins it.
   */
  load(): Promise<void> {
    this.#loading ??= this.#track(this.#load().finally(() => (this.#loading = null)));
    return this.#loading;
  }

  /**
   * Resolves once no load and no refetch of an entry is on its way: what
   * `list()` shows is then what the server said, updated by the pushes since
   * (a conversation that one message has just added has its name then).
   */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Marks a conversation read up to `mid` (default: its last message);
   * resolves with the read position now, or null when the conversation has
   * no message to read. The list updates from the reply.
   */
  async markRead(ref: ConversationRef, mid?: number): Promise<number | null> {
    const upTo = mid ?? this.#entries.get(conversationKey(ref))?.last.mid;
    if (upTo === undefined) return null;
    return this.#client.read(ref, upTo);
  }

  /** Stops following the client; the list keeps its last state. */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#gate.reset();
  }

  // ---- loading ----

  async #load(): Promise<void> {
    const generation = this.#gate.begin();
    this.#user = this.#client.user?.id;
    const limit = this.#options.pageSize;
    try {
      const all = new Map<string, Conversation>();
      let before: number | undefined;
      for (;;) {
        const page = await this.#client.conversations(before === undefined ? { limit } : { limit, before });
        if (!this.#gate.current(generation)) return;
        for (const c of page) all.set(conversationKey(c), copy(c));
        if (page.length < limit) break;
        before = page.at(-1)!.last.mid;
      }
      this.#entries = all;
      this.#confirmed = new Set(all.keys());
      this.#stale.clear();
      this.#versions.clear();
      const held = this.#gate.ready();
      this.emit("change", { kind: "reset" });
      for (const apply of held) apply();
    } catch (err) {
      // What is shown stays; it is followed again once a load succeeds.
      this.#gate.failed(generation);
      throw err;
    }
  }

  #reload(): void {
    this.load().catch((err: Error) => {
      // A connection lost again during the reload reloads at the next reconnect.
      if (!(err instanceof ConnectionClosedError)) this.emit("error", err);
    });
  }

  #reset(): void {
    this.#gate.reset();
    this.#entries.clear();
    this.#confirmed.clear();
    this.#stale.clear();
    this.#versions.clear();
    this.#user = undefined;
    this.emit("change", { kind: "reset" });
  }

  /** Applies an event now, after the load when one is on its way, or not at all when the list is idle. */
  #apply(event: () => void): void {
    this.#gate.apply(event);
  }

  // ---- events ----

  #message(m: ChatMessage): void {
    const me = this.#user;
    const ref = refOf(m, me);
    if (!ref) return;
    const key = conversationKey(ref);
    const deletedAt = m.deleted ?? this.#deleted.get(m.mid);
    // A push's `type` is no part of the message body.
    const { type: _push, ...fields } = m as ChatMessage & { type?: string };
    const body = deletedAt !== undefined && m.deleted === undefined ? { ...fields, text: "", deleted: deletedAt } : fields;
    const counts = m.from !== me && deletedAt === undefined;
    const e = this.#entries.get(key);
    if (!e) {
      // A conversation the list has not seen: its first message, or one the
      // list missed. The server has the name and the exact counts.
      const name = !("group" in ref) && m.from !== me ? m.name : "";
      const base = { name, last: body, unread: counts ? 1 : 0, read: 0 };
      this.#entries.set(key, "group" in ref ? { group: ref.group, ...base } : { with: ref.with, ...base, peer_read: 0 });
      this.#changed(key);
      this.#refresh(key);
      return;
    }
    // At or below the last message: already counted (a replay, a duplicate).
    if (m.mid <= e.last.mid) return;
    e.last = body;
    if (counts && m.mid > e.read) e.unread++;
    this.#changed(key);
    if (this.#stale.has(key)) this.#refresh(key);
  }

  #read(p: ReadPush): void {
    const key = p.group !== undefined ? `g:${p.group}` : `u:${p.with}`;
    if (p.user === this.#user) this.#ownRead(key, p.mid);
    else {
      const e = this.#entries.get(key);
      if (!e || !("peer_read" in e) || p.mid <= e.peer_read) return;
      e.peer_read = p.mid;
      this.#changed(key);
    }
  }

  #ownRead(key: string, position: number): void {
    const e = this.#entries.get(key);
    if (!e || position <= e.read) return;
    e.read = position;
    if (position >= e.last.mid) e.unread = 0;
    this.#changed(key);
    // Stopped short of the last message: which of those above are someone else's is not known here.
    if (position < e.last.mid && e.unread > 0) this.#refresh(key);
  }

  #edited(p: EditedPush): void {
    const ref = refOf(p, this.#user);
    if (ref) this.#editLast(conversationKey(ref), p.mid, p.text, p.edited);
  }

  #editLast(key: string, mid: number, text: string, edited: number): void {
    const e = this.#entries.get(key);
    if (!e || e.last.mid !== mid) return;
    e.last = { ...e.last, text, edited };
    this.#changed(key);
  }

  #deletedPush(p: DeletedPush): void {
    this.#rememberDeleted(p.mid, p.deleted);
    const ref = refOf(p, this.#user);
    const key = ref && conversationKey(ref);
    const e = key && this.#entries.get(key);
    if (!key || !e) return;
    let changed = false;
    if (e.last.mid === p.mid) {
      e.last = { ...e.last, text: "", deleted: p.deleted };
      changed = true;
    }
    // A message above the last one has not arrived yet: it will arrive as deleted and not count.
    if (p.from !== this.#user && p.mid > e.read && p.mid <= e.last.mid && e.unread > 0) {
      e.unread--;
      changed = true;
    }
    if (changed) this.#changed(key);
  }

  /** This session's own requests: the server pushes them to the user's other sessions only. */
  #ok(op: string, fields: Record<string, unknown>, reply: Reply): void {
    if (op === "logout") return this.#reset();
    if (op === "login") {
      const id = (reply.user as { id?: number } | undefined)?.id;
      if (this.#gate.state !== "idle" && id !== this.#user) this.#reset();
      return;
    }
    this.#apply(() => this.#own(op, fields, reply));
  }

  #own(op: string, fields: Record<string, unknown>, reply: Reply): void {
    const me = this.#client.user;
    switch (op) {
      case "send":
      case "group_send": {
        if (!me) return;
        const where = op === "send" ? { to: fields.to as number } : { group: fields.group as number };
        const cid = typeof fields.cid === "string" ? { cid: fields.cid } : {};
        const text = fields.text as string;
        this.#message({ mid: reply.mid as number, from: me.id, name: me.name, ...where, text, ts: reply.ts as number, ...cid });
        return;
      }
      case "read": {
        const key = fields.group !== undefined ? `g:${fields.group}` : `u:${fields.with}`;
        this.#ownRead(key, reply.read as number);
        return;
      }
      case "edit": {
        const key = this.#keyOfLast(fields.mid as number);
        if (key) this.#editLast(key, fields.mid as number, fields.text as string, reply.edited as number);
        return;
      }
      case "delete":
        return this.#ownDelete(reply.mid as number, reply.deleted as number);
      case "remove_friend":
        return this.#remove(`u:${fields.user}`);
      case "leave_group":
      case "delete_group":
        return this.#remove(`g:${fields.group}`);
    }
  }

  /** A delete by this session says only the mid: the conversation is found by it when it is a last message. */
  #ownDelete(mid: number, deleted: number): void {
    this.#rememberDeleted(mid, deleted);
    for (const [key, e] of this.#entries) {
      if (e.last.mid === mid) {
        if (e.last.from !== this.#user && mid > e.read && e.unread > 0) e.unread--;
        e.last = { ...e.last, text: "", deleted };
        this.#changed(key);
      } else if (mid > e.read && mid < e.last.mid && e.unread > 0) {
        // Maybe someone else's unread message (a group admin deletes any): ask.
        this.#refresh(key);
      }
    }
  }

  /** `group_deleted` and `group_updated` (group administration), typed here only as far as read. */
  #groupPush(p: Push): void {
    if (p.type === "group_deleted" && typeof p.group === "number") {
      const group = p.group;
      this.#apply(() => this.#remove(`g:${group}`));
    } else if (p.type === "group_updated") {
      const g = p.group as { id?: unknown; name?: unknown } | undefined;
      if (typeof g?.id !== "number" || typeof g.name !== "string") return;
      const { id, name } = g as { id: number; name: string };
      this.#apply(() => {
        const e = this.#entries.get(`g:${id}`);
        if (!e || e.name === name) return;
        e.name = name;
        this.#changed(`g:${id}`);
      });
    }
  }

  #remove(key: string): void {
    if (!this.#entries.delete(key)) return;
    this.#confirmed.delete(key);
    this.#stale.delete(key);
    this.#bump(key);
    this.emit("change", { kind: "removed", key });
  }

  // ---- refetching one entry ----

  /** Fetches one entry again for its exact counts; see the file's comment. */
  #refresh(key: string): void {
    // The one on its way sees the change (a new version) and asks again.
    if (this.#refreshing.has(key)) return;
    void this.#track(this.#refetch(key));
  }

  #track(p: Promise<void>): Promise<void> {
    this.#inFlight.add(p);
    const done = () => this.#inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  async #refetch(key: string): Promise<void> {
    this.#refreshing.add(key);
    const generation = this.#gate.generation;
    try {
      for (let attempt = 0; attempt < this.#options.refreshAttempts; attempt++) {
        const e = this.#entries.get(key);
        if (!e) return;
        const version = this.#versions.get(key) ?? 0;
        const [found] = await this.#client.conversations({ before: e.last.mid + 1, limit: 1 });
        if (!this.#gate.current(generation) || this.#gate.state !== "ready" || !this.#entries.has(key)) return;
        if ((this.#versions.get(key) ?? 0) !== version) continue;
        if (found && conversationKey(found) === key) {
          this.#entries.set(key, copy(found));
          this.#confirmed.add(key);
          this.#stale.delete(key);
          this.#changed(key);
        } else if (!this.#confirmed.has(key)) {
          // Not a conversation of the user (a message replayed from a former
          // friend), or its next message is on its way and brings it back.
          this.#remove(key);
        } else {
          this.#stale.add(key); // its next message is on its way
        }
        return;
      }
      this.#stale.add(key);
    } catch (err) {
      this.#stale.add(key);
      if (!(err instanceof ConnectionClosedError)) this.emit("error", err as Error);
    } finally {
      this.#refreshing.delete(key);
    }
  }

  // ---- helpers ----

  #keyOfLast(mid: number): string | undefined {
    for (const [key, e] of this.#entries) if (e.last.mid === mid) return key;
    return undefined;
  }

  #rememberDeleted(mid: number, at: number): void {
    this.#deleted.set(mid, at);
    if (this.#deleted.size > DELETED_MEMORY) this.#deleted.delete(this.#deleted.keys().next().value!);
  }

  #bump(key: string): void {
    this.#versions.set(key, (this.#versions.get(key) ?? 0) + 1);
  }

  #changed(key: string): void {
    this.#bump(key);
    const e = this.#entries.get(key);
    if (e) this.emit("change", { kind: "updated", key, conversation: copy(e) });
  }
}

/** The conversation a message (or an edit or delete of one) belongs to, as seen by `me`. */
function refOf(m: { from: number; to?: number; group?: number }, me: number | undefined): ConversationRef | undefined {
  if (m.group !== undefined) return { group: m.group };
  const other = m.from === me ? m.to : m.from;
  return other === undefined ? undefined : { with: other };
}

function copy(c: Conversation): Conversation {
  return { ...c, last: { ...c.last } };
}
