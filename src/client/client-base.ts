/**
 * The core of the client: one logical connection to a chat server over
 * successive links. Matches replies to requests, hands pushes to listeners,
 * acknowledges and de-duplicates messages, keeps the connection alive with
 * pings, and (when asked) reconnects and logs back in with the session token.
 * ChatClient (connection.ts) adds a method per protocol operation.
 */
import { AckBatcher } from "./ack-batcher.ts";
import { backoffDelay } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import { ConnectionClosedError, FrameTooLargeError, RequestError, TimeoutError } from "./errors.ts";
import { Link } from "./link.ts";
import { type ChatClientOptions, type Resolved, resolveOptions } from "./options.ts";
import { RecentSet } from "./recent-set.ts";
import { type ClientLink, type LinkEvents, unrefTimer } from "./transport.ts";
import { WsLink } from "./ws-link.ts";
import type {
  DeletedPush,
  EditedPush,
  FriendAddedPush,
  FriendRemovedPush,
  FriendRequestPush,
  GroupDeletedPush,
  GroupUpdatedPush,
  HelloPush,
  LoginResult,
  MemberJoinedPush,
  MemberLeftPush,
  MessagePush,
  PresencePush,
  Push,
  ReadPush,
  Reply,
  RoleChangedPush,
  TypingPush,
  UserRef,
} from "./types.ts";

/** Relogin answers that retrying with the same token cannot fix. */
const FATAL_RELOGIN = new Set(["bad_credentials", "already_logged_in", "bad_frame", "invalid"]);

export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/**
 * Why a client is closed: `close()` was called, the connection was lost for
 * good (reconnecting off or given up), or the server ended the session
 * because the account was deleted (1.1 `account`; never reconnects).
 */
export type CloseReason = "closed" | "lost" | "account_deleted";

/** The error frame (without `re`) that ends every session of a deleted account. */
const ACCOUNT_DELETED = "account_deleted";

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
  read: ReadPush;
  typing: TypingPush;
  edited: EditedPush;
  deleted: DeletedPush;
  friend_removed: FriendRemovedPush;
  /** 1.1 `requests`: someone asks this user for friendship */
  friend_request: FriendRequestPush;
  role_changed: RoleChangedPush;
  group_updated: GroupUpdatedPush;
  group_deleted: GroupDeletedPush;
  /**
   * A request of this client got `ok`: what was asked (`op` and its fields,
   * `cid` included) and the reply's fields. Emitted as the reply arrives,
   * before any later frame, so state kept from pushes (a conversation list)
   * also sees what this session did itself: the server does not push a
   * session its own sends, reads, edits and deletes.
   */
  ok: { op: string; fields: Record<string, unknown>; reply: Reply };
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
  /**
   * 1.1 `account`: the server ended the session because the account was
   * deleted (by this session's `deleteAccount` or another one's). The
   * connection closes next and the client does not reconnect: `close`
   * follows, with `closeReason` "account_deleted".
   */
  account_deleted: RequestError;
  /** an error that belongs to no request: a failed automatic ack, an `error` frame without `re` */
  error: Error;
  /** the client is closed for good (close(), or reconnecting gave up or is off) */
  close: undefined;
}

interface Pending {
  op: string;
  fields: Record<string, unknown>;
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

/** How many times requestOnce sends a request in all before it gives up (each after a reconnect, or a pause). */
const RESEND_ATTEMPTS = 20;
/**
 * How long requestOnce sends again a request answered `unavailable` (the
 * server's database or Redis failing over, a few seconds), with the same cid,
 * before it gives the error to the caller.
 */
const UNAVAILABLE_RETRY_MS = 15_000;
const UNAVAILABLE_BACKOFF = { initialDelayMs: 200, maxDelayMs: 2_000 };

export class ClientBase extends Emitter<ClientEvents> {
  readonly options: Readonly<Resolved>;
  #state: ClientState = "idle";
  #link: ClientLink | null = null;
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
  /** The extensions of the last server that said hello (kept while reconnecting). */
  #features = new Set<string>();
  /** set by an `account_deleted` frame: the link's end is the client's end */
  #accountDeleted: RequestError | null = null;
  #closeReason: CloseReason | undefined;

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

  /** Why the client is closed (undefined while it is not). */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Connects and resolves with the server's `hello`. Call once. */
  async connect(): Promise<HelloPush> {
    if (this.#state !== "idle") throw new Error(`connect() called on a client that is ${this.#state}`);
    this.#state = "connecting";
    let link: ClientLink;
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

  /** Whether the server of the current connection offers a 1.1 extension (`hello.features`). */
  offers(feature: string): boolean {
    return this.#features.has(feature);
  }

  /**
   * A request that must take effect once (a send): with a server that offers
   * `cid`, it carries a fresh cid, and a connection lost before its reply
   * (or a reply that never came) sends it again with the same cid once the
   * client has reconnected and logged back in; the server answers a repeat
   * with the first message (`duplicate: true`). An `unavailable` answer is
   * sent again too, after a growing pause, for up to 15 s: a failover of the
   * server's database is not the caller's problem. Without `cid`, or without
   * reconnecting, it is `request`. A `cid` in `fields` is kept (a retry of a
   * send that failed for good names the same message again).
   */
  async requestOnce(op: string, fields: Record<string, unknown>): Promise<Reply> {
    if (!this.offers("cid") || this.options.reconnect === null) return this.request(op, fields);
    const once = { ...fields, cid: typeof fields.cid === "string" ? fields.cid : newCid() };
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.request(op, once);
      } catch (err) {
        if (attempt >= RESEND_ATTEMPTS || this.#state === "closed") throw err;
        if (err instanceof RequestError && err.code === "unavailable") {
          if (Date.now() - started >= UNAVAILABLE_RETRY_MS) throw err;
          await new Promise((r) => setTimeout(r, backoffDelay(attempt, UNAVAILABLE_BACKOFF)));
          continue;
        }
        if (!(err instanceof ConnectionClosedError || err instanceof TimeoutError)) throw err;
        await this.#whenOpen();
      }
    }
  }

  /** Resolves once the client is open again (reconnected and logged back in); rejects once it is closed. */
  #whenOpen(): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.off("reconnected", done);
        this.off("close", gone);
        resolve();
      };
      const gone = () => {
        this.off("reconnected", done);
        this.off("close", gone);
        reject(new ConnectionClosedError("client closed before the request could be sent again"));
      };
      this.on("reconnected", done);
      this.on("close", gone);
    });
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
    this.#finish("closed");
  }

  // ---- internals ----

  #dial(): Promise<ClientLink> {
    const { host, port, tls, url, connectTimeoutMs, maxFrame } = this.options;
    // The link object is ours only once open() resolves; its events come after that.
    const linkRef: { value: ClientLink | null } = { value: null };
    const events: LinkEvents = {
      frame: (frame) => this.#onFrame(linkRef.value, frame),
      closed: (error) => this.#onLinkClosed(linkRef.value, error),
    };
    const opened: Promise<ClientLink> = url
      ? WsLink.open({ url, connectTimeoutMs, maxFrame, tls: typeof tls === "object" ? tls : undefined }, events)
      : Link.open({ host, port, tls, connectTimeoutMs, maxFrame }, events);
    return opened.then((link) => (linkRef.value = link));
  }

  #adopt(link: ClientLink): void {
    this.#link = link;
    this.#state = "open";
    this.#lastSent = Date.now(); // the server counts silence from the connect
    this.#armHeartbeat();
    this.#features = new Set(link.hello.features ?? []);
    this.emit("hello", link.hello);
    this.emit("push", link.hello);
  }

  #send(link: ClientLink, op: string, fields: Record<string, unknown>, options: SendOptions = {}): Promise<Reply> {
    const id = this.#nextId++;
    // type and id first on the wire for readability; fields cannot override them.
    const frame = Object.assign({ type: op, id }, fields, { type: op, id });
    const json = JSON.stringify(frame);
    const bytes = encoder.encode(`${json}\n`);
    if (bytes.length > this.options.maxRequestBytes) {
      return Promise.reject(new FrameTooLargeError(bytes.length, this.options.maxRequestBytes));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const pending: Pending = { op, fields, resolve, reject, onOk: options.onOk };
    if (options.timeoutMs) {
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`no reply to ${op} within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
    this.#pending.set(id, pending);
    link.send(json, bytes);
    this.#lastSent = Date.now();
    return promise;
  }

  #onFrame(link: ClientLink | null, frame: Record<string, unknown>): void {
    if (link !== this.#link) return; // a frame from a link being replaced
    if (frame.type === "ok" || frame.type === "error") this.#onReply(frame);
    else this.#onPush(frame as unknown as Push);
  }

  #onReply(frame: Record<string, unknown>): void {
    const { type, re, ...fields } = frame;
    if (re === undefined) {
      // Only a frame-level error has no `re` (we always send an id); the
      // server closes the connection next, which rejects what is in flight.
      const err = new RequestError(String(fields.code), String(fields.message ?? ""));
      if (err.code !== ACCOUNT_DELETED) return void this.emit("error", err);
      // No token of the account works any more: nothing to reconnect to.
      this.#accountDeleted = err;
      this.#loggedOut();
      this.emit("account_deleted", err);
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
      // The other tokens are revoked: only the fresh one logs back in.
      else if (pending.op === "change_password" && typeof fields.token === "string") this.#token = fields.token;
      pending.onOk?.(fields);
      this.emit("ok", { op: pending.op, fields: pending.fields, reply: fields });
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
      case "read":
      case "typing":
      case "edited":
      case "deleted":
      case "friend_removed":
      case "friend_request":
      case "role_changed":
      case "group_updated":
      case "group_deleted":
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

  #onLinkClosed(link: ClientLink | null, error?: Error): void {
    if (!link || link !== this.#link) return;
    this.#link = null;
    this.#stopHeartbeat();
    this.#acks?.clear();
    const deleted = this.#accountDeleted;
    // Requests in flight when the account went get no reply: they fail with its error.
    this.#rejectAll(deleted ?? new ConnectionClosedError(describeLoss(error), { cause: error }));
    if (deleted && this.#state !== "closed") {
      this.#state = "closed";
      this.emit("disconnected", { error: deleted, willReconnect: false });
      this.#finish("account_deleted");
      return;
    }
    if (this.#state === "reconnecting") return; // the reconnect loop sees its relogin fail
    if (this.#state !== "open") return;
    const willReconnect = this.options.reconnect !== null;
    this.emit("disconnected", { error, willReconnect });
    if (willReconnect) {
      this.#state = "reconnecting";
      void this.#reconnect(error);
    } else {
      this.#state = "closed";
      this.#finish("lost");
    }
  }

  async #reconnect(cause?: Error): Promise<void> {
    const policy = this.options.reconnect!;
    for (let attempt = 1; ; attempt++) {
      if (this.#state !== "reconnecting") return;
      if (attempt > policy.maxAttempts) {
        this.#state = "closed";
        this.#finish("lost");
        return;
      }
      const delayMs = backoffDelay(attempt, policy);
      this.emit("reconnecting", { attempt, delayMs, error: cause });
      await this.#sleep(delayMs);
      if (this.#state !== "reconnecting") return;
      let link: ClientLink;
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

  #reopened(link: ClientLink, login?: LoginResult, loginError?: RequestError): void {
    this.#state = "open";
    this.#armHeartbeat();
    this.#features = new Set(link.hello.features ?? []);
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
    unrefTimer(this.#heartbeat);
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

  #finish(reason: CloseReason): void {
    this.#closeReason ??= reason;
    this.#stopTimers();
    this.#acks?.clear();
    this.#closed.resolve();
    this.emit("close", undefined);
  }
}

function describeLoss(error?: Error): string {
  return error ? `connection lost: ${error.message}` : "connection closed by the server";
}

/**
 * A fresh cid. `crypto.randomUUID` exists only in secure contexts, and a page
 * served over plain http from another host is not one: 122 random bits
 * from `getRandomValues` (available everywhere) then, in the same form.
 */
export function newCid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
