/**
 * The lab's first six checks, run in order on one cluster (the Redis and
 * database failovers follow in files of their own):
 *   1. connections through the VIP land on all three chat nodes
 *   2. users on different nodes chat both ways; group chat reaches both nodes
 *   3. the master's nginx crashes: the VIP moves, clients come back with their
 *      token, nothing sent meanwhile is lost or stored twice (the clients
 *      through the VIP keep sending, and send again with the same cid what
 *      the crash cut off)
 *   4. a chat node is SIGKILLed: friends see its users go offline within 15 s;
 *      what was sent to them arrives when they reconnect to another node,
 *      and what they were sending when it died goes again from there, once
 *   5. everything restarts: the VIP fails back, nothing is lost or stored
 *      twice, both nodes serve again
 *   6. a rolling restart of the three nodes by the guide's upgrade
 *      (install.sh --upgrade, vm3, vm2, then vm1): the VIP never leaves vm1,
 *      each drained node's clients come back with their token within 3 s,
 *      nothing is lost or stored twice
 */
import { timedOut, waitUntil } from "../../test/support/wait.ts";
import type { LabClient } from "./client.ts";
import { LibraryUser } from "./library-user.ts";
import { backAfter, reportLoss, reportMove, reportReconnects, vipAnswers, vipOn } from "./measure.ts";
import { arrival, befriendAll, keepSending, openOn, sender, sendOnce, sendTo, signIn, spread, type Endpoint, type Recipient, type Sent } from "./people.ts";
import type { CheckHandle } from "./report.ts";
import { secs } from "./report.ts";
import { alive, crash } from "./procs.ts";
import { BALANCERS, CHAT_PORT, VMS, type Stack, type Vm } from "./stack.ts";

/** src/client's default heartbeat: an idle library client notices a dead path only when it pings. */
const LIBRARY_HEARTBEAT_MS = 10_000;
/** PROTOCOL.md: a dead node's sessions stop counting as online within 15 s. */
const OFFLINE_LIMIT_MS = 15_000;

export interface Lab {
  stack: Stack;
  vip: Endpoint;
  /** alice and carol start on vm1, bob and dave on vm2. */
  users: LabClient[];
  /** Talks to vm2's chat node directly, not through nginx. */
  sender?: LabClient;
  /** A user on the project's client library (src/client), through the VIP. */
  erin?: LibraryUser;
  /** Browsers: the WebSocket transport through nginx's http block on the VIP (frank, grace). */
  browsers: LabClient[];
  /** nginx's https port on the VIP, for the browsers. */
  web: Endpoint;
  group?: number;
}

/** Everyone who receives during the failovers. */
function recipients(lab: Lab): Recipient[] {
  return [...lab.users, ...lab.browsers, ...(lab.erin ? [lab.erin] : [])];
}

/** keepSending's pause for a closed loop: the next send goes as soon as the last one's ok is in, so one is always in flight. */
const CLOSED_LOOP = 0;

/**
 * The users through the VIP keep chatting (each to the next, erin to the
 * sender) across a failover, a send every `everyMs`: what the failover cuts
 * off in flight is sent again with its cid after the reconnect. Stopped and
 * reported by the caller.
 */
export function chatThroughVip(lab: Lab, tag: string, everyMs: number) {
  const { users } = lab;
  const clients = users.map((u, i) => keepSending(sender(u), [users[(i + 1) % users.length]!], `${tag} ${u.user!.name}`, everyMs, 10_000));
  const erin = lab.erin ? keepSending(lab.erin, [lab.sender!], `${tag} erin`, everyMs, 10_000) : undefined;
  // Each browser to the first lab user (across nodes or not: nginx decides).
  const browsers = lab.browsers.map((b) => keepSending(sender(b), [users[0]!], `${tag} ${b.user!.name}`, everyMs, 10_000));
  return {
    async stop() {
      await Promise.all([...clients, ...browsers, erin].map((l) => l?.stop()));
    },
    async report(c: CheckHandle) {
      await reportLoss(c, clients.flatMap((l) => l.sent), clients.flatMap((l) => l.failures), `sent by the lab clients through the VIP (cid, re-sent after reconnecting)`);
      if (browsers.length)
        await reportLoss(c, browsers.flatMap((l) => l.sent), browsers.flatMap((l) => l.failures), `sent by the browsers (WebSocket through nginx's http block: cid, re-sent after reconnecting)`);
      if (erin) await reportLoss(c, erin.sent, erin.failures, `sent by erin through the VIP (src/client library: cid, re-sent after reconnecting)`);
    },
  };
}

/** 1. Connections through the VIP land on both nodes (the hello frame's node). */
export async function distribution(lab: Lab, c: CheckHandle, n = 20) {
  const counts = new Map<string, number>();
  const open: LabClient[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const client = await openOn(lab.vip, `probe${i}`, undefined);
      open.push(client);
      counts.set(client.node!, (counts.get(client.node!) ?? 0) + 1);
    }
  } finally {
    for (const x of open) x.close();
  }
  const text = [...counts].sort().map(([node, k]) => `${node} ${k}`).join(", ");
  c.figure(`${n} connections to VIP ${lab.vip.host}:${lab.vip.port}: ${text}`, true);
  c.expect(VMS.every((vm) => (counts.get(vm) ?? 0) > 0), "not every node got connections");
}

/** 2. Users on different nodes chat both ways; group chat reaches members on both nodes. */
export async function crossNodeChat(lab: Lab, c: CheckHandle) {
  const names = ["alice", "bob", "carol", "dave"];
  const homes: Vm[] = ["vm1", "vm2", "vm3", "vm2"];
  for (let i = 0; i < names.length; i++) {
    const u = await openOn(lab.vip, names[i]!, homes[i]);
    await signIn(u, names[i]!);
    lab.users.push(u);
  }
  const sender = await openOn({ host: lab.stack.topo.addr.vm2, port: CHAT_PORT, tls: lab.vip.tls }, "sender", "vm2");
  await signIn(sender, "sender");
  lab.sender = sender;
  await befriendAll([...lab.users, sender]);
  const erin = new LibraryUser(lab.vip, "erin");
  await erin.signIn();
  lab.erin = erin;
  await sender.request("add_friend", { user: erin.user!.id });
  for (const name of ["frank", "grace"]) {
    const b = await openOn(lab.web, name, undefined);
    await signIn(b, name);
    lab.browsers.push(b);
  }
  await befriendAll([...lab.users, sender, ...lab.browsers]);
  c.figure(
    `users through the VIP: ${spread(lab.users)}; erin (src/client library) on ${erin.node}; browsers (WebSocket, https://${lab.web.host}:${lab.web.port}/ws): ${spread(lab.browsers)}; sender direct to vm2:${CHAT_PORT}`,
  );
  const [alice, bob, carol, dave] = lab.users as [LabClient, LabClient, LabClient, LabClient];

  for (const [from, to] of [[alice, bob], [bob, alice], [carol, dave], [dave, carol]] as const) {
    const t0 = Date.now();
    const s = await from.request("send", { to: to.user!.id, text: `hi ${to.user!.name}, from ${from.user!.name}` });
    const ms = await arrival(to, Number(s.mid), t0);
    if (ms === undefined) c.fail(`${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node}: not delivered in 3 s`);
    else c.figure(`${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node}: delivered in ${ms} ms`);
  }

  const g = await alice.request("create_group", { name: "lab-room", desc: "HA lab" });
  lab.group = Number((g.group as { id: number }).id);
  for (const u of [bob, carol, dave]) await u.request("join_group", { group: lab.group });
  for (const from of [alice, dave]) {
    const t0 = Date.now();
    const s = await from.request("group_send", { group: lab.group, text: `group hello from ${from.user!.name}` });
    const others = lab.users.filter((u) => u !== from);
    const times = await Promise.all(others.map((u) => arrival(u, Number(s.mid), t0)));
    const missed = others.filter((_, i) => times[i] === undefined).map((u) => `${u.user!.name}@${u.node}`);
    if (missed.length) c.fail(`group message from ${from.user!.name} not delivered to ${missed.join(", ")}`);
    else c.figure(`group message from ${from.user!.name}@${from.node} reached ${others.map((u) => `${u.user!.name}@${u.node}`).join(", ")}, slowest in ${Math.max(...(times as number[]))} ms`);
  }
  for (const b of lab.browsers) {
    for (const [from, to] of [[sender, b], [b, sender]] as const) {
      const t = Date.now();
      const s = await from.request("send", { to: to.user!.id, text: `hi ${to.user!.name}, from ${from.user!.name}` });
      const ms = await arrival(to, Number(s.mid), t);
      if (ms === undefined) c.fail(`${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node} (browser): not delivered in 3 s`);
      else c.figure(`${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node} (browser over WebSocket through nginx): delivered in ${ms} ms`);
    }
  }
  const t0 = Date.now();
  const toErin = await sendTo(sender, erin, "hello erin");
  const got = await waitUntil("erin receives", () => (erin.received.has(toErin.mid) ? Date.now() : undefined), 3_000, { everyMs: 5 }).catch(timedOut);
  if (got !== undefined) c.figure(`sender@vm2 -> erin@${erin.node} (library client): delivered in ${got - t0} ms`);
  else c.fail("the library client erin did not receive a message in 3 s");
  c.check.headline.push("one-to-one both ways and group chat across vm1 and vm2");
}

/** 3. The master's nginx crashes: VIP moves, clients reconnect with their token, zero lost, zero duplicated. */
export async function nginxCrash(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const holders = await stack.vipHolders();
  if (holders.join() !== "vm1") throw new Error(`the VIP should be on vm1 before the crash, it is on [${holders}]`);
  const sending = keepSending(sender(lab.sender!), recipients(lab), "during nginx crash");
  // In a closed loop, each has a send in flight when nginx dies: its reply (or the send itself) is lost with the proxy.
  const chatting = chatThroughVip(lab, "nginx crash", CLOSED_LOOP);
  await Bun.sleep(300);
  const victims = stack.nginxProcesses("vm1");
  const t0 = Date.now();
  crash(victims);
  c.figure(`SIGKILL to vm1's nginx: master + ${victims.length - 1} workers (pids ${victims.map((p) => p.pid).join(", ")})`);
  const [moved, answered] = await Promise.all([vipOn(stack, "vm2", 10_000), vipAnswers(lab.vip, 10_000)]);
  reportMove(c, moved, "vm2", t0, "after the kill:");
  if (answered) c.figure(`VIP:${lab.vip.port} answered (hello through vm2's nginx) after ${secs(answered - t0)}`, true);
  else c.fail("nothing answered on the VIP within 10 s");
  reportReconnects(c, await backAfter(lab.users, t0, 15_000), "after the kill", t0);
  reportReconnects(c, await backAfter(lab.browsers, t0, 15_000), "(browsers, WebSocket) after the kill", t0);
  if (lab.erin) reportReconnects(c, await backAfter([lab.erin], t0, 15_000), "(src/client library, default backoff) after the kill", t0);
  await Bun.sleep(500);
  await Promise.all([sending.stop(), chatting.stop()]);
  await reportLoss(c, sending.sent, sending.failures, "sent to them from the kill until all were back");
  await chatting.report(c);
}

/** 4. A chat node is SIGKILLed: presence offline within 15 s; pending messages arrive on reconnect. */
export async function chatNodeKill(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const dead: Vm = "vm1";
  // Somebody must be on the killed node, and friends on the others who watch them.
  for (let i = 0; i < 10 && !(lab.users.some((u) => u.node === dead) && lab.users.some((u) => u.node !== dead)); i++) {
    const u = lab.users[i % lab.users.length]!;
    const t = Date.now();
    u.drop();
    await waitUntil(`${u.opts.label} back`, () => !!u.outages.find((o) => o.lostAt >= t)?.backAt, 5_000).catch(timedOut);
  }
  const victims = lab.users.filter((u) => u.node === dead);
  const watchers = [...lab.users.filter((u) => u.node !== dead), lab.sender!];
  if (!victims.length) throw new Error(`no user could be placed on ${dead}: ${spread(lab.users)}`);
  c.figure(`before: ${spread(lab.users)}; VIP on [${(await stack.vipHolders())}]`);
  for (const v of victims) v.held = true; // they stay away until the offline pushes are seen
  // The victims keep sending to a friend on the other node: what the kill cuts off goes again once they are back.
  // In a closed loop, each has a send in flight when the node dies.
  const theirs = victims.map((v) => keepSending(sender(v), [watchers[0]!], `node kill ${v.user!.name}`, CLOSED_LOOP, 10_000));
  await Bun.sleep(300);

  const t0 = Date.now();
  crash([stack.chat[dead]!.rec]);
  c.figure(`SIGKILL to chat node ${dead} (pid ${stack.chat[dead]!.rec.pid}); its users ${victims.map((v) => v.user!.name).join(", ")} stay away`);

  // Sent while they are away: one-to-one from the sender, and a group message from a watcher.
  const sent: Sent[] = [];
  for (let round = 0; round < 5; round++)
    for (const v of victims) sent.push(await sendTo(lab.sender!, v, `while ${v.user!.name} is away #${round}`));
  const groupFrom = watchers[0]!;
  if (lab.group && groupFrom !== lab.sender) {
    const text = "group message while the node is down";
    const g = await sendOnce(groupFrom, "group_send", { group: lab.group }, text);
    for (const v of victims) sent.push({ text, to: v, mid: g.mid, attempts: g.attempts, duplicate: g.duplicate, at: Date.now() });
  }

  const offlineSeen = (v: LabClient) =>
    watchers
      .flatMap((w) => w.events)
      .find((e) => e.at >= t0 && e.frame.type === "presence" && e.frame.user === v.user!.id && e.frame.online === false);
  const deadline = t0 + OFFLINE_LIMIT_MS + 5_000;
  await waitUntil("friends see every victim offline", () => victims.every(offlineSeen), deadline - Date.now(), { everyMs: 100 }).catch(timedOut);
  for (const v of victims) {
    const e = offlineSeen(v);
    if (!e) c.fail(`no friend saw ${v.user!.name} go offline within ${secs(deadline - t0)}`);
    else {
      c.figure(`friends saw ${v.user!.name} go offline after ${secs(e.at - t0)} (limit ${secs(OFFLINE_LIMIT_MS)})`, true);
      c.expect(e.at - t0 <= OFFLINE_LIMIT_MS, `${v.user!.name}'s offline push came too late`);
    }
  }
  c.expect(!sent.some((s) => s.to.received.has(s.mid)), "a message reached a user who was away");

  const tBack = Date.now();
  for (const v of victims) v.release();
  reportReconnects(c, await backAfter(victims, t0, 10_000), "after being let back (to a surviving node)", tBack);
  const wrongNode = victims.filter((v) => v.node === dead);
  c.expect(wrongNode.length === 0, `${wrongNode.map((v) => v.user!.name).join(", ")} landed on the dead node ${dead}`);
  await reportLoss(c, sent, [], `sent to them while away (pending)`);
  await Bun.sleep(300);
  await Promise.all(theirs.map((l) => l.stop()));
  await reportLoss(c, theirs.flatMap((l) => l.sent), theirs.flatMap((l) => l.failures), `sent by them across the kill (cut off in flight: re-sent from a surviving node)`);
}

/** 5. Everything restored: VIP fails back to vm1, nothing lost, both nodes serve again. */
export async function restore(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const sending = keepSending(sender(lab.sender!), recipients(lab), "during failback");
  // Not a closed loop here: the VIP moves when keepalived decides, seconds later.
  const chatting = chatThroughVip(lab, "failback", 100);
  const t0 = Date.now();
  await stack.startChat("vm1");
  c.figure(`chat node vm1 restarted, answering after ${secs(Date.now() - t0)}`);
  const t1 = Date.now();
  await stack.startNginx("vm1");
  const moved = await vipOn(stack, "vm1", 15_000);
  reportMove(c, moved, "vm1", t1, "nginx on vm1 restarted; after two passing checks (rise 2)");
  // Connections through vm2's nginx are dead from the moment the VIP leaves
  // vm2: vm2 can no longer send from the VIP, and a client learns it only
  // when it next sends something (the new holder answers with a RST). The
  // lab's clients ping every second; the library pings every 10 s.
  const movedAt = moved.taken ?? t1;
  reportReconnects(c, await backAfter(lab.users, t1, 10_000), "after the VIP moved (lab clients, 1 s ping)", movedAt);
  reportReconnects(c, await backAfter(lab.browsers, t1, 10_000), "after the VIP moved (browsers, WebSocket, 1 s ping)", movedAt);
  if (lab.erin) {
    const rows = await backAfter([lab.erin], t1, LIBRARY_HEARTBEAT_MS + 10_000);
    reportReconnects(c, rows, `after the VIP moved (src/client library, ${LIBRARY_HEARTBEAT_MS / 1000} s heartbeat)`, movedAt, LIBRARY_HEARTBEAT_MS + 5_000);
  }
  await Bun.sleep(500);
  await Promise.all([sending.stop(), chatting.stop()]);
  await reportLoss(c, sending.sent, sending.failures, "sent during the failback");
  await chatting.report(c);
  await distribution(lab, c);
  // And both nodes chat again: someone on each, both ways.
  const a = await openOn(lab.vip, "after-a", "vm1");
  const b = await openOn(lab.vip, "after-b", "vm2");
  try {
    const [alice, bob] = lab.users as [LabClient, LabClient];
    // Second sessions of alice and bob, by token: their first ones stay logged in.
    await a.login({ token: alice.token });
    await b.login({ token: bob.token });
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const t = Date.now();
      const s = await from.request("send", { to: to.user!.id, text: "after failback" });
      const ms = await arrival(to, Number(s.mid), t);
      if (ms === undefined) c.fail(`${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node} not delivered after failback`);
      else c.figure(`after failback ${from.user!.name}@${from.node} -> ${to.user!.name}@${to.node}: ${ms} ms`);
    }
  } finally {
    a.close();
    b.close();
  }
}

/** Where a recipient is connected now (a LabClient or the library's client). */
function nodeOf(r: Recipient): string | undefined {
  return (r as { node?: string }).node;
}

/** Longest a drained node's client may take to be back on another node in a rolling restart. */
const ROLLING_BACK_LIMIT_MS = 3_000;

/**
 * 6. The guide's upgrade as a rolling restart of the three chat nodes, one
 * at a time under load: `install.sh --upgrade` on vm3, vm2, then vm1 (the
 * MASTER), with the lab doing what systemd does for `systemctl restart
 * chat`. The VIP must stay on vm1 throughout (the maintenance flag keeps the
 * check from failing), keepalived must be neither restarted nor changing
 * state, each drained node's clients must be told shutting_down and come back
 * with their token, and nothing accepted may be lost or stored twice.
 */
export async function rollingUpgrade(lab: Lab, c: CheckHandle) {
  const { stack } = lab;
  const holders = await stack.vipHolders();
  if (holders.join() !== "vm1") throw new Error(`the VIP should be on vm1 before the upgrade, it is on [${holders}]`);
  const keepalivedBefore = BALANCERS.map((vm) => stack.keepalivedTransitions(vm).length);
  const keepalivedPids = BALANCERS.map((vm) => stack.keepalived[vm]!.rec);

  const t0 = Date.now();
  const away: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const h = await stack.vipHolders();
      if (h.join() !== "vm1") away.push(`[${h.join(", ")}] after ${secs(Date.now() - t0)}`);
      await Bun.sleep(20);
    }
  })();
  const sending = keepSending(sender(lab.sender!), recipients(lab), "during the upgrade");
  try {
    for (const vm of ["vm3", "vm2", "vm1"] as const) {
      const drained = recipients(lab).filter((u) => nodeOf(u) === vm);
      const t = Date.now();
      const r = await stack.upgrade(vm);
      c.figure(
        `install.sh --upgrade on ${vm}: done in ${secs(Date.now() - t)} (node stopped gracefully in ${r.stopMs.map((ms) => (ms === undefined ? "SIGKILL" : secs(ms))).join(", ")}); asked systemd for: ${r.calls.join("; ") || "nothing"}`,
        true,
      );
      c.expect(r.calls.join("|") === "restart chat", `install.sh --upgrade on ${vm} asked for [${r.calls.join("; ")}], not just a chat restart`);
      c.expect(r.output.includes("nginx and keepalived untouched"), `install.sh --upgrade on ${vm} did not say it left nginx and keepalived alone`);
      c.expect(r.stopMs.every((ms) => ms !== undefined), `the chat node on ${vm} needed SIGKILL to stop`);
      if (!drained.length) {
        c.figure(`nobody was on ${vm}'s node: ${spread(lab.users)}`);
        continue;
      }
      const told = drained.filter((u) => !(u instanceof LibraryUser) && (u as LabClient).events.some((e) => e.at >= t && e.frame.code === "shutting_down"));
      c.figure(`${vm}'s node drained: ${drained.map((u) => u.user!.name).join(", ")}; told shutting_down: ${told.map((u) => u.user!.name).join(", ") || "none"}`);
      c.expect(told.length === drained.filter((u) => !(u instanceof LibraryUser)).length, `not every client on ${vm} was told shutting_down`);
      reportReconnects(c, await backAfter(drained, t, 15_000), `after ${vm}'s node drained (measured from their disconnect)`, undefined, ROLLING_BACK_LIMIT_MS);
    }
  } finally {
    watching = false;
    await watch;
  }
  c.expect(away.length === 0, `the VIP left vm1 during the upgrade: ${away[0]}`);
  if (!away.length) c.figure(`VIP on vm1 alone throughout (polled every 20 ms for ${secs(Date.now() - t0)})`, true);
  const transitions = BALANCERS.map((vm, i) => stack.keepalivedTransitions(vm).slice(keepalivedBefore[i]));
  c.expect(transitions.every((t) => t.length === 0), `keepalived changed state during the upgrade: ${transitions.flat()[0]}`);
  c.expect(keepalivedPids.every(alive), "a keepalived was restarted during the upgrade");
  await Bun.sleep(500);
  await sending.stop();
  await reportLoss(c, sending.sent, sending.failures, "sent during the upgrade");
  await distribution(lab, c);
}
