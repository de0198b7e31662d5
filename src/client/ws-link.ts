/**
 * One WebSocket connection to a server's web port (PROTOCOL.md "WebSocket
 * transport"), with the standard `WebSocket`: in a browser and in Bun alike.
 * Each message carries one frame both ways, so there are no bytes to split:
 * the link checks the frame limit, parses, and waits for `hello` first, as
 * the TCP link does.
 */
import { TOO_LARGE } from "../protocol/frame-reader.ts";
import { frameOfMessage } from "../protocol/message-frame.ts";
import { ConnectError, ConnectionClosedError, ProtocolError, TimeoutError } from "./errors.ts";
import type { ClientTlsOptions } from "./link.ts";
import { type ClientLink, type DialOptions, type LinkEvents, readFrame, unrefTimer } from "./transport.ts";
import type { HelloPush } from "./types.ts";

export interface WsLinkOptions extends DialOptions {
  /** `ws://host:port/ws` or `wss://…` */
  url: string;
  /**
   * For `wss://` under Bun: the CA to trust (a private one, say), the name to
   * verify, whether to refuse what does not verify. A browser has its own
   * trust store and takes none of this.
   */
  tls?: ClientTlsOptions;
}

/** How long a graceful close may wait for the server's close frame before the link counts as closed. */
const CLOSE_GRACE_MS = 1_000;

/** Close codes that mean the server ended the connection on purpose, with nothing to report. */
const CLEAN_CLOSE = new Set([1000, 1001, 1005]);

export class WsLink implements ClientLink {
  /** the server's `hello` */
  hello!: HelloPush;
  #ws: WebSocket | null = null;
  #ready = Promise.withResolvers<void>();
  #greeted = false;
  #closed = false;
  #closedWaiters = Promise.withResolvers<void>();
  /** why the link is being taken down, when we know it before the socket says */
  #reason: Error | undefined;

  private constructor(
    readonly options: WsLinkOptions,
    private readonly events: LinkEvents,
  ) {
    // Nobody may be waiting when a link fails before `open` is awaited.
    this.#ready.promise.catch(() => {});
  }

  /** Connects and resolves once the server's `hello` arrived. */
  static async open(options: WsLinkOptions, events: LinkEvents): Promise<WsLink> {
    const link = new WsLink(options, events);
    const { url, connectTimeoutMs, tls } = options;
    let ws: WebSocket;
    try {
      // Bun's WebSocket takes TLS settings beside the standard arguments; a browser's only the standard ones.
      ws = tls ? new WebSocket(url, { tls } as unknown as string[]) : new WebSocket(url);
    } catch (err) {
      throw new ConnectError(`cannot connect to ${url}: ${(err as Error).message}`, { cause: err });
    }
    link.#attach(ws);
    const timer = setTimeout(
      () => link.destroy(new TimeoutError(`no hello from ${url} within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    try {
      await link.#ready.promise;
      return link;
    } finally {
      clearTimeout(timer);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** the server's node id */
  get node(): string {
    return this.hello.node;
  }

  /** Bytes the WebSocket has queued and not yet sent. */
  get bufferedBytes(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  /** Resolves when the connection has closed. */
  get whenClosed(): Promise<void> {
    return this.#closedWaiters.promise;
  }

  send(json: string): void {
    const ws = this.#ws;
    if (this.#closed || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(json);
  }

  /** Ends the connection gracefully (what was sent is still delivered). */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#reason ??= new ConnectionClosedError("connection closed by the client");
      this.#ws?.close(1000);
      // A server that never answers the close frame must not keep us waiting.
      const cut = setTimeout(() => this.#onClose(), CLOSE_GRACE_MS);
      unrefTimer(cut);
      void this.whenClosed.then(() => clearTimeout(cut));
    }
    return this.whenClosed;
  }

  /** Cuts the connection at once; `reason` is what `closed` reports. */
  destroy(reason: Error): void {
    if (this.#closed) return;
    this.#reason ??= reason;
    this.#ws?.close();
    // The socket's own close event may come much later (or, for a dead peer, after a timeout): settle now.
    this.#onClose();
  }

  #attach(ws: WebSocket): void {
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => this.#onMessage(event.data);
    ws.onerror = () => {
      // Browsers say nothing more about a failed WebSocket; the close event follows.
      this.#reason ??= this.#greeted
        ? new ConnectionClosedError(`connection to ${this.options.url} failed`)
        : new ConnectError(`cannot connect to ${this.options.url}`);
    };
    ws.onclose = (event) => {
      if (this.#reason === undefined && !CLEAN_CLOSE.has(event.code)) {
        const why = event.reason ? `: ${event.reason}` : "";
        this.#reason = this.#greeted
          ? new ConnectionClosedError(`connection lost (WebSocket close ${event.code}${why})`)
          : new ConnectError(`cannot connect to ${this.options.url} (WebSocket close ${event.code}${why})`);
      }
      this.#onClose();
    };
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    if (typeof data !== "string") {
      this.destroy(new ProtocolError("the server sent a binary WebSocket message"));
      return;
    }
    const frame = frameOfMessage(data, this.options.maxFrame);
    if (frame === undefined) return;
    if (frame === TOO_LARGE) return this.destroy(new ProtocolError(`a frame from the server exceeds ${this.options.maxFrame} bytes`));
    if (typeof frame !== "string") return this.destroy(new ProtocolError("the server sent a WebSocket message that is not one frame"));
    const r = readFrame(frame, this.#greeted);
    if ("error" in r) return this.destroy(r.error);
    if ("hello" in r) {
      this.#greeted = true;
      this.hello = r.hello;
      this.#ready.resolve();
      return;
    }
    this.events.frame(r.frame);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const ws = this.#ws;
    if (ws) ws.onmessage = ws.onerror = ws.onclose = null;
    const reason = this.#reason;
    if (this.#greeted) {
      this.events.closed(reason);
    } else {
      this.#ready.reject(reason ?? new ConnectionClosedError("the server closed the connection before hello"));
    }
    this.#closedWaiters.resolve();
  }
}
