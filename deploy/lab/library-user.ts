/**
 * A user on the project's own client library (src/client), with the options
 * an application would use: reconnect and autoAck on, every other setting at
 * its default (10 s heartbeat, 10 s connect timeout, 100 ms-5 s backoff).
 * The lab's own client judges the server from the protocol alone; this one
 * shows what the shipped library makes of the same failovers.
 */
import { createClient, type ChatClient } from "../../src/client/index.ts";
import type { Outage } from "./client.ts";
import { PASSWORD, type Endpoint } from "./people.ts";

export class LibraryUser {
  readonly client: ChatClient;
  readonly received = new Set<number>();
  /** The library drops duplicate pushes itself (dedupe), so none reach us. */
  readonly duplicates = 0;
  readonly outages: Outage[] = [];
  user?: { id: number; name: string };

  constructor(
    via: Endpoint,
    readonly label: string,
  ) {
    this.client = createClient({ host: via.host, port: via.port, tls: via.tls ? { ca: via.tls.ca } : false, reconnect: true, autoAck: true });
    this.client.onMessage((m) => this.received.add(m.mid));
    this.client.on("disconnected", () => this.outages.push({ lostAt: Date.now(), attempts: 0 }));
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

  close(): Promise<void> {
    return this.client.close();
  }
}
