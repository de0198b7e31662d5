/**
 * How the lab measures a failover: when the VIP moved and answered, when
 * each client was back, and whether every accepted message arrived.
 */
import type { Endpoint, Recipient, Sent } from "./people.ts";
import { median, undelivered } from "./people.ts";
import type { CheckHandle } from "./report.ts";
import { secs } from "./report.ts";
import type { Stack, Vm } from "./stack.ts";
import { tcpHello } from "./wait.ts";

/** Longest a client may take to log back in after a failover ("a few seconds"). */
export const RECONNECT_LIMIT_MS = 5_000;

function nameOf(r: Recipient): string {
  return r.user?.name ?? "?";
}

/**
 * Polls (every 20 ms, bounded) until `vm` holds the VIP and then until the
 * other VM has let it go. `taken` is when `vm` was first seen with it (its
 * gratuitous ARP goes out then), `alone` when it was the only holder.
 */
export async function vipOn(stack: Stack, vm: Vm, timeoutMs: number): Promise<{ taken?: number; alone?: number }> {
  const deadline = Date.now() + timeoutMs;
  let taken: number | undefined;
  while (Date.now() < deadline) {
    const h = await stack.vipHolders();
    if (h.includes(vm)) taken ??= Date.now();
    if (h.length === 1 && h[0] === vm) return { taken, alone: Date.now() };
    await Bun.sleep(20);
  }
  return { taken };
}

export function reportMove(c: CheckHandle, move: { taken?: number; alone?: number }, vm: Vm, since: number, what: string) {
  if (!move.taken) return c.fail(`the VIP did not reach ${vm}`);
  c.figure(`${what} VIP on ${vm} after ${secs(move.taken - since)}${move.alone && move.alone - move.taken > 100 ? `, the other VM kept it ${secs(move.alone - move.taken)} longer` : ""}`, true);
  c.expect(!!move.alone, `the other VM still holds the VIP too`);
}

/**
 * When a new connection to the VIP first gets a hello, or undefined. A new
 * probe starts every 25 ms without waiting for the previous one: a SYN lost
 * while the VIP moves would otherwise hide the moment it answers again.
 */
export async function vipAnswers(vip: Endpoint, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  let answered: number | undefined;
  const probes: Promise<void>[] = [];
  while (answered === undefined && Date.now() < deadline) {
    probes.push(
      tcpHello(vip.host, vip.port, 300, vip.tls).then((node) => {
        if (node !== undefined) answered ??= Date.now();
      }),
    );
    await Bun.sleep(25);
  }
  await Promise.all(probes);
  return answered;
}

/** Waits until every client lost its connection after `since` and logged back in; returns their times. */
export async function backAfter(clients: Recipient[], since: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const outage = (u: Recipient) => u.outages.find((o) => o.lostAt >= since);
  while (Date.now() < deadline && !clients.every((u) => outage(u)?.backAt)) await Bun.sleep(50);
  return clients.map((u) => ({ u, o: outage(u) }));
}

/**
 * Reports how long clients took to log back in: from `from` (the fault) when
 * given, else from the moment each one lost its connection.
 */
export function reportReconnects(
  c: CheckHandle,
  rows: Awaited<ReturnType<typeof backAfter>>,
  what: string,
  from?: number,
  limitMs = RECONNECT_LIMIT_MS,
) {
  const times: number[] = [];
  const detail: string[] = [];
  for (const { u, o } of rows) {
    if (!o) c.fail(`${nameOf(u)} was never disconnected (expected: its path went through the failed part)`);
    else if (!o.backAt) c.fail(`${nameOf(u)} did not log back in (${o.attempts} attempts${u.gaveUp ? ", gave up" : ""})`);
    else {
      const ms = Math.max(0, o.backAt - (from ?? o.lostAt));
      times.push(ms);
      detail.push(`${nameOf(u)}@${o.node} ${secs(ms)}/${o.attempts}`);
    }
  }
  if (!times.length) return;
  c.figure(`clients logged back in with their token ${what}: median ${secs(median(times))}, max ${secs(Math.max(...times))} [user@node time/attempts: ${detail.join(", ")}]`, true);
  c.expect(Math.max(...times) <= limitMs, `a client took longer than ${secs(limitMs)} to come back`);
}

export async function reportLoss(c: CheckHandle, sent: Sent[], failures: string[], what: string) {
  const lost = await undelivered(sent, 5_000);
  const dups = [...new Set(sent.map((s) => s.to))].reduce((n, u) => n + u.duplicates, 0);
  c.figure(`${what}: ${sent.length} messages accepted (ok), ${sent.length - lost.length} delivered, ${lost.length} lost (${dups} duplicate pushes so far, dropped by mid)`, true);
  if (failures.length) c.figure(`sends refused meanwhile: ${failures.length} (first: ${failures[0]})`);
  c.expect(sent.length > 0, "nothing was sent during the outage");
  c.expect(lost.length === 0, `${lost.length} messages lost, e.g. mid ${lost[0]?.mid} for ${lost[0] && nameOf(lost[0].to)}`);
}

