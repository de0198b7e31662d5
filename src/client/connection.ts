/**
 * The chat client library: one logical connection to a chat server that
 * matches replies to requests, hands pushes to listeners, acknowledges and
 * de-duplicates messages, keeps the connection alive with pings, and (when
 * asked) reconnects and logs back in with the session token after a failover.
 *
 * ```ts
 * const client = createClient({ port: 6000, autoAck: true });
 * client.on("msg", (m) => console.log(m.name, m.text));
 * await client.connect();
 * await client.login({ name: "alice", password: "s3cret-pw" });
 * await client.send(8, "hi bob");
 * await client.close();
 * ```
 */
import { AckBatcher, type AckBatcherOptions } from "./ack-batcher.ts";
import { type BackoffOptions, backoffDelay, checkBackoff } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import {
  ConnectionClosedError,
  FrameTooLargeError,
  RequestError,
  TimeoutError,
} from "./errors.ts";
import { type ClientTlsOptions, Link } from "./link.ts";
import { RecentSet } from "./recent-set.ts";
import type {
  ChatMessage,
  Friend,
  FriendAddedPush,
  Group,
  GroupInfo,
  HelloPush,
  HistoryQuery,
  LoginCredentials,
  LoginResult,
  MemberJoinedPush,
  MemberLeftPush,
  MessagePush,
  PresencePush,
  Push,
  Reply,
  SendResult,
  UserRef,
} from "./types.ts";

export interface ReconnectOptions extends BackoffOptions {
  /** give up after this many failed attempts in a row (default: never) */
  maxAttempts?: number;
}

export interface ChatClientOptions {
  /** server host (default "127.0.0.1") */
  host?: string;
  /** server port (default 6000) */
  port?: number;
  /** `true` for TLS with the system's CAs, or TLS settings (default false: plain TCP) */
  tls?: boolean | ClientTlsOptions;
  /**
   * Reconnect after losing the connection, with jittered exponential backoff
   * (100 ms doubling up to 5 s, ±50%), and log back in with the newest token.
   * Nothing else is re-sent: requests in flight reject with
   * ConnectionClosedError. Default false.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Acknowledge every `msg` push, in batches (one `ack` request per 10 ms or
   * 1000 messages). Default false.
   */
  autoAck?: boolean | AckBatcherOptions;
  /**
   * Drop `msg` pushes whose mid was seen recently (delivery is at least once).
   * A number is how many mids to remember. Default: 10000 with autoAck, else off.
   */
  dedupe?: boolean | number;
  /** send `ping` after this long without sending anything, ms; 0 disables (default 25000) */
  heartbeatMs?: number;
  /** a heartbeat ping unanswered for this long drops the connection, ms (default 10000) */
  heartbeatTimeoutMs?: number;
  /** time allowed from dialing to the server's `hello`, ms (default 10000) */
  connectTimeoutMs?: number;
  /** reject a request whose reply takes longer, ms; 0 waits forever (default 0) */
  requestTimeoutMs?: number;
  /** longest frame accepted from the server, bytes (default 16 MiB) */
  maxFrame?: number;
  /** longest request sent, bytes; larger ones reject without being sent (default 65536, the server's default limit) */
  maxRequestBytes?: number;
}

const DEFAULTS = {
  host: "127.0.0.1",
  port: 6000,
  tls: false,
  reconnect: false,
  autoAck: false,
  dedupe: undefined,
  heartbeatMs: 25_000,
  heartbeatTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 0,
  maxFrame: 16 * 1024 * 1024,
  maxRequestBytes: 65_536,
} satisfies ChatClientOptions;

/** Dedupe window when autoAck is on and `dedupe` is not given. */
const DEFAULT_DEDUPE = 10_000;

/** Relogin answers that retrying with the same token cannot fix. */
const FATAL_RELOGIN = new Set(["bad_credentials", "already_logged_in", "bad_frame", "invalid"]);

export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface ClientEvents {
  /** the server greeted a new connection (first or after reconnecting) */
  hello: HelloPush;
  /** every push, after de-duplication (`hello` included) */
  push: Push;
  msg: MessagePush;
  presence: PresencePush;
  friend_added: FriendAddedPush;
  member_joined: MemberJoinedPush;
  member_left: MemberLeftPush;
  /** the connection was lost; `willReconnect` tells whether the client tries again */
  disconnected: { error?: Error; willReconnect: boolean };
  /** a reconnection attempt is scheduled in `delayMs` */
  reconnecting: { attempt: number; delayMs: number; error?: Error };
  /**
   * Connected again (and logged back in when a user was logged in: `login`).
   * `loginError` says why logging back in failed; the client is then logged out.
   * Emitted before the pending messages that follow the login are pushed.
   */
  reconnected: { node: string; user?: UserRef; login?: LoginResult; loginError?: RequestError };
  /** an error that belongs to no request: a failed automatic ack, an `error` frame without `re` */
  error: Error;
  /** the client is closed for good (close(), or reconnecting gave up or is off) */
  close: undefined;
}

interface Pending {
  op: string;
  resolve(reply: Reply): void;
  reject(err: Error): void;
  onOk?: (reply: Reply) => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface SendOptions {
  timeoutMs?: number;
  /** runs synchronously when the `ok` arrives, before any later frame */
  onOk?: (reply: Reply) => void;
}

const encoder = new TextEncoder();

type Resolved = Omit<Required<ChatClientOptions>, "reconnect" | "autoAck" | "dedupe"> & {
  reconnect: (Required<BackoffOptions> & { maxAttempts: number }) | null;
  autoAck: AckBatcherOptions | null;
  dedupe: number;
};

function resolveOptions(options: ChatClientOptions): Resolved {
  const o = { ...DEFAULTS, ...options };
  if (!(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65_535)) throw new TypeError(`bad port: ${o.port}`);
  for (const key of ["heartbeatMs", "heartbeatTimeoutMs", "requestTimeoutMs"] as const) {
    if (!(o[key] >= 0)) throw new TypeError(`${key} must be >= 0`);
  }
  if (!(o.connectTimeoutMs > 0)) throw new TypeError("connectTimeoutMs must be > 0");
  if (!(o.maxFrame >= 1024)) throw new TypeError("maxFrame must be at least 1024 bytes");
  if (!(o.maxRequestBytes >= 2)) throw new TypeError("maxRequestBytes must be at least 2 bytes");
  let reconnect: Resolved["reconnect"] = null;
  if (o.reconnect) {
    const r = o.reconnect === true ? {} : o.reconnect;
    checkBackoff(r);
    const maxAttempts = r.maxAttempts ?? Infinity;
    if (!(maxAttempts >= 1)) throw new TypeError("reconnect.maxAttempts must be >= 1");
    reconnect = { initialDelayMs: 100, maxDelayMs: 5_000, factor: 2, jitter: 0.5, ...r, maxAttempts };
  }
  const autoAck = o.autoAck ? (o.autoAck === true ? {} : o.autoAck) : null;
  const dedupe =
    o.dedupe === undefined ? (autoAck ? DEFAULT_DEDUPE : 0) : o.dedupe === true ? DEFAULT_DEDUPE : o.dedupe || 0;
  if (!(Number.isInteger(dedupe) && dedupe >= 0)) throw new TypeError("dedupe must be a boolean or a positive integer");
  return { ...o, reconnect, autoAck, dedupe };
}

export class ChatClient extends Emitter<ClientEvents> {
  readonly options: Readonly<Resolved>;
  #state: ClientState = "idle";
  #link: Link | null = null;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #user: UserRef | undefined;
  #token: string | undefined;
  readonly #acks: AckBatcher | null;
  readonly #seen: RecentSet<number> | null;
  #lastSent = 0;
  #heartbeat: ReturnType<typeof setTimeout> | null = null;
  #sleeper: { timer: ReturnType<typeof setTimeout>; wake(): void } | null = null;
  #closed = Promise.withResolvers<void>();

  constructor(options: ChatClientOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.#acks = this.options.autoAck ? new AckBatcher((mids) => this.#sendAcks(mids), this.options.autoAck) : null;
    this.#seen = this.options.dedupe > 0 ? new RecentSet(this.options.dedupe) : null;
  }

  /** idle → connecting → open ⇄ reconnecting → closed */
  get state(): ClientState {
    return this.#state;
  }

  /** true while requests can be sent */
  get connected(): boolean {
    return this.#state === "open";
  }

  /** the node id from the current connection's `hello` */
  get node(): string | undefined {
    return this.#link?.node;
  }

  /** the logged-in user, if any */
  get user(): UserRef | undefined {
    return this.#user;
  }

  /** the newest session token (each login returns a fresh one) */
  get token(): string | undefined {
    return this.#token;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Connects and resolves with the server's `hello`. Call once. */
  async connect(): Promise<HelloPush> {
    if (this.#state !== "idle") throw new Error(`connect() called on a client that is ${this.#state}`);
    this.#state = "connecting";
    let link: Link;
    try {
      link = await this.#dial();
    } catch (err) {
      if (this.#state === "connecting") this.#state = "idle"; // the caller may try again
      throw err;
    }
    if (this.#state !== "connecting") {
      await link.close();
      throw new ConnectionClosedError("client closed while connecting");
    }
    if (link.closed) {
      // It closed between its hello and now, before anyone listened for that.
      this.#state = "idle";
      throw new ConnectionClosedError("the server closed the connection right after hello");
    }
    this.#adopt(link);
    return link.hello;
  }

  /**
   * Sends a request and resolves with the `ok` reply's fields (without `type`
   * and `re`); rejects with RequestError on `error`, ConnectionClosedError when
   * the connection is not open or drops before the reply.
   */
  request(op: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const link = this.#link;
    if (this.#state !== "open" || !link) {
      return Promise.reject(new ConnectionClosedError(`not connected (${this.#state})`));
    }
    return this.#send(link, op, fields, { timeoutMs: this.options.requestTimeoutMs });
  }

  // ---- operations (PROTOCOL.md) ----

  async register(name: string, password: string): Promise<UserRef> {
    return (await this.request("register", { name, password })).user as UserRef;
  }

  /** Logs in by name, by id, or with a token. Subscribe to pushes first: pending messages follow the reply at once. */
  async login(credentials: LoginCredentials): Promise<LoginResult> {
    return (await this.request("login", credentials)) as unknown as LoginResult;
  }

  loginWithToken(token: string): Promise<LoginResult> {
    return this.login({ token });
  }

  /** Logs out (after sending the acks that wait); the token stops working. */
  async logout(): Promise<void> {
    this.flushAcks();
    await this.request("logout");
  }

  async addFriend(user: number): Promise<Friend> {
    return (await this.request("add_friend", { user })).friend as Friend;
  }

  async send(to: number, text: string): Promise<SendResult> {
    return (await this.request("send", { to, text })) as unknown as SendResult;
  }

  async createGroup(name: string, desc?: string): Promise<GroupInfo> {
    return (await this.request("create_group", { name, desc })).group as GroupInfo;
  }

  async joinGroup(group: number): Promise<Group> {
    return (await this.request("join_group", { group })).group as Group;
  }

  async leaveGroup(group: number): Promise<void> {
    await this.request("leave_group", { group });
  }

  async groupSend(group: number, text: string): Promise<SendResult> {
    return (await this.request("group_send", { group, text })) as unknown as SendResult;
  }

  /** Acknowledges messages; resolves with how many were pending. */
  async ack(mids: number[]): Promise<number> {
    return (await this.request("ack", { mids })).acked as number;
  }

  async history(query: HistoryQuery): Promise<ChatMessage[]> {
    return (await this.request("history", query)).messages as ChatMessage[];
  }

  async friends(): Promise<Friend[]> {
    return (await this.request("friends")).friends as Friend[];
  }

  async groups(): Promise<Group[]> {
    return (await this.request("groups")).groups as Group[];
  }

  /** Round trip to the server; resolves with the time it took, ms. */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.request("ping");
    return performance.now() - start;
  }

  // ---- push helpers ----

  /** Every push (`msg` after de-duplication). Returns the unsubscribe function. */
  onPush(listener: (push: Push) => void): () => void {
    return this.on("push", listener);
  }

  onMessage(listener: (msg: MessagePush) => void): () => void {
    return this.on("msg", listener);
  }

  onPresence(listener: (p: PresencePush) => void): () => void {
    return this.on("presence", listener);
  }

  onFriendAdded(listener: (p: FriendAddedPush) => void): () => void {
    return this.on("friend_added", listener);
  }

  onMemberJoined(listener: (p: MemberJoinedPush) => void): () => void {
    return this.on("member_joined", listener);
  }

  onMemberLeft(listener: (p: MemberLeftPush) => void): () => void {
    return this.on("member_left", listener);
  }

  /** Sends the acks collected by autoAck now instead of at the end of the batch delay. */
  flushAcks(): void {
    this.#acks?.flush();
  }

  /**
   * Sends the acks that wait, ends the connection and stops reconnecting.
   * Requests in flight reject with ConnectionClosedError. Resolves when the
   * socket is closed; no timer or socket is left behind.
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return this.#closed.promise;
    const link = this.#link;
    if (link && this.#state === "open") this.flushAcks();
    this.#state = "closed";
    this.#stopTimers();
    this.#acks?.clear();
    this.#rejectAll(new ConnectionClosedError("client closed"));
    this.#link = null;
    if (link) await link.close();
    this.#finish();
  }

  // ---- internals ----

  #dial(): Promise<Link> {
    const { host, port, tls, connectTimeoutMs, maxFrame } = this.options;
    // The link object is ours only once open() resolves; its events come after that.
    const linkRef: { value: Link | null } = { value: null };
    const events = {
      frame: (frame: Record<string, unknown>) => this.#onFrame(linkRef.value, frame),
      closed: (error?: Error) => this.#onLinkClosed(linkRef.value, error),
    };
    return Link.open({ host, port, tls, connectTimeoutMs, maxFrame }, events).then((link) => (linkRef.value = link));
  }

  #adopt(link: Link): void {
    this.#link = link;
    this.#state = "open";
    this.#lastSent = Date.now(); // the server counts silence from the connect
    this.#armHeartbeat();
    this.emit("hello", link.hello);
    this.emit("push", link.hello);
  }

  #send(link: Link, op: string, fields: Record<string, unknown>, options: SendOptions = {}): Promise<Reply> {
    const id = this.#nextId++;
    // type and id first on the wire for readability; fields cannot override them.
    const frame = Object.assign({ type: op, id }, fields, { type: op, id });
    const bytes = encoder.encode(`${JSON.stringify(frame)}\n`);
    if (bytes.length > this.options.maxRequestBytes) {
      return Promise.reject(new FrameTooLargeError(bytes.length, this.options.maxRequestBytes));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const pending: Pending = { op, resolve, reject, onOk: options.onOk };
    if (options.timeoutMs) {
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`no reply to ${op} within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
    this.#pending.set(id, pending);
    link.send(bytes);
    this.#lastSent = Date.now();
    return promise;
  }

  #onFrame(link: Link | null, frame: Record<string, unknown>): void {
    if (link !== this.#link) return; // a frame from a link being replaced
    if (frame.type === "ok" || frame.type === "error") this.#onReply(frame);
    else this.#onPush(frame as unknown as Push);
  }

  #onReply(frame: Record<string, unknown>): void {
    const { type, re, ...fields } = frame;
    if (re === undefined) {
      // Only a frame-level error has no `re` (we always send an id); the
      // server closes the connection next, which rejects what is in flight.
      this.emit("error", new RequestError(String(fields.code), String(fields.message)));
      return;
    }
    const pending = typeof re === "number" ? this.#pending.get(re) : undefined;
    // Without a waiter, the request timed out: nobody wants the reply any more.
    if (!pending) return;
    this.#pending.delete(re as number);
    if (pending.timer) clearTimeout(pending.timer);
    if (type === "ok") {
      if (pending.op === "login") this.#loggedIn(fields as unknown as LoginResult);
      else if (pending.op === "logout") this.#loggedOut();
      pending.onOk?.(fields);
      pending.resolve(fields);
    } else {
      pending.reject(new RequestError(String(fields.code), String(fields.message ?? ""), pending.op));
    }
  }

  #onPush(push: Push): void {
    if (push.type === "msg") {
      const mid = (push as MessagePush).mid;
      // A duplicate is acked again: the server still thinks it is pending.
      this.#acks?.add(mid);
      if (this.#seen && !this.#seen.add(mid)) return;
    }
    this.emit("push", push);
    switch (push.type) {
      case "msg":
      case "presence":
      case "friend_added":
      case "member_joined":
      case "member_left":
        this.emit(push.type, push as never);
    }
  }

  #loggedIn(result: LoginResult): void {
    // mids are per message, not per user: a group message seen by the previous
    // user would otherwise hide it from the next one.
    if (this.#user && this.#user.id !== result.user.id) this.#seen?.clear();
    this.#user = result.user;
    this.#token = result.token;
  }

  #loggedOut(): void {
    this.#user = undefined;
    this.#token = undefined;
    this.#seen?.clear();
  }

  #sendAcks(mids: number[]): void {
    const link = this.#link;
    // Not sent: the server pushes these again at the next login, and they are acked then.
    if (!link || this.#state !== "open") return;
    this.#send(link, "ack", { mids }).catch((err: Error) => {
      // A dropped connection is covered the same way as above.
      if (!(err instanceof ConnectionClosedError)) this.emit("error", err);
    });
  }

  #onLinkClosed(link: Link | null, error?: Error): void {
    if (!link || link !== this.#link) return;
    this.#link = null;
    this.#stopHeartbeat();
    this.#acks?.clear();
    this.#rejectAll(new ConnectionClosedError(describeLoss(error), { cause: error }));
    if (this.#state === "reconnecting") return; // the reconnect loop sees its relogin fail
    if (this.#state !== "open") return;
    const willReconnect = this.options.reconnect !== null;
    this.emit("disconnected", { error, willReconnect });
    if (willReconnect) {
      this.#state = "reconnecting";
      void this.#reconnect(error);
    } else {
      this.#state = "closed";
      this.#finish();
    }
  }

  async #reconnect(cause?: Error): Promise<void> {
    const policy = this.options.reconnect!;
    for (let attempt = 1; ; attempt++) {
      if (this.#state !== "reconnecting") return;
      if (attempt > policy.maxAttempts) {
        this.#state = "closed";
        this.#finish();
        return;
      }
      const delayMs = backoffDelay(attempt, policy);
      this.emit("reconnecting", { attempt, delayMs, error: cause });
      await this.#sleep(delayMs);
      if (this.#state !== "reconnecting") return;
      let link: Link;
      try {
        link = await this.#dial();
      } catch (err) {
        cause = err as Error;
        continue;
      }
      if (this.#state !== "reconnecting") {
        await link.close();
        return;
      }
      if (link.closed) {
        cause = new ConnectionClosedError("the server closed the connection right after hello");
        continue;
      }
      this.#link = link;
      this.#lastSent = Date.now();
      const token = this.#token;
      if (token === undefined) {
        this.#reopened(link);
        return;
      }
      try {
        await this.#send(link, "login", { token }, {
          timeoutMs: this.options.connectTimeoutMs,
          onOk: (reply) => this.#reopened(link, reply as unknown as LoginResult),
        });
        return;
      } catch (err) {
        if (err instanceof RequestError && FATAL_RELOGIN.has(err.code) && this.#link === link) {
          this.#loggedOut();
          this.#reopened(link, undefined, err);
          return;
        }
        cause = err as Error;
        if (this.#link === link) {
          this.#link = null;
          link.destroy(cause);
        }
      }
    }
  }

  #reopened(link: Link, login?: LoginResult, loginError?: RequestError): void {
    this.#state = "open";
    this.#armHeartbeat();
    this.emit("hello", link.hello);
    this.emit("push", link.hello);
    this.emit("reconnected", { node: link.node, user: this.#user, login, loginError });
  }

  /** A wait that close() cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleeper = null;
        resolve();
      };
      this.#sleeper = { timer: setTimeout(wake, ms), wake };
    });
  }

  #armHeartbeat(): void {
    this.#stopHeartbeat();
    const every = this.options.heartbeatMs;
    if (every === 0) return;
    const wait = Math.max(0, every - (Date.now() - this.#lastSent));
    this.#heartbeat = setTimeout(() => this.#beat(), wait);
    // The heartbeat alone must not keep a process alive.
    this.#heartbeat.unref();
  }

  #beat(): void {
    this.#heartbeat = null;
    const link = this.#link;
    if (!link || this.#state !== "open") return;
    if (Date.now() - this.#lastSent >= this.options.heartbeatMs) {
      this.#send(link, "ping", {}, { timeoutMs: this.options.heartbeatTimeoutMs }).catch((err: Error) => {
        // A silent server is as good as gone: drop the link (and reconnect).
        if (err instanceof TimeoutError) link.destroy(err);
        // Other failures are the connection closing, handled by #onLinkClosed.
      });
    }
    this.#armHeartbeat();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat) clearTimeout(this.#heartbeat);
    this.#heartbeat = null;
  }

  #stopTimers(): void {
    this.#stopHeartbeat();
    if (this.#sleeper) {
      clearTimeout(this.#sleeper.timer);
      this.#sleeper.wake();
    }
  }

  #rejectAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  #finish(): void {
    this.#stopTimers();
    this.#acks?.clear();
    this.#closed.resolve();
    this.emit("close", undefined);
  }
}

function describeLoss(error?: Error): string {
  return error ? `connection lost: ${error.message}` : "connection closed by the server";
}

/** Makes a client (not yet connected: call `connect()`). */
export function createClient(options: ChatClientOptions = {}): ChatClient {
  return new ChatClient(options);
}

/** Makes a client and connects it. */
export async function connectClient(options: ChatClientOptions = {}): Promise<ChatClient> {
  const client = new ChatClient(options);
  await client.connect();
  return client;
}
