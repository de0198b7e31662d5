/**
 * Small helpers shared by the protocol conformance tests in test/e2e: second
 * sessions, friendships, raw frames whose reply has no `re`, and a ping
 * barrier for asserting that a push did NOT arrive.
 */
import { afterAll, beforeAll } from "bun:test";
import type { ServerOptions } from "../../src/server/server.ts";
import { startTestServer, type TestServer, uniq } from "./server.ts";
import { type Frame, Wire } from "./wire.ts";

export type { Frame } from "./wire.ts";

export interface Person {
  w: Wire;
  id: number;
  name: string;
  token: string;
  login: Frame;
}

export const PASSWORD = "password-1";

/** Registers `name` (no login) on a throwaway connection; returns the new id. */
export async function register(port: number, name: string, password = PASSWORD): Promise<number> {
  const w = await Wire.connect(port);
  try {
    return (await w.ok({ type: "register", name, password })).user.id;
  } finally {
    w.close();
  }
}

/** Logs an existing user in on a new connection. */
export async function session(port: number, name: string, password = PASSWORD): Promise<Person> {
  const w = await Wire.connect(port);
  const login = await w.ok({ type: "login", name, password });
  return { w, id: login.user.id, name: login.user.name, token: login.token, login };
}

/** Registers and logs in `name` on a new connection. */
export async function person(port: number, name: string, password = PASSWORD): Promise<Person> {
  await register(port, name, password);
  return session(port, name, password);
}

/** Makes a and b friends (a adds b). */
export async function befriend(a: Person, b: { id: number }): Promise<void> {
  await a.w.ok({ type: "add_friend", user: b.id });
}

/**
 * Everything the server sent on `w` from frame index `from` up to the reply to
 * a ping sent now. The server writes each connection's frames in order, so a
 * push caused before the ping was handled is in this list.
 */
export async function framesUntilPing(w: Wire, from: number): Promise<Frame[]> {
  const reply = await w.ok({ type: "ping" });
  return w.frames.slice(from, w.frames.indexOf(reply));
}

/** Sends raw text and returns the next reply (ok or error) after what was already received. */
export async function rawReply(w: Wire, text: string | Uint8Array): Promise<Frame> {
  const from = w.frames.length;
  w.write(text);
  return w.next((f) => f.type === "ok" || f.type === "error", 10_000, from);
}

/** Replies (ok and error) received from frame index `from` on. */
export function repliesFrom(w: Wire, from: number): Frame[] {
  return w.frames.slice(from).filter((f) => f.type === "ok" || f.type === "error");
}

/** Closes every connection given; ignores ones already closed. */
export function closeAll(...people: ({ w: Wire } | Wire | undefined)[]) {
  for (const p of people) {
    const w = p instanceof Wire ? p : p?.w;
    if (w && !w.closed) w.close();
  }
}

/** Waits until `w`'s socket is closed by the server. */
export function closed(w: Wire, timeoutMs = 10_000): Promise<void> {
  return w.closedPromise(timeoutMs);
}

/** One in-process server for a test file, and the connections its tests open. */
export interface SharedServer {
  readonly ts: TestServer;
  readonly port: number;
  /** Closes these connections after the file's tests. */
  keep(...ws: Wire[]): void;
  /** A new connection, closed after the file's tests. */
  conn(): Promise<Wire>;
  /** A new registered, logged-in user with a unique name. */
  fresh(prefix: string): Promise<Person>;
}

/**
 * Starts a server before the file's tests and stops it after, closing every
 * connection kept. Call it at the top of the file, before any beforeAll that
 * uses it (hooks run in the order they are registered).
 */
export function sharedServer(opts: Partial<ServerOptions> = {}): SharedServer {
  let ts: TestServer | undefined;
  const open: Wire[] = [];
  beforeAll(async () => {
    ts = await startTestServer(opts);
  });
  afterAll(async () => {
    closeAll(...open);
    await ts?.stop();
  });
  const server = (): TestServer => {
    if (!ts) throw new Error("sharedServer: used before its beforeAll ran");
    return ts;
  };
  return {
    get ts() {
      return server();
    },
    get port() {
      return server().port;
    },
    keep: (...ws) => void open.push(...ws),
    async conn() {
      const w = await server().connect();
      open.push(w);
      return w;
    },
    async fresh(prefix) {
      const p = await person(server().port, uniq(prefix));
      open.push(p.w);
      return p;
    },
  };
}
