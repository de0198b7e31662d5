/**
 * A raw protocol client for tests: sends bytes or frames, collects every frame
 * the server sends, and waits for replies and pushes by event, never by sleep.
 */
type Frame = Record<string, any>;

export class Wire {
  readonly frames: Frame[] = [];
  closed = false;
  #buf = "";
  #decoder = new TextDecoder();
  #waiters: { pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: Timer }[] = [];
  #closeWaiters: (() => void)[] = [];
  #nextId = 1;
  socket!: Awaited<ReturnType<typeof Bun.connect>>;

  static async connect(port: number, host = "127.0.0.1"): Promise<Wire> {
    const w = new Wire();
    w.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, chunk) => w.#onData(chunk),
        close: () => w.#onClose(),
        error: () => w.#onClose(),
      },
    });
    await w.next((f) => f.type === "hello");
    return w;
  }

  #onData(chunk: Uint8Array) {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = this.#buf.indexOf("\n")) >= 0) {
      const text = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      const f = JSON.parse(text);
      this.frames.push(f);
      for (const w of [...this.#waiters])
        if (this.frames.length - 1 >= w.from && w.pred(f)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(f);
        }
    }
  }

  #onClose() {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.#closeWaiters.splice(0)) r();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`connection closed while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`));
    }
  }

  /** Writes raw text or bytes. */
  raw(data: string | Uint8Array) {
    this.socket.write(data);
  }

  /** Sends a frame and returns its reply (ok or error). */
  async req(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    const id = frame.id ?? this.#nextId++;
    this.raw(JSON.stringify({ ...frame, id }) + "\n");
    return this.next((f) => (f.type === "ok" || f.type === "error") && f.re === id, timeoutMs);
  }

  /** Sends a frame that must succeed; returns the ok reply. */
  async ok(frame: Frame): Promise<Frame> {
    const r = await this.req(frame);
    if (r.type !== "ok") throw new Error(`${frame.type} failed: ${JSON.stringify(r)}`);
    return r;
  }

  /** The first frame (already received or still to come) matching `pred`, counting from index `from`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i] as Frame)) return Promise.resolve(this.frames[i] as Frame);
    if (this.closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting; last frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      const w = { pred, from, resolve, reject, timer };
      this.#waiters.push(w);
    });
  }

  /** A push of `type` matching `pred`, received after frame index `from`. */
  push(type: string, pred: (f: Frame) => boolean = () => true, from = 0, timeoutMs = 10_000): Promise<Frame> {
    return this.next((f) => f.type === type && pred(f), timeoutMs, from);
  }

  pushes(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.#closeWaiters.push(r));
  }

  close() {
    this.socket.end();
  }
}
