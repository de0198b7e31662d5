/**
 * The user's open friend requests (protocol 1.1 `requests`) for one
 * ChatClient, kept up to date from pushes and from what this session does
 * itself (the client's `ok` event): a `friend_request` push adds an incoming
 * request; accepting, declining or blocking here removes one; a friendship
 * however it starts (`friend_added`, a request that completed the other
 * user's) drops the requests between the two; a reconnect reloads the list.
 *
 * ```ts
 * const requests = new RequestList(client);
 * requests.on("change", () => render(requests.incoming()));
 * await requests.load();
 * ```
 *
 * The server tells nobody of a decline, and another session's decline or
 * block is not pushed either: those stay listed until the next `load()` (a
 * reconnect does one).
 */
import type { ChatClient } from "./connection.ts";
import { ConnectionClosedError } from "./errors.ts";
import { Emitter } from "./emitter.ts";
import { LoadGate, type LoadState } from "./load-gate.ts";
import type { FriendRequest, Reply } from "./types.ts";

/** idle: not loaded (or logged out); loading: `friend_requests` is on its way; ready: kept up to date. */
export type RequestListState = LoadState;

export interface RequestListEvents {
  /** the lists changed (loaded, cleared, or one request added or removed) */
  change: undefined;
  /** a reload that failed (other than by the connection closing, which a reconnect repairs) */
  error: Error;
}

export class RequestList extends Emitter<RequestListEvents> {
  readonly #client: ChatClient;
  readonly #gate = new LoadGate();
  /** by the other user's id, in the order they came (oldest first) */
  #incoming = new Map<number, FriendRequest>();
  #outgoing = new Map<number, FriendRequest>();
  #loading: Promise<void> | null = null;
  readonly #unsubscribe: Array<() => void>;

  constructor(client: ChatClient) {
    super();
    this.#client = client;
    this.#unsubscribe = [
      client.on("friend_request", (p) =>
        this.#apply(() => {
          const { type: _type, ...request } = p;
          // Asking again while a request is open changes nothing: it keeps its place.
          if (this.#incoming.has(p.user.id)) return false;
          this.#incoming.set(p.user.id, request);
          return true;
        }),
      ),
      client.on("friend_added", (p) => this.#apply(() => this.#drop(p.friend.id))),
      client.on("ok", (e) => this.#ok(e.op, e.fields, e.reply)),
      client.on("reconnected", ({ login, loginError }) => {
        if (this.#gate.state === "idle") return;
        if (loginError || !login) this.#reset();
        else this.#reload();
      }),
      client.on("account_deleted", () => this.#reset()),
    ];
  }

  get state(): RequestListState {
    return this.#gate.state;
  }

  /** Requests to this user, oldest first (copies). */
  incoming(): FriendRequest[] {
    return [...this.#incoming.values()].map(copy);
  }

  /** This user's requests to others, oldest first (copies). */
  outgoing(): FriendRequest[] {
    return [...this.#outgoing.values()].map(copy);
  }

  /** The open request from `user` to this user, if any (a copy). */
  from(user: number): FriendRequest | undefined {
    const r = this.#incoming.get(user);
    return r && copy(r);
  }

  /**
   * Loads both lists (`friend_requests`) and keeps them up to date from then
   * on. Needs a logged-in client whose server offers `requests`. A load while
   * one is on its way joins it.
   */
  load(): Promise<void> {
    this.#loading ??= this.#load().finally(() => (this.#loading = null));
    return this.#loading;
  }

  /** Stops following the client; the lists keep their last state. */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#gate.reset();
  }

  async #load(): Promise<void> {
    const generation = this.#gate.begin();
    try {
      const { incoming, outgoing } = await this.#client.friendRequests();
      if (!this.#gate.current(generation)) return;
      this.#incoming = new Map(incoming.map((r) => [r.user.id, copy(r)]));
      this.#outgoing = new Map(outgoing.map((r) => [r.user.id, copy(r)]));
      for (const apply of this.#gate.ready()) apply();
      this.emit("change", undefined);
    } catch (err) {
      this.#gate.failed(generation);
      throw err;
    }
  }

  #reload(): void {
    this.load().catch((err: Error) => {
      if (!(err instanceof ConnectionClosedError)) this.emit("error", err);
    });
  }

  #reset(): void {
    this.#gate.reset();
    this.#incoming.clear();
    this.#outgoing.clear();
    this.emit("change", undefined);
  }

  /** Applies an event now, after the load when one is on its way, or not at all when the list is idle. */
  #apply(event: () => boolean): void {
    this.#gate.apply(() => {
      if (event()) this.emit("change", undefined);
    }, event);
  }

  /** This session's own requests: the server pushes the user's other sessions only. */
  #ok(op: string, fields: Record<string, unknown>, reply: Reply): void {
    if (op === "logout") return this.#reset();
    if (op === "login") {
      if (this.#gate.state !== "idle") this.#reload(); // a login on a logged-in client: whoever it is now
      return;
    }
    const user = fields.user;
    if (typeof user !== "number") return;
    switch (op) {
      case "accept_friend":
      case "decline_friend":
      case "block":
        return this.#apply(() => this.#drop(user));
      case "friend_request":
      case "add_friend":
        if (reply.friend !== undefined) return this.#apply(() => this.#drop(user));
        if (reply.requested !== true) return;
        return this.#apply(() => {
          if (this.#outgoing.has(user)) return false;
          const note = typeof fields.note === "string" ? fields.note : "";
          // The reply names nobody: the name is learned from the next load.
          this.#outgoing.set(user, { user: { id: user, name: "" }, note, ts: Date.now() });
          return true;
        });
    }
  }

  /** Removes the requests between this user and `user`, both ways; whether there were any. */
  #drop(user: number): boolean {
    const a = this.#incoming.delete(user);
    const b = this.#outgoing.delete(user);
    return a || b;
  }
}

function copy(r: FriendRequest): FriendRequest {
  return { user: { ...r.user }, note: r.note, ts: r.ts };
}
