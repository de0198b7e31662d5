/**
 * The lab's users: clients that connect through the VIP and are placed on a
 * chosen chat node, a sender that talks to one node directly (so it keeps
 * sending while the VIP moves), sending that survives a lost connection (a
 * cid, and the same send again after the reconnect until it gets ok), and
 * the bookkeeping that proves nothing sent was lost or stored twice.
 */
import type { Accepted } from "../../test/support/send-ledger.ts";
import { timedOut, waitUntil } from "../../test/support/wait.ts";
import { LabClient, RequestError, type Outage } from "./client.ts";
import type { LabTls } from "./probes.ts";

export const PASSWORD = "lab-password-1";

export interface Endpoint {
  host: string;
  port: number;
  tls?: LabTls;
  /** A browser's endpoint: the WebSocket transport at this path. */
  wsPath?: string;
}

/**
 * Opens a client through `via` until nginx hands it to `node` (bounded:
 * `attempts` connections). Connections that land elsewhere stay open until
 * then, so least_conn steers the next one to the other node.
 */
export async function openOn(via: Endpoint, label: string, node: string | undefined, attempts = 12): Promise<LabClient> {
  const spare: LabClient[] = [];
  try {
    for (let i = 0; i < attempts; i++) {
      const c = new LabClient({ ...via, label });
      const got = await c.open();
      if (node === undefined || got === node) return c;
      spare.push(c);
    }
  } finally {
    for (const c of spare) c.close();
  }
  throw new Error(`${label}: ${attempts} connections through ${via.host}:${via.port} never reached node ${node}`);
}

/** Registers `name` (or accepts that it exists) and logs in with the password. */
export async function signIn(c: LabClient, name: string): Promise<void> {
  try {
    await c.request("register", { name, password: PASSWORD });
  } catch (e) {
    if (!(e instanceof RequestError && e.code === "name_taken")) throw e;
  }
  const ok = await c.login({ name, password: PASSWORD });
  if (typeof ok.token !== "string") throw new Error(`login reply for ${name} carries no token: cannot reconnect`);
}

/** Makes every pair of clients friends (add_friend is mutual). */
export async function befriendAll(clients: LabClient[]) {
  for (let i = 0; i < clients.length; i++)
    for (let j = i + 1; j < clients.length; j++) {
      try {
        await clients[i]!.request("add_friend", { user: clients[j]!.user!.id });
      } catch (e) {
        if (!(e instanceof RequestError && e.code === "already_friends")) throw e;
      }
    }
}

/** Someone messages can be sent to and counted at: a LabClient or a LibraryUser. */
export interface Recipient {
  readonly user?: { id: number; name: string };
  /** every `msg` received, by mid: the bodies carry the text that identifies a message */
  readonly received: ReadonlyMap<number, { text?: unknown }>;
  /** pushes of a mid already received (at-least-once delivery), dropped by mid */
  readonly duplicates: number;
  readonly outages: Outage[];
  readonly gaveUp?: boolean;
}

/** A message that got ok: its text (unique in the run), mid and recipient, and how many sends it took. */
export type Sent = Accepted<Recipient>;

/** Someone who sends: a LabClient (sendTo) or a LibraryUser (its own send). */
export interface Sender {
  send(to: Recipient, text: string): Promise<Sent>;
}

/** How long sendOnce keeps at one message before it gives up (a reconnect may take a failover's time). */
const SEND_FOR_MS = 30_000;

/**
 * Sends `op` until it gets `ok`, with the same cid (the text, which the lab
 * keeps unique) every time: again after `unavailable`, again after the
 * reconnect when the connection is lost before the reply. A reply that was
 * lost after the server stored the message comes back the second time as
 * `duplicate: true` with the first mid. Throws on any other error, and when
 * `SEND_FOR_MS` pass without an ok.
 */
export async function sendOnce(from: LabClient, op: "send" | "group_send", fields: Record<string, unknown>, text: string): Promise<{ mid: number; attempts: number; duplicate: boolean }> {
  if (text.length > 64) throw new Error(`"${text}" is too long to be its own cid (64 characters at most)`);
  const deadline = Date.now() + SEND_FOR_MS;
  let last = "not connected";
  for (let attempts = 0; Date.now() < deadline; ) {
    if (!from.ready) {
      await waitUntil(`${from.opts.label} back`, () => from.ready, deadline - Date.now(), { everyMs: 10 }).catch(timedOut);
      continue;
    }
    attempts++;
    try {
      const ok = await from.request(op, { ...fields, text, cid: text });
      return { mid: Number(ok.mid), attempts, duplicate: ok.duplicate === true };
    } catch (e) {
      if (e instanceof RequestError && e.code !== "unavailable") throw e; // a refusal: sending it again cannot help
      last = e instanceof Error ? e.message : String(e);
      await Bun.sleep(20);
    }
  }
  throw new Error(`${from.opts.label}: no ok for "${text}" within ${SEND_FOR_MS} ms (last: ${last})`);
}

/** Sends one message to `to` (surviving a lost connection: sendOnce) and records it, or throws. */
export async function sendTo(from: LabClient, to: Recipient, text: string): Promise<Sent> {
  const r = await sendOnce(from, "send", { to: to.user!.id }, text);
  return { text, mid: r.mid, to, attempts: r.attempts, duplicate: r.duplicate, at: Date.now() };
}

/** A LabClient as a Sender. */
export function sender(from: LabClient): Sender {
  return { send: (to, text) => sendTo(from, to, text) };
}

/**
 * Sends to `targets` in turn every `everyMs` until stopped (at most `max`
 * messages or `maxMs`). Only messages answered `ok` count as sent: those are
 * the ones the protocol promises never to lose; `failures` are the ones that
 * never got it. Texts are `<tag> #<n> for <name>`: the tag must make them
 * unique in the run.
 */
export function keepSending(from: Sender, targets: Recipient[], tag: string, everyMs = 100, max = 2_000, maxMs = 60_000) {
  const sent: Sent[] = [];
  const failures: string[] = [];
  let stopped = false;
  const until = Date.now() + maxMs;
  const loop = (async () => {
    for (let n = 0; !stopped && n < max && Date.now() < until; n++) {
      const to = targets[n % targets.length]!;
      try {
        sent.push(await from.send(to, `${tag} #${n} for ${to.user!.name}`));
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
      await Bun.sleep(everyMs);
    }
  })();
  return {
    sent,
    failures,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Waits (bounded) until every sent message reached its recipient; returns the ones that did not. */
export async function undelivered(sent: Sent[], timeoutMs: number): Promise<Sent[]> {
  const missing = () => sent.filter((s) => !s.to.received.has(s.mid));
  await waitUntil("every sent message delivered", () => missing().length === 0, timeoutMs).catch(timedOut);
  return missing();
}

/** Time from `since` until `c` received message `mid` (its arrival time, not when the wait noticed), or undefined after `timeoutMs`. */
export async function arrival(c: LabClient, mid: number, since: number, timeoutMs = 3_000): Promise<number | undefined> {
  const at = await waitUntil(`${c.opts.label} receives mid ${mid}`, () => c.arrivedAt.get(mid), timeoutMs, { everyMs: 10 }).catch(timedOut);
  return at === undefined ? undefined : at - since;
}

/** Count of clients on each node, e.g. "vm1 2, vm2 2". */
export function spread(clients: LabClient[]): string {
  const by = new Map<string, string[]>();
  for (const c of clients) by.set(c.node ?? "?", [...(by.get(c.node ?? "?") ?? []), c.user?.name ?? c.opts.label]);
  return [...by].map(([n, names]) => `${n}: ${names.join(", ")}`).join("; ");
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
}
