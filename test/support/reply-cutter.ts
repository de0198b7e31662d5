/**
 * A TCP proxy in front of a chat server that loses one reply on purpose:
 * armed with a request type, it lets the next such request through to the
 * server, and when the server's reply to it comes back it cuts the client's
 * connection instead of passing the reply on. That is a connection dying
 * after the server did the work and before the client heard of it (the
 * lost-reply case `cid` exists for), made to happen every time instead of by
 * luck. Everything else passes through unchanged; every request is recorded.
 */
import type { Socket, TCPSocketListener } from "bun";
import { type Frame, isReply, LineReader, parseFrame } from "./framing.ts";

interface Pair {
  client: Socket<Pair>;
  server?: Socket<undefined>;
  /** bytes from the client not yet taken by the server socket (it may still be connecting) */
  toServer: Uint8Array[];
  /** lines for the client not yet taken by its socket */
  toClient: Uint8Array[];
  fromClient: LineReader;
  fromServer: LineReader;
  /** the id of the request whose reply is to be swallowed on this connection */
  doomed?: number;
  closed: boolean;
}

interface Trap {
  type: string;
  resolve(cut: { request: Frame; reply: Frame }): void;
  request?: Frame;
  pair?: Pair;
}

export class ReplyCutter {
  /** Every request the clients sent through, in order. */
  readonly requests: Frame[] = [];
  /** Client connections accepted so far. */
  connections = 0;
  readonly #listener: TCPSocketListener<Pair>;
  #trap: Trap | undefined;
  readonly #pairs = new Set<Pair>();

  private constructor(readonly target: { host: string; port: number }) {
    const self = this;
    this.#listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          self.#open(client);
        },
        data(client, chunk) {
          const p = client.data;
          p.fromClient.push(chunk);
          p.toServer.push(new Uint8Array(chunk));
          self.#pumpServer(p);
        },
        drain(client) {
          self.#pumpClient(client.data);
        },
        close(client) {
          self.#close(client.data);
        },
        error(client) {
          self.#close(client.data);
        },
      },
    });
  }

  /** A proxy on a free loopback port, forwarding to `port` on `host`. */
  static start(port: number, host = "127.0.0.1"): ReplyCutter {
    return new ReplyCutter({ host, port });
  }

  get port(): number {
    return this.#listener.port;
  }

  /**
   * Arms the trap: the next request of `type` goes to the server, and its
   * reply, ok or error, is swallowed by cutting that client's connection.
   * Resolves with the request and the reply the client never saw.
   */
  cutReplyTo(type: string): Promise<{ request: Frame; reply: Frame }> {
    if (this.#trap) throw new Error(`already waiting to cut the reply to a ${this.#trap.type}`);
    return new Promise((resolve) => (this.#trap = { type, resolve }));
  }

  stop(): void {
    this.#listener.stop(true);
    for (const p of this.#pairs) this.#close(p);
  }

  #open(client: Socket<Pair>) {
    this.connections++;
    const p: Pair = {
      client,
      toServer: [],
      toClient: [],
      closed: false,
      fromClient: new LineReader((line) => this.#onRequest(p, line)),
      fromServer: new LineReader((line) => this.#onServerLine(p, line)),
    };
    client.data = p;
    this.#pairs.add(p);
    Bun.connect({
      hostname: this.target.host,
      port: this.target.port,
      socket: {
        data: (_s, chunk) => p.fromServer.push(chunk),
        drain: () => this.#pumpServer(p),
        close: () => this.#close(p),
        error: () => this.#close(p),
        connectError: () => this.#close(p),
      },
    }).then(
      (server) => {
        p.server = server;
        if (p.closed) server.terminate();
        else this.#pumpServer(p);
      },
      () => this.#close(p),
    );
  }

  #onRequest(p: Pair, line: string) {
    const f = parseFrame(line);
    if (!f) return;
    this.requests.push(f);
    const trap = this.#trap;
    if (trap && !trap.request && f.type === trap.type && typeof f.id === "number") {
      trap.request = f;
      trap.pair = p;
      p.doomed = f.id;
    }
  }

  #onServerLine(p: Pair, line: string) {
    if (p.closed) return;
    const f = p.doomed === undefined ? undefined : parseFrame(line);
    const trap = this.#trap;
    if (f && trap?.pair === p && isReply(f) && f.re === p.doomed) {
      // The server did the work and answered; the client must never hear it.
      this.#trap = undefined;
      p.client.terminate();
      this.#close(p);
      trap.resolve({ request: trap.request as Frame, reply: f });
      return;
    }
    p.toClient.push(Buffer.from(`${line}\n`));
    this.#pumpClient(p);
  }

  #pumpServer(p: Pair) {
    if (p.server && !p.closed) pump(p.server, p.toServer);
  }

  #pumpClient(p: Pair) {
    if (!p.closed) pump(p.client, p.toClient);
  }

  #close(p: Pair) {
    if (p.closed) return;
    p.closed = true;
    this.#pairs.delete(p);
    p.client.terminate();
    p.server?.terminate();
  }
}

/** Writes what `queue` holds until the socket takes no more; its drain event calls again. */
function pump(socket: { write(b: Uint8Array): number }, queue: Uint8Array[]) {
  while (queue.length) {
    const head = queue[0] as Uint8Array;
    const n = socket.write(head);
    if (n < head.length) {
      queue[0] = head.subarray(Math.max(n, 0));
      return;
    }
    queue.shift();
  }
}
