/**
 * The database's faults, under steady load through the VIP:
 *   8. the Galera node the chat nodes write through is SIGKILLed: their pools
 *      move to the next host of the list that is Synced, writes resume
 *      (target: under 5 s), nothing that got ok is lost, and a send cut off
 *      in flight and sent again with its cid is stored once; the killed node
 *      is started again and rejoins.
 *   9. another Galera node is cut off (its link down): it leaves the primary
 *      component and refuses queries (no split brain: one side takes
 *      writes), the other two go on; healed, it rejoins by IST and holds the
 *      messages written meanwhile, and nothing is lost.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { timedOut, waitUntil } from "../../test/support/wait.ts";
import { ip } from "./netns.ts";
import { keepSending, sender, type Sent } from "./people.ts";
import { crash } from "./procs.ts";
import type { CheckHandle } from "./report.ts";
import { secs } from "./report.ts";
import { reportLoss } from "./measure.ts";
import { chatThroughVip, type Lab } from "./scenarios.ts";
import { GALERA_HOSTS, type GaleraHost } from "./stack.ts";

/** The target for writes to resume after the writer dies. */
const RESUME_LIMIT_MS = 5_000;
/** The steady sender's pace: the longest gap between two oks is the write outage, give or take this. */
const STEADY_MS = 50;

/** The longest gap between two consecutive oks around `t0`, and when it ended. */
function longestGap(sent: Sent[], t0: number): { ms: number; endedAt: number } {
  const ats = sent.map((s) => s.at).sort((a, b) => a - b);
  let best = { ms: 0, endedAt: t0 };
  for (let i = 1; i < ats.length; i++) {
    const gap = ats[i]! - Math.max(ats[i - 1]!, t0);
    if (ats[i]! > t0 && gap > best.ms) best = { ms: gap, endedAt: ats[i]! };
  }
  return best;
}

/** The messages table's row count and highest id on `host`, as it sees them. */
async function messageRows(lab: Lab, host: GaleraHost): Promise<{ rows: number; maxId: number }> {
  const out = (await lab.stack.galeraSql(host, "SELECT COUNT(*), COALESCE(MAX(mid), 0) FROM chat.messages")).trim().split("\t");
  return { rows: Number(out[0]), maxId: Number(out[1]) };
}

/** 8. The writer SIGKILLed under load. */
export async function galeraWriterKill(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const writer = await stack.galeraWriter();
  if (!writer) throw new Error("no Galera node has the chat nodes' connections");
  const next = GALERA_HOSTS[(GALERA_HOSTS.indexOf(writer) + 1) % GALERA_HOSTS.length]!;
  c.figure(`before: the chat nodes write through ${writer} (${stack.topo.addr[writer]}); host list ${GALERA_HOSTS.join(", ")}`);
  const steady = keepSending(sender(lab.sender!), [...lab.users, ...lab.browsers], "db kill", STEADY_MS);
  const chatting = chatThroughVip(lab, "db kill", 100);
  await Bun.sleep(500);

  const t0 = Date.now();
  crash([stack.galera[writer]!.rec]);
  c.figure(`SIGKILL to mariadbd on ${writer} (pid ${stack.galera[writer]!.rec.pid})`);
  const moved = await waitUntil("the chat nodes write through another node", async () => {
    const w = await stack.galeraWriter();
    return w && w !== writer ? w : undefined;
  }, 20_000, { everyMs: 100 }).catch(timedOut);
  // Enough oks after the switch to see the gap close.
  await Bun.sleep(1_500);
  await Promise.all([steady.stop(), chatting.stop()]);
  const gap = longestGap(steady.sent, t0);
  if (!moved) c.fail("the chat nodes did not move their writes within 20 s");
  else {
    c.figure(`writes resumed through ${moved} (next in the list: ${next}) ${secs(gap.endedAt - t0)} after the kill (the longest gap between two oks, sends ${STEADY_MS} ms apart: ${secs(gap.ms)}; limit ${secs(RESUME_LIMIT_MS)})`, true);
    c.expect(gap.endedAt - t0 <= RESUME_LIMIT_MS, "writes resumed too late");
  }
  const resent = steady.sent.filter((s) => s.attempts > 1);
  c.figure(`${resent.length} sends were cut off and sent again with their cid; ${resent.filter((s) => s.duplicate).length} of them had been stored (answered duplicate: true, same mid)`);
  await reportLoss(c, steady.sent, steady.failures, `sent to the lab clients and browsers across the kill (sender direct to vm2, ${STEADY_MS} ms apart)`);
  await chatting.report(c);

  // The killed node comes back and rejoins; the chat nodes stay where they are (a failover sticks).
  const tBack = Date.now();
  const mark = logMark(lab, writer);
  await stack.startGalera(writer);
  await stack.galeraSynced(writer, GALERA_HOSTS.length, 60_000);
  c.figure(`${writer} restarted: Synced in a cluster of ${GALERA_HOSTS.length} again after ${secs(Date.now() - tBack)}${transferOf(lab, writer, mark)}`);
  const [a, b] = await Promise.all([messageRows(lab, writer), messageRows(lab, moved ?? next)]);
  c.expect(a.rows === b.rows && a.maxId === b.maxId, `${writer} holds ${a.rows} messages (max id ${a.maxId}) after rejoining, the writer ${b.rows} (max id ${b.maxId})`);
}

/** The size of `host`'s log now: what it writes from here on is read by transferOf. */
function logMark(lab: Lab, host: GaleraHost): number {
  const log = lab.stack.galera[host]?.log;
  return log && existsSync(log) ? statSync(log).size : 0;
}

/** How a rejoining node caught up, from what its log says after `mark`: IST (the others' write-set cache) or SST (a full copy). */
function transferOf(lab: Lab, host: GaleraHost, mark: number): string {
  const log = lab.stack.galera[host]?.log;
  if (!log || !existsSync(log)) return "";
  const text = readFileSync(log).subarray(mark).toString("utf8");
  if (/IST received|Receiving IST|IST applied/i.test(text)) return ", by IST";
  if (/SST received|SST succeeded|State transfer required/i.test(text)) return ", by SST";
  return "";
}

/** 9. A node that is not the writer cut off by its link going down, then healed. */
export async function galeraPartition(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const writer = await stack.galeraWriter();
  const victim = [...GALERA_HOSTS].reverse().find((h) => h !== writer)!;
  const ns = stack.launcher.ns(victim);
  c.figure(`the chat nodes write through ${writer}; cutting ${victim} off (${stack.topo.iface} down in its namespace)`);
  const steady = keepSending(sender(lab.sender!), [...lab.users, ...lab.browsers], "db split", STEADY_MS);
  const chatting = chatThroughVip(lab, "db split", 100);
  await Bun.sleep(300);

  const t0 = Date.now();
  ip("-n", ns, "link", "set", stack.topo.iface, "down");
  let healed = false;
  try {
    // Alone, it has no majority: it must leave the primary component and refuse queries.
    const out = await waitUntil("the cut-off node leaves the primary component", async () => {
      const s = await stack.galeraState(victim);
      return s && s.status !== "Primary" ? s : undefined;
    }, 20_000, { everyMs: 200 }).catch(timedOut);
    if (!out) c.fail(`${victim} still says it is in the primary component 20 s after the cut`);
    else c.figure(`${victim} alone: wsrep_cluster_status ${out.status} (${out.state}) after ${secs(Date.now() - t0)}`, true);
    const refused = await stack.galeraSql(victim, "SELECT COUNT(*) FROM chat.messages").then(() => false, () => true);
    c.expect(refused, `${victim} answered a query while cut off from the majority: a split brain`);
    if (refused) c.figure(`${victim} refuses queries while cut off (WSREP not ready): only the majority takes writes`);
    const others = GALERA_HOSTS.filter((h) => h !== victim);
    const majority = await Promise.all(others.map((h) => stack.galeraState(h)));
    c.expect(majority.every((s) => s?.status === "Primary" && s.size === others.length), `the other two are not a primary component of ${others.length}: ${JSON.stringify(majority)}`);
    if (majority.every((s) => s?.status === "Primary")) c.figure(`${others.join(" and ")}: Primary, cluster size ${majority[0]?.size}; writes go on through ${writer}`);
    await Bun.sleep(1_000); // writes the cut-off node misses

    const tHeal = Date.now();
    const mark = logMark(lab, victim);
    ip("-n", ns, "link", "set", stack.topo.iface, "up");
    healed = true;
    await stack.galeraSynced(victim, GALERA_HOSTS.length, 60_000);
    c.figure(`healed: ${victim} Synced in a cluster of ${GALERA_HOSTS.length} again after ${secs(Date.now() - tHeal)}${transferOf(lab, victim, mark)}`, true);
  } finally {
    if (!healed) ip("-n", ns, "link", "set", stack.topo.iface, "up");
  }
  await Bun.sleep(500);
  await Promise.all([steady.stop(), chatting.stop()]);
  const gap = longestGap(steady.sent, t0);
  c.figure(`longest gap between two oks (sends ${STEADY_MS} ms apart) during the cut and the heal: ${secs(gap.ms)}`);
  await reportLoss(c, steady.sent, steady.failures, `sent to the lab clients and browsers across the cut (sender direct to vm2, ${STEADY_MS} ms apart)`);
  await chatting.report(c);
  // No message lost by the node either: it holds exactly what the writer holds.
  const writerNow = (await stack.galeraWriter()) ?? writer!;
  await waitUntil("the healed node has the writer's messages", async () => {
    const [a, b] = await Promise.all([messageRows(lab, victim), messageRows(lab, writerNow)]);
    return a.rows === b.rows && a.maxId === b.maxId ? a : undefined;
  }, 10_000, { everyMs: 200 }).then(
    (a) => c.figure(`${victim} holds the same ${a.rows} messages as ${writerNow} (max id ${a.maxId})`, true),
    () => c.fail(`${victim} does not hold the messages ${writerNow} holds`),
  );
}
