/**
 * A client that stops reading while messages pour in: the server buffers at
 * most its output limit for it, then closes the connection; its memory stays
 * bounded; every message stays pending and arrives at the next login.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { fmt, metric, rssMiB } from "../support/probes.ts";
import { waitUntil } from "../support/wait.ts";
import { Wire } from "../support/wire.ts";

const MAX_OUTPUT = 64 * 1024;
const TEXT = "slow consumer ".repeat(290); // ~4 KB a push
const MAX_MESSAGES = 20_000;
const WINDOW = 32;

let node: NodeProcess;
/** What the first test left pending for the second. */
let state: { acked: number[]; victim: number } | undefined;

beforeAll(async () => {
  node = await spawnNode({ node: "slow", mysqlUrl: await freshDatabase(), args: ["--max-output", String(MAX_OUTPUT), "--rate-limit", "0"] });
});

afterAll(async () => {
  await node?.kill();
});

async function login(name: string, register = true): Promise<{ c: Wire; id: number }> {
  const c = await Wire.connect(node.port);
  if (register) expect((await c.req({ type: "register", name, password: "password-1" })).type).toBe("ok");
  const r = await c.req({ type: "login", name, password: "password-1" });
  expect(r.type).toBe("ok");
  return { c, id: r.user.id };
}

describe("a slow consumer", () => {
  it("is cut off past the output limit with bounded server memory, its messages left pending", async () => {
    const sender = await login("sc_sender");
    const victim = await login("sc_victim");
    expect((await sender.c.req({ type: "add_friend", user: victim.id })).type).toBe("ok");
    await victim.c.next((f) => f.type === "friend_added");
    expect(await metric(node.adminPort, "chat_sessions")).toBe(2);

    // The victim stops reading: the kernel buffers fill, then the server's output queue.
    victim.c.socket.pause();
    const rssBefore = rssMiB(node.proc.pid);
    let rssPeak = rssBefore;
    const acked: number[] = [];
    let cutAt: number | undefined;
    const started = performance.now();
    const sendOne = async () => {
      const r = await sender.c.req({ type: "send", to: victim.id, text: TEXT });
      expect(r.type).toBe("ok");
      acked.push(r.mid);
    };
    // Closed loop with a window, until the server drops the victim's session, then a little more.
    let extra = 0;
    const watch = setInterval(async () => {
      rssPeak = Math.max(rssPeak, rssMiB(node.proc.pid));
      if (cutAt === undefined && (await metric(node.adminPort, "chat_sessions")) === 1) cutAt = acked.length;
    }, 100);
    try {
      await Promise.all(
        Array.from({ length: WINDOW }, async () => {
          while (acked.length < MAX_MESSAGES && (cutAt === undefined || extra < 100)) {
            if (cutAt !== undefined) extra++;
            await sendOne();
          }
        }),
      );
    } finally {
      clearInterval(watch);
    }
    const seconds = (performance.now() - started) / 1000;
    expect(cutAt).toBeDefined();
    expect(node.proc.exitCode).toBeNull();

    // The victim's socket was closed by the server (it sees the reset once it reads again).
    victim.c.socket.resume();
    await victim.c.closedPromise();
    const liveMids = new Set(victim.c.frames.filter((f) => f.type === "msg").map((f) => f.mid));

    // Nothing was acked, so every message is still pending for the victim.
    const again = await Wire.connect(node.port, { keep: false });
    const relog = await again.req({ type: "login", name: "sc_victim", password: "password-1" });
    expect(relog.pending).toBe(acked.length);
    again.abort();
    state = { acked, victim: victim.id };
    const rssAfter = rssMiB(node.proc.pid);

    console.log(
      `Slow consumer: cut off after ${fmt(cutAt as number)} messages (~${fmt(Math.round(((cutAt as number) * TEXT.length) / 1024))} KiB; output limit ${MAX_OUTPUT / 1024} KiB, ` +
        `the rest in kernel buffers); ${fmt(liveMids.size)} reached the client before the reset, ${fmt(acked.length)} acked in ${seconds.toFixed(1)} s, ` +
        `all ${fmt(acked.length)} still pending at the next login; server RSS ${rssBefore.toFixed(0)} MiB, peak ${rssPeak.toFixed(0)}, after ${rssAfter.toFixed(0)}`,
    );
    expect(rssPeak - rssBefore).toBeLessThan(200);
    sender.c.close();
  }, 90_000);

  it("gets every pending message at its next login, in mid order", async () => {
    expect(state).toBeDefined();
    const { acked } = state as NonNullable<typeof state>;
    await waitUntil("the last session ended", async () => ((await metric(node.adminPort, "chat_sessions")) === 0 ? true : undefined));
    const c = await Wire.connect(node.port);
    const started = performance.now();
    const relog = await c.req({ type: "login", name: "sc_victim", password: "password-1" });
    expect(relog.pending).toBe(acked.length);
    const got = () => c.frames.filter((f) => f.type === "msg").map((f) => f.mid as number);
    await waitUntil(
      "every pending message replayed",
      () => {
        // A connection closed mid-replay loses nothing (the rest stays pending), but this login never gets it.
        if (c.closed) throw new Error(`the server closed the connection after ${got().length} of ${acked.length} replayed messages`);
        return got().length >= acked.length ? true : undefined;
      },
      30_000,
    );
    const replayed = got();
    expect(new Set(replayed)).toEqual(new Set(acked));
    expect(replayed).toEqual([...replayed].sort((a, b) => a - b));
    console.log(`Slow consumer, next login: ${fmt(replayed.length)} of ${fmt(acked.length)} pending messages replayed in ${((performance.now() - started) / 1000).toFixed(1)} s through a ${MAX_OUTPUT / 1024} KiB output limit`);
    c.close();
  }, 60_000);
});
