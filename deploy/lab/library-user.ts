/**
 * A user on the project's own client library (src/client), with the options
 * an application would use: reconnect and autoAck on, every other setting at
 * its default (10 s heartbeat, 10 s connect timeout, 100 ms-5 s backoff).
 * The lab's own client judges the server from the protocol alone; this one
 * shows what the shipped library makes of the same failovers: its sends carry
 * a cid and go again after a reconnect, and a re-send the server had already
 * stored resolves with `duplicate: true`.
 */
import { createClient, type ChatClient, type MessagePush } from "../../src/client/index.ts";
import type { Outage } from "./client.ts";
import { PASSWORD, type Endpoint, type Recipient, type Sent } from "./people.ts";

export class LibraryUser {
  readonly client: ChatClient;
  readonly received = new Map<number, MessagePush>();
  /** The library drops duplicate pushes itself (dedupe), so none reach us. */
  readonly duplicates = 0;
  readonly outages: Outage[] = [];
  user?: { id: number; name: string };
  /** Sends waiting for their reply: how many connections each outlived (each one sent it again). */
  readonly #inFlight = new Set<{ lost: number }>();

  constructor(
    via: Endpoint,
    readonly label: string,
  ) {
    this.client = createClient({ host: via.host, port: via.port, tls: via.tls ? { ca: via.tls.ca } : false, reconnect: true, autoAck: true });
    this.client.onMessage((m) => this.received.set(m.mid, m));
    this.client.on("disconnected", () => {
      this.outages.push({ lostAt: Date.now(), attempts: 0 });
      for (const s of this.#inFlight) s.lost++;
    });
    this.client.on("reconnecting", () => {
      const o = this.outages.at(-1);
      if (o) o.attempts++;
    });
    this.client.on("reconnected", (e) => {
      const o = this.outages.at(-1);
      if (o && !o.backAt && e.login) {
        o.backAt = Date.now();
        o.node = e.node;
      }
    });
  }

  get node(): string | undefined {
    return this.client.node;
  }

  /** Connects, registers (unless the name exists) and logs in. */
  async signIn() {
    await this.client.connect();
    try {
      await this.client.register(this.label, PASSWORD);
    } catch (e) {
      if ((e as { code?: string }).code !== "name_taken") throw e;
    }
    const r = await this.client.login({ name: this.label, password: PASSWORD });
    this.user = { id: r.user.id, name: r.user.name };
  }

  /**
   * Sends with the library's `send`: it attaches the cid and sends again
   * after a reconnect. A send is counted as re-sent when it was in flight as
   * a connection was lost (the library sends it again on the next one).
   */
  async send(to: Recipient, text: string): Promise<Sent> {
    const s = { lost: 0 };
    this.#inFlight.add(s);
    try {
      const r = await this.client.send(to.user!.id, text);
      return { text, mid: r.mid, to, attempts: 1 + s.lost, duplicate: r.duplicate === true, at: Date.now() };
    } finally {
      this.#inFlight.delete(s);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
