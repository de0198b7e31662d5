/**
 * The lab's driver: runs inside the client namespace (the supervisor starts it
 * there), brings the cluster up, runs the checks and prints the report.
 * It exits 0 only when every check passed. Stopping what it started is the
 * supervisor's job, which also covers the driver dying halfway.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Launcher } from "./launch.ts";
import { nsInode, procNetns, type Topology } from "./netns.ts";
import { PidRegistry } from "./procs.ts";
import { galeraPartition, galeraWriterKill } from "./galera-failover.ts";
import { redisPrimaryKill } from "./redis-failover.ts";
import { Report, secs } from "./report.ts";
import { chatNodeKill, crossNodeChat, distribution, nginxCrash, restore, rollingUpgrade, type Lab } from "./scenarios.ts";
import { BALANCERS, GALERA_HOSTS, makeLabCerts, REDIS_PORT, SENTINEL_PORT, Stack, VIP_PORT, VIP_WEB_PORT, VMS, type Vm } from "./stack.ts";
import { tailOf, waitUntil } from "../../test/support/wait.ts";
import { tcpHello } from "./probes.ts";

/** What the supervisor hands the driver (a JSON file). */
export interface LabState {
  topo: Topology;
  dir: string;
  vmRoots: Record<Vm, string>;
  binary: string;
  hostNetns: number;
  pidFile: string;
}

export async function drive(stateFile: string): Promise<number> {
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as LabState;
  const { topo } = state;
  // Connect to nothing unless we are where the clients belong.
  const here = procNetns("self");
  if (here === state.hostNetns || here !== nsInode(topo.ns.cli)) {
    console.error("lab driver: not inside the lab's client namespace; refusing to run");
    return 2;
  }
  const launcher = new Launcher(topo, new PidRegistry(state.pidFile), join(state.dir, "logs"));
  const certs = makeLabCerts(join(state.dir, "tls"), topo);
  const stack = new Stack(topo, launcher, {
    dir: state.dir,
    vmRoot: (vm) => state.vmRoots[vm],
    binary: state.binary,
    certs,
  });
  const report = new Report();
  const lab: Lab = {
    stack,
    vip: { host: topo.addr.vip, port: VIP_PORT, tls: certs.tls },
    web: { host: topo.addr.vip, port: VIP_WEB_PORT, tls: certs.tls, wsPath: "/ws" },
    users: [],
    browsers: [],
  };

  const up = await report.run("setup: Galera on db1-db3, Redis primary in db and replica in db1, chat + sentinel on vm1-vm3, nginx + keepalived on vm1 and vm2", async (c) => {
    // The database and Redis at once: Galera's joiners copy their state meanwhile.
    let t = Date.now();
    const t0 = t;
    const timed = async (fn: () => Promise<void>) => {
      await fn();
      return Date.now() - t0;
    };
    const [galeraMs, redisMs] = await Promise.all([timed(() => stack.startDatabases()), timed(() => stack.startSentinels())]);
    c.figure(
      `MariaDB Galera ${GALERA_HOSTS.map((h) => `${h} ${topo.addr[h]}:3306`).join(", ")} Synced (db1 bootstrapped, the others joined by SST) in ${secs(galeraMs)}, set up with the guide's config lines, galera.cnf and SQL`,
    );
    c.figure(
      `Redis primary ${topo.addr.db}:${REDIS_PORT} (requirepass), replica ${topo.addr.db1}:${REDIS_PORT} in sync and sentinels on ${VMS.map((vm) => `${topo.addr[vm]}:${SENTINEL_PORT}`).join(", ")} agreed on the topology in ${secs(redisMs)} (the guide's redis.conf lines and sentinel.conf)`,
    );
    stack.install();
    const version = (await launcher.run("vm1", [join(state.vmRoots.vm1, "usr/local/bin/chat"), "--version"])).trim();
    c.figure(`installed with deploy/install.sh --root: ${version}, run from ${state.vmRoots.vm1} (no source, no node_modules), TLS with deploy/make-certs.sh's certificate`);
    c.figure(`chat migrate as chat_migrate: ${(await stack.migrate()).trim()}; the nodes connect as chat (rows only)`);
    t = Date.now();
    for (const vm of VMS) await stack.startChat(vm);
    for (const vm of BALANCERS) await stack.startNginx(vm);
    c.figure(`chat nodes ${VMS.map((vm) => `${topo.addr[vm]}:6000`).join(", ")} (Redis through the sentinels) and nginx :${VIP_PORT} on vm1 and vm2 up in ${secs(Date.now() - t)}`);
    t = Date.now();
    for (const vm of BALANCERS) await stack.startKeepalived(vm);
    await waitUntil("VIP on vm1", async () => (await stack.vipHolders()).join() === "vm1", 10_000, { detail: () => tailOf(stack.keepalived.vm1?.log) });
    const onVip = Date.now();
    await waitUntil("VIP answering", async () => (await tcpHello(topo.addr.vip, VIP_PORT, 300, certs.tls)) !== undefined, 10_000);
    c.figure(`keepalived started: VIP ${topo.addr.vip} on vm1 after ${secs(onVip - t)}, answering after ${secs(Date.now() - t)}`, true);
    for (const vm of BALANCERS) {
      const complaints = stack.keepalivedComplaints(vm);
      if (complaints.length) c.fail(`keepalived on ${vm} complains about its check script: ${complaints[0]}`);
    }
  });

  const steps: [string, (lab: Lab, c: import("./report.ts").CheckHandle) => Promise<void>, string?][] = [
    ["1. clients connecting to the VIP land on all three nodes", distribution],
    ["2. users on different nodes chat both ways, browsers over WebSocket through nginx too; group chat reaches every node", crossNodeChat],
    ["3. master's nginx killed: VIP moves, clients and browsers reconnect with their token, zero lost, zero duplicated", nginxCrash, "2"],
    ["4. chat node SIGKILLed: friends see its users offline within 15 s; pending messages arrive after reconnect", chatNodeKill, "2"],
    ["5. everything restored: VIP fails back, zero lost, zero duplicated, every node serves", restore, "2"],
    ["6. rolling restart of the three chat nodes (install.sh --upgrade, vm3, vm2, vm1) under load: the VIP stays, clients follow their token within 3 s, zero lost, zero duplicated", rollingUpgrade, "2"],
    ["7. Redis primary SIGKILLed under load: Sentinel promotes the replica, cross-node live delivery back within 10 s, zero lost, zero duplicated", redisPrimaryKill, "2"],
    ["8. Galera writer SIGKILLed under load: writes resume on the next node within 5 s, zero acked lost, zero duplicated (cid)", galeraWriterKill, "2"],
    ["9. a Galera node partitioned away and healed: no split brain, it rejoins by IST, zero lost", galeraPartition, "2"],
  ];
  for (const [name, body, needs] of steps) {
    if (!up) report.skip(name, "setup failed");
    else if (needs === "2" && (lab.users.length < 4 || !lab.sender?.token)) report.skip(name, "check 2 could not create the users");
    else await report.run(name, (c) => body(lab, c));
  }
  for (const u of [...lab.users, ...lab.browsers, lab.sender]) u?.close();
  await lab.erin?.close();
  console.log(report.summary());
  return report.ok ? 0 : 1;
}
