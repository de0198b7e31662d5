/**
 * The lab's users: clients that connect through the VIP and are placed on a
 * chosen chat node, a sender that talks to one node directly (so it keeps
 * sending while the VIP moves), and the bookkeeping that proves nothing sent
 * was lost.
 */
import { LabClient, RequestError, type Outage } from "./client.ts";
import type { LabTls } from "./wait.ts";

export const PASSWORD = "lab-password-1";

export interface Endpoint {
  host: string;
  port: number;
  tls?: LabTls;
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
  readonly received: { has(mid: number): boolean };
  readonly duplicates: number;
  readonly outages: Outage[];
  readonly gaveUp?: boolean;
}

export interface Sent {
  to: Recipient;
  mid: number;
  at: number;
}

/** Sends one message and records its mid, or throws. */
export async function sendTo(from: LabClient, to: Recipient, text: string): Promise<Sent> {
  const ok = await from.request("send", { to: to.user!.id, text });
  return { to, mid: Number(ok.mid), at: Date.now() };
}

/**
 * Sends to `targets` in turn every `everyMs` until stopped (at most `max`
 * messages or `maxMs`). Only messages answered `ok` count as sent: those are
 * the ones the protocol promises never to lose.
 */
export function keepSending(from: LabClient, targets: Recipient[], tag: string, everyMs = 100, max = 2_000, maxMs = 60_000) {
  const sent: Sent[] = [];
  const failures: string[] = [];
  let stopped = false;
  const until = Date.now() + maxMs;
  const loop = (async () => {
    for (let n = 0; !stopped && n < max && Date.now() < until; n++) {
      const to = targets[n % targets.length]!;
      try {
        sent.push(await sendTo(from, to, `${tag} #${n} for ${to.user!.name}`));
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
  const deadline = Date.now() + timeoutMs;
  while (missing().length && Date.now() < deadline) await Bun.sleep(50);
  return missing();
}

/** Time until `c` receives message `mid`, or undefined after `timeoutMs`. */
export async function arrival(c: LabClient, mid: number, since: number, timeoutMs = 3_000): Promise<number | undefined> {
  const ok = await c.until(() => c.received.has(mid), timeoutMs);
  return ok ? Date.now() - since : undefined;
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
