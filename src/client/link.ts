/**
 * One TCP or TLS connection to a server (Bun only): dials, waits for `hello`,
 * splits the incoming bytes into frames and writes with backpressure. A
 * ChatClient goes through several links when it reconnects; a link is never
 * reused. ws-link.ts is the same over WebSocket.
 */
import type { Socket, SocketHandler } from "bun";
import { BAD_UTF8, FrameReader, TOO_LARGE } from "../protocol/frame-reader.ts";
import { ClientError, ConnectError, ConnectionClosedError, ProtocolError, TimeoutError } from "./errors.ts";
import { type ClientLink, type DialOptions, type LinkEvents, readFrame, unrefTimer } from "./transport.ts";
import type { HelloPush } from "./types.ts";
import { WriteQueue } from "./write-queue.ts";

/** TLS settings for the client side. */
export interface ClientTlsOptions {
  /** trusted CA certificate(s), PEM; default: the system's CAs */
  ca?: string | Buffer | Array<string | Buffer>;
  /** name to verify the certificate against (SNI); default: the host */
  serverName?: string;
  /** refuse a certificate that does not verify (default true) */
  rejectUnauthorized?: boolean;
}

export interface LinkOptions extends DialOptions {
  host: string;
  port: number;
  tls: boolean | ClientTlsOptions;
}

/** How long a graceful close may wait for the server's FIN before cutting. */
const END_GRACE_MS = 1_000;

export class Link implements ClientLink {
  /** the server's `hello` */
  hello!: HelloPush;
  #socket: Socket<Link> | null = null;
  readonly #reader: FrameReader;
  readonly #out: WriteQueue;
  #ready = Promise.withResolvers<void>();
  #greeted = false;
  #closed = false;
  #closedWaiters = Promise.withResolvers<void>();
  /** why the link is being taken down, when we know it before the socket says */
  #reason: Error | undefined;

  private constructor(
    readonly options: LinkOptions,
    private readonly events: LinkEvents,
  ) {
    this.#reader = new FrameReader(options.maxFrame);
    this.#out = new WriteQueue((bytes) => this.#socket?.write(bytes) ?? -1);
    // Nobody may be waiting when a link fails before `open` is awaited.
    this.#ready.promise.catch(() => {});
  }

  /** Connects and resolves once the server's `hello` arrived. */
  static async open(options: LinkOptions, events: LinkEvents): Promise<Link> {
    const link = new Link(options, events);
    const { host, port, connectTimeoutMs } = options;
    const timer = setTimeout(
      () => link.destroy(new TimeoutError(`no hello from ${host}:${port} within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    try {
      Bun.connect<Link>({
        hostname: host,
        port,
        tls: options.tls === false ? undefined : options.tls,
        data: link,
        socket: Link.#handlers,
      }).then(
        (socket) => {
          // A timeout or close() may have given up on this link meanwhile.
          if (link.#closed) socket.terminate();
        },
        (err: Error) => link.#fail(link.#connectError(err)),
      );
      await link.#ready.promise;
      return link;
    } catch (err) {
      // A TLS handshake failure, for one, reaches us as a plain error on close.
      if (err instanceof ClientError) throw err;
      throw new ConnectError(`cannot connect to ${host}:${port}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  static #handlers: SocketHandler<Link> = {
    open(socket) {
      socket.data.#socket = socket;
      if (socket.data.#closed) socket.terminate();
    },
    data(socket, chunk) {
      socket.data.#onBytes(chunk);
    },
    drain(socket) {
      socket.data.#out.drain();
    },
    handshake(socket, success, authorizationError) {
      if (success) return;
      const why = authorizationError?.message ?? "the certificate was refused";
      socket.data.#fail(new ConnectError(`TLS handshake with ${socket.data.options.host}: ${why}`));
    },
    error(socket, err) {
      // A TLS failure or a throwing handler; the socket closes next.
      socket.data.#reason ??= err;
    },
    connectError(socket, err) {
      socket.data.#fail(socket.data.#connectError(err));
    },
    close(socket, err) {
      socket.data.#onClose(err);
    },
  };

  get closed(): boolean {
    return this.#closed;
  }

  /** the server's node id */
  get node(): string {
    return this.hello.node;
  }

  /** Bytes waiting for the socket to drain. */
  get bufferedBytes(): number {
    return this.#out.pending;
  }

  /** Resolves when the socket has closed. */
  get whenClosed(): Promise<void> {
    return this.#closedWaiters.promise;
  }

  send(_json: string, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#out.push(bytes);
  }

  /** Ends the connection gracefully (what was written is still sent). */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#reason ??= new ConnectionClosedError("connection closed by the client");
      const socket = this.#socket;
      if (socket) {
        socket.end();
        // A server that never closes its side must not keep us alive.
        const cut = setTimeout(() => socket.terminate(), END_GRACE_MS);
        unrefTimer(cut);
        void this.whenClosed.then(() => clearTimeout(cut));
      } else {
        this.#onClose();
      }
    }
    return this.whenClosed;
  }

  /** Cuts the connection at once; `reason` is what `closed` reports. */
  destroy(reason: Error): void {
    if (this.#closed) return;
    this.#reason ??= reason;
    if (this.#socket) this.#socket.terminate();
    // terminate() reports `close` through the handler, but not for a socket
    // that is still connecting: settle here too (it happens once).
    this.#onClose();
  }

  #onBytes(chunk: Uint8Array): void {
    // FrameReader keeps an unterminated tail with `rest.slice()`, which for a
    // Buffer is a view, not a copy; Bun reuses the read buffer, so such a tail
    // would be overwritten by the next read. Hand it a copy in that case.
    const safe = chunk.length > 0 && chunk[chunk.length - 1] !== 0x0a ? new Uint8Array(chunk) : chunk;
    for (const line of this.#reader.push(safe)) {
      if (this.#closed) return;
      if (line === TOO_LARGE) {
        this.destroy(new ProtocolError(`a frame from the server exceeds ${this.options.maxFrame} bytes`));
        return;
      }
      if (line === BAD_UTF8) {
        this.destroy(new ProtocolError("a frame from the server is not valid UTF-8"));
        return;
      }
      const r = readFrame(line, this.#greeted);
      if ("error" in r) return this.destroy(r.error);
      if ("hello" in r) {
        this.#greeted = true;
        this.hello = r.hello;
        this.#ready.resolve();
        continue;
      }
      this.events.frame(r.frame);
    }
  }

  #connectError(err: Error): ConnectError {
    const code = (err as { code?: unknown }).code;
    const detail = typeof code === "string" && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
    return new ConnectError(`cannot connect to ${this.options.host}:${this.options.port}: ${detail}`, { cause: err });
  }

  #fail(err: Error): void {
    this.#reason ??= err;
    this.destroy(err);
  }

  #onClose(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.clear();
    const reason = this.#reason ?? err;
    if (this.#greeted) {
      this.events.closed(reason);
    } else {
      this.#ready.reject(reason ?? new ConnectionClosedError("the server closed the connection before hello"));
    }
    this.#closedWaiters.resolve();
  }
}
