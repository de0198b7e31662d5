/**
 * The C++ reference server (Knock-man/ClusterChatServer on muduo) for the
 * side-by-side benchmark, run from a binary the operator built (its code is
 * never part of this repository): its own database and tables in our
 * MariaDB, its own Redis on the port it hard-codes, and a lean client for
 * its protocol — unframed JSON objects with a numeric `msgid` (login 1,
 * reply 2; one-to-one chat 6 with `toid`, forwarded to the recipient as
 * it came and answered with nothing).
 *
 * Known limits of that server, worked around here rather than measured: it
 * shares one hiredis context between its threads and crashes when many
 * connections log in or close at once, so logins go one at a time and the
 * server is killed before its connections close; it marks a user "online"
 * at login and refuses a second login until a clean exit, so the step
 * resets every state first.
 */
import type { Socket, Subprocess } from "bun";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import mysql from "mysql2/promise";
import { freePort } from "../../scripts/services.ts";
import { Samples, type LatencySummary, r2 } from "../load/stats.ts";

/** Its tables, as its README describes them (GroupUser: as its queries use it). */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS User (id INT NOT NULL AUTO_INCREMENT, name VARCHAR(50) NOT NULL, password VARCHAR(50) NOT NULL,
     state ENUM('online','offline') DEFAULT 'offline', PRIMARY KEY (id), UNIQUE KEY name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
  `CREATE TABLE IF NOT EXISTS Friend (userid INT NOT NULL, friendid INT NOT NULL, PRIMARY KEY (userid, friendid)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
  `CREATE TABLE IF NOT EXISTS AllGroup (id INT NOT NULL AUTO_INCREMENT, groupname VARCHAR(50) NOT NULL, groupdesc VARCHAR(200) DEFAULT '',
     PRIMARY KEY (id), UNIQUE KEY groupname (groupname)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
  `CREATE TABLE IF NOT EXISTS GroupUser (groupid INT NOT NULL, userid INT NOT NULL, grouprole ENUM('creator','normal') DEFAULT 'normal',
     PRIMARY KEY (groupid, userid)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
  `CREATE TABLE IF NOT EXISTS offlineMessage (userid INT NOT NULL, message VARCHAR(500) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3`,
];

const PASSWORD = "pp";

export interface PeerSetup {
  /** its database, on our MariaDB */
  db: { host: string; port: number; user: string; password: string; database: string };
  /** where its working folder and mysql.json go */
  dir: string;
  /** users it needs (pp_0 ...); made once, reused */
  users: number;
}

/** Makes the database, the tables and `users` users pp_0.. (once); returns their ids in order, every one offline. */
export async function preparePeerDb(s: PeerSetup): Promise<number[]> {
  const admin = await mysql.createConnection({ host: s.db.host, port: s.db.port, user: s.db.user, password: s.db.password });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${s.db.database}\``);
    await admin.query(`USE \`${s.db.database}\``);
    for (const sql of SCHEMA) await admin.query(sql);
    const [have] = (await admin.query("SELECT COUNT(*) AS n FROM User WHERE name LIKE 'pp\\_%'")) as unknown as [{ n: number }[]];
    const n = Number(have[0]?.n ?? 0);
    for (let from = n; from < s.users; from += 1000) {
      const rows = Array.from({ length: Math.min(1000, s.users - from) }, (_, k) => [`pp_${from + k}`, PASSWORD, "offline"]);
      await admin.query("INSERT IGNORE INTO User (name, password, state) VALUES ?", [rows]);
    }
    // A crashed or killed run leaves its users "online": the server would refuse their logins.
    await admin.query("UPDATE User SET state = 'offline' WHERE state = 'online'");
    await admin.query("DELETE FROM offlineMessage");
    const [ids] = (await admin.query("SELECT id, name FROM User WHERE name LIKE 'pp\\_%'")) as unknown as [{ id: number; name: string }[]];
    const byIndex = new Map(ids.map((r) => [Number(r.name.slice(3)), r.id]));
    return Array.from({ length: s.users }, (_, i) => byIndex.get(i) as number);
  } finally {
    await admin.end();
  }
}

/** Whether something listens on 127.0.0.1:`port`. */
export function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

async function waitPort(port: number, ms: number, proc: Subprocess, what: string) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode})`);
    if (await portTaken(port)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
}

/** Starts a private redis-server on `port` (no persistence); throws when the port is taken. */
export async function startPeerRedis(port: number, dir: string): Promise<Subprocess> {
  if (await portTaken(port))
    throw new Error(`port ${port} is taken: the C++ server hard-codes its Redis there; free it, or build it with another port and pass --peer-redis-port`);
  mkdirSync(dir, { recursive: true });
  const p = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdout: Bun.file(join(dir, "redis.log")),
    stderr: "inherit",
  });
  await waitPort(port, 10_000, p, "redis-server");
  return p;
}

export interface PeerServer {
  proc: Subprocess;
  pid: number;
  port: number;
}

/** Starts the binary in `dir`/run, with `dir`/mysql.json (it reads ../mysql.json). */
export async function startPeerServer(binary: string, s: PeerSetup): Promise<PeerServer> {
  if (!existsSync(binary)) throw new Error(`--peer ${binary}: no such file`);
  const run = join(s.dir, "run");
  mkdirSync(run, { recursive: true });
  writeFileSync(
    join(dirname(run), "mysql.json"),
    JSON.stringify({
      ip: s.db.host,
      port: s.db.port,
      username: s.db.user,
      password: s.db.password,
      dbname: s.db.database,
      initSize: 10,
      maxSize: 1024,
      maxIdleTime: 60,
      maxConnectionTimeQue: 100,
    }),
  );
  const port = await freePort();
  const proc = Bun.spawn(["sh", "-c", `ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, "sh", binary, "127.0.0.1", String(port)], {
    cwd: run,
    stdout: Bun.file(join(s.dir, "server.log")),
    stderr: Bun.file(join(s.dir, "server.err")),
  });
  await waitPort(port, 15_000, proc, "the C++ server");
  return { proc, pid: proc.pid, port };
}

export interface PeerStepResult {
  windowS: number;
  sent: number;
  delivered: number;
  deliveredPerS: number;
  latencyMs: LatencySummary;
  loginMs: number;
  errors: Record<string, number>;
}

interface PeerConn {
  index: number;
  user: number;
  /** the other of its pair */
  other: number;
  socket?: Socket<PeerConn>;
  buf: string;
  onObject?: (text: string) => void;
  closed: boolean;
}

/** The complete JSON objects at the start of `buf` (it sends nothing but objects, one after another), and what is left. */
function splitObjects(buf: string): [string[], string] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) {
      out.push(buf.slice(start, i + 1));
      start = i + 1;
    }
  }
  return [out, buf.slice(start)];
}

export interface PeerStepConfig {
  port: number;
  ids: number[];
  conns: number;
  sources: number;
  warmupS: number;
  durationS: number;
  log: (s: string) => void;
  measureStart(): Promise<void>;
  measureEnd(): Promise<void>;
}

/**
 * The ping-pong of bench/versus.ts against the C++ server: N connections as
 * N/2 pairs, one message in flight per pair; each push is answered by its
 * recipient with the next message. Latency is send to push, both taken here.
 */
export async function runPeerStep(cfg: PeerStepConfig, stop: () => Promise<void>): Promise<PeerStepResult> {
  const errors = new Map<string, number>();
  const err = (k: string) => errors.set(k, (errors.get(k) ?? 0) + 1);
  const conns: PeerConn[] = Array.from({ length: cfg.conns }, (_, i) => ({
    index: i,
    user: cfg.ids[i] as number,
    other: i ^ 1,
    buf: "",
    closed: false,
  }));
  const latencies = new Samples();
  let running = false;
  let measuring = false;
  let sent = 0;
  let delivered = 0;
  const tag = Math.random().toString(36).slice(2, 8);
  const tagged = `"msg":"${tag}.`;

  const send = (c: PeerConn) => {
    const to = conns[c.other] as PeerConn;
    sent++;
    c.socket?.write(`{"msgid":6,"id":${c.user},"from":"pp","toid":${to.user},"msg":"${tag}.${c.index}.${Math.round(performance.now() * 1000)}"}`);
  };
  const onChat = (c: PeerConn, text: string) => {
    const at = text.indexOf(tagged);
    if (at < 0) return err("foreign");
    const rest = text.slice(at + tagged.length, text.indexOf('"', at + tagged.length));
    const t = Number(rest.slice(rest.indexOf(".") + 1)) / 1000;
    if (measuring) {
      delivered++;
      latencies.add(performance.now() - t);
    }
    if (running && !c.closed) send(c);
  };

  // ---- connect ----
  await Promise.all(
    conns.map(async (c, i) => {
      try {
        c.socket = await Bun.connect<PeerConn>({
          hostname: "127.0.0.1",
          port: cfg.port,
          ...(cfg.sources > 0 ? { localAddress: `127.0.0.${2 + (i % cfg.sources)}` } : {}),
          data: c,
          socket: {
            data(s: Socket<PeerConn>, chunk: Buffer) {
              const p = s.data;
              p.buf += chunk.toString("latin1");
              if (p.buf.charCodeAt(p.buf.length - 1) !== 125) return; // not the end of an object yet
              const [objects, rest] = splitObjects(p.buf);
              p.buf = rest;
              for (const o of objects) p.onObject?.(o);
            },
            close(s: Socket<PeerConn>) {
              s.data.closed = true;
              if (running) err("closed");
            },
            error(s: Socket<PeerConn>) {
              s.data.closed = true;
            },
          },
        } as never);
      } catch (e) {
        err(`connect:${(e as Error).message.slice(0, 40)}`);
      }
    }),
  );

  // ---- login, one at a time (see the header) ----
  const t0 = performance.now();
  for (const c of conns) {
    if (!c.socket || c.closed) continue;
    const reply = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), 10_000);
      c.onObject = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
      c.socket?.write(`{"msgid":1,"id":${c.user},"password":"${PASSWORD}"}`);
    });
    if (!/"errno":0/.test(reply)) err(`login:${/"errno":(\d+)/.exec(reply)?.[1] ?? reply.slice(0, 20)}`);
    c.onObject = (o) => onChat(c, o);
  }
  const loginMs = r2(performance.now() - t0);
  cfg.log(`  logged in ${cfg.conns} in ${(loginMs / 1000).toFixed(1)} s, one at a time`);

  // ---- traffic ----
  running = true;
  for (const c of conns) if (c.index % 2 === 0) send(c);
  await Bun.sleep(cfg.warmupS * 1000);
  await cfg.measureStart();
  const w0 = performance.now();
  measuring = true;
  await Bun.sleep(cfg.durationS * 1000);
  measuring = false;
  const windowMs = performance.now() - w0;
  await cfg.measureEnd();
  running = false;
  // Its connections must not close while it runs (see the header).
  await stop();
  for (const c of conns) c.socket?.terminate();
  return {
    windowS: r2(windowMs / 1000),
    sent,
    delivered,
    deliveredPerS: Math.round((delivered * 1000) / windowMs),
    latencyMs: latencies.summary(),
    loginMs,
    errors: Object.fromEntries(errors),
  };
}
