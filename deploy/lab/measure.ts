/**
 * How the lab measures a failover: when the VIP moved and answered, when
 * each client was back, and whether every accepted message arrived, once.
 */
import { describeTally, SendLedger } from "../../test/support/send-ledger.ts";
import { timedOut, waitUntil } from "../../test/support/wait.ts";
import type { Endpoint, Recipient, Sent } from "./people.ts";
import { median, undelivered } from "./people.ts";
import type { CheckHandle } from "./report.ts";
import { secs } from "./report.ts";
import type { Stack, Vm } from "./stack.ts";
import { tcpHello } from "./probes.ts";

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
  let taken: number | undefined;
  const alone = await waitUntil(
    `the VIP on ${vm} alone`,
    async () => {
      const h = await stack.vipHolders();
      if (h.includes(vm)) taken ??= Date.now();
      return h.length === 1 && h[0] === vm ? Date.now() : undefined;
    },
    timeoutMs,
    { everyMs: 20 },
  ).catch(timedOut);
  return { taken, alone };
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
  const outage = (u: Recipient) => u.outages.find((o) => o.lostAt >= since);
  await waitUntil("every client back", () => clients.every((u) => outage(u)?.backAt), timeoutMs).catch(timedOut);
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

/**
 * Reports what became of `sent` (the messages that got ok): delivered, lost,
 * duplicated (a text its recipient received under two mids: stored twice),
 * and how many were sent again after a lost connection, of which how many
 * the server had already stored (`duplicate: true`: the reply was lost, not
 * the message). `failures` are sends that never got ok.
 */
export async function reportLoss(c: CheckHandle, sent: Sent[], failures: string[], what: string) {
  await undelivered(sent, 5_000);
  const ledger = new SendLedger<Recipient>();
  for (const s of sent) ledger.accept(s);
  const recipients = new Set(sent.map((s) => s.to));
  for (const r of recipients) for (const [mid, body] of r.received) ledger.saw({ mid, text: body.text }, r);
  const t = ledger.tally();
  const pushedAgain = [...recipients].reduce((n, u) => n + u.duplicates, 0);
  c.figure(`${what}: ${describeTally(t)} (${pushedAgain} pushes of a mid already received so far, dropped by mid)`, true);
  if (failures.length) c.figure(`sends that never got ok: ${failures.length} (first: ${failures[0]})`);
  c.expect(sent.length > 0, "nothing was sent during the outage");
  c.expect(t.lost.length === 0, `${t.lost.length} messages lost, e.g. mid ${t.lost[0]?.mid} for ${t.lost[0] && nameOf(t.lost[0].to)}`);
  c.expect(t.duplicated.length === 0, `${t.duplicated.length} messages stored twice, e.g. "${t.duplicated[0]}"`);
  c.expect(failures.length === 0, `${failures.length} sends never got ok`);
}

