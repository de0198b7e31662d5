/** Chat servers as child processes, for tests that kill them or run several nodes. */
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/services.ts";
import { CHEAP_HASH } from "./server.ts";
import { Wire } from "./wire.ts";

const MAIN = `${import.meta.dir}/../../src/main.ts`;

export interface NodeProcess {
  node: string;
  port: number;
  adminPort: number;
  proc: Subprocess;
  /** Everything the process wrote to stderr (its log). */
  log(): string;
  connect(): Promise<Wire>;
  health(): Promise<{ status: number; body: any }>;
  kill(signal?: NodeJS.Signals): Promise<number>;
}

export async function spawnServer(opts: { node: string; dbUrl: string; redisUrl?: string; args?: string[]; port?: number }): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  const adminPort = await freePort();
  const args = [
    process.execPath,
    MAIN,
    "server",
    "--host", "127.0.0.1",
    "--port", String(port),
    "--admin-port", String(adminPort),
    "--node", opts.node,
    "--mysql", opts.dbUrl,
    "--hash-memory", String(CHEAP_HASH.memoryCost),
    "--hash-time", String(CHEAP_HASH.timeCost),
    ...(opts.redisUrl ? ["--redis", opts.redisUrl] : []),
    ...(opts.args ?? []),
  ];
  const proc = Bun.spawn(args, { stdout: "ignore", stderr: "pipe", env: { ...process.env, CHAT_MYSQL_URL: "", CHAT_REDIS_URL: "" } });
  let text = "";
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      text += dec.decode(chunk, { stream: true });
      if (text.includes("INFO admin_listen")) listening();
    }
  })();
  const exited = proc.exited.then(() => {
    throw new Error(`server ${opts.node} exited with ${proc.exitCode}:\n${text}`);
  });
  await Promise.race([ready, exited, Bun.sleep(20_000).then(() => Promise.reject(new Error(`server ${opts.node} did not start:\n${text}`)))]);
  exited.catch(() => {}); // after start, an exit is the test's business (kill), not an error here
  return {
    node: opts.node,
    port,
    adminPort,
    proc,
    log: () => text,
    connect: () => Wire.connect(port),
    async health() {
      const r = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
      return { status: r.status, body: await r.json() };
    },
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
}
