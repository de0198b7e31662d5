/**
 * A scripted fake chat server for the client library's unit tests
 * (Bun.listen on a free port): it records every frame each connection
 * sends, lets a test wait for the next one, and answers the way a test
 * scripts it. No database, no real server.
 */
import type { Socket, TCPSocketListener } from "bun";
import { FrameReader } from "../../src/protocol/frame-reader.ts";

export type Frame = Record<string, any>;

/** One connection as the fake server sees it. */
export class FakeConn {
  readonly frames: Frame[] = [];
  readonly reader = new FrameReader(1 << 24);
  closed = false;
  #waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  #seen = 0;
  #onClose = Promise.withResolvers<void>();

  constructor(
    readonly socket: Socket<FakeConn>,
    readonly server: FakeServer,
  ) {}

  send(frame: Frame | string): void {
    this.socket.write(typeof frame === "string" ? frame : `${JSON.stringify(frame)}\n`);
  }

  ok(req: Frame, fields: Frame = {}): void {
    this.send({ type: "ok", re: req.id, ...fields });
  }

  /** The next frame received (after those already taken) that matches. */
  next(pred: (f: Frame) => boolean = () => true): Promise<Frame> {
    while (this.#seen < this.frames.length) {
      const f = this.frames[this.#seen++]!;
      if (pred(f)) return Promise.resolve(f);
    }
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  nextOf(type: string): Promise<Frame> {
    return this.next((f) => f.type === type);
  }

  get whenClosed(): Promise<void> {
    return this.#onClose.promise;
  }

  drop(): void {
    this.socket.terminate();
  }

  received(frame: Frame): void {
    this.frames.push(frame);
    const w = this.#waiters[0];
    if (w) {
      this.#seen = this.frames.length;
      if (w.pred(frame)) {
        this.#waiters.shift();
        w.resolve(frame);
      }
    }
    this.server.onFrame(this, frame);
  }

  ended(): void {
    this.closed = true;
    this.#onClose.resolve();
  }
}

/**
 * A fake chat server. By default it greets with hello, answers `login`
 * (password → token "t1", a token "tN" → "t(N+1)"; anything else
 * bad_credentials) and `ping`; `script` may answer anything first (return
 * true when it did).
 */
export class FakeServer {
  readonly conns: FakeConn[] = [];
  #listener!: TCPSocketListener<FakeConn>;
  #connWaiters: Array<(c: FakeConn) => void> = [];
  nodeName = "n1";
  /** What hello lists in `features` (none: a version 1 server). */
  features: string[] | undefined;
  script: (conn: FakeConn, f: Frame) => boolean | void = () => false;
  validTokens = new Set<string>();
  tokenCounter = 0;

  static start(): FakeServer {
    const s = new FakeServer();
    s.#listener = Bun.listen<FakeConn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          const conn = new FakeConn(socket, s);
          socket.data = conn;
          s.conns.push(conn);
          conn.send({ type: "hello", version: 1, node: s.nodeName, ...(s.features ? { features: s.features } : {}) });
          s.#connWaiters.shift()?.(conn);
        },
        data(socket, chunk) {
          // A copy: FrameReader keeps a view of the read buffer, which Bun reuses.
          for (const line of socket.data.reader.push(new Uint8Array(chunk))) {
            if (typeof line === "string") socket.data.received(JSON.parse(line));
          }
        },
        close(socket) {
          socket.data.ended();
        },
      },
    });
    return s;
  }

  get port(): number {
    return this.#listener.port;
  }

  /** The next connection (or the n-th one, 0-based, if it exists already). */
  connection(n?: number): Promise<FakeConn> {
    if (n !== undefined && this.conns[n]) return Promise.resolve(this.conns[n]!);
    return new Promise((resolve) => this.#connWaiters.push(resolve));
  }

  onFrame(conn: FakeConn, f: Frame): void {
    if (this.script(conn, f)) return;
    if (f.type === "ping") conn.ok(f);
    else if (f.type === "login") this.#login(conn, f);
  }

  #login(conn: FakeConn, f: Frame): void {
    const byPassword = f.password === "s3cret-pw";
    if (!byPassword && !this.validTokens.has(f.token)) {
      conn.send({ type: "error", re: f.id, code: "bad_credentials", message: "wrong name or password" });
      return;
    }
    const token = `t${++this.tokenCounter}`;
    this.validTokens.add(token);
    const id = typeof f.user === "number" ? f.user : 7;
    conn.ok(f, { user: { id, name: f.name ?? "alice" }, friends: [], groups: [], pending: 0, token });
  }

  stop(): void {
    this.#listener.stop(true);
  }
}
