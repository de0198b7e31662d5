/**
 * The console client end to end: real `chat server` processes on a fresh
 * database, console clients driven through their stdin as a script would
 * (`bun src/main.ts client`), output checked line by line. Also a failover (the
 * node is stopped and another takes its port) and, when tmux is installed,
 * a terminal session checking that an incoming message does not garble a
 * half-typed line, and that typing a message tells its recipient.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../scripts/services.ts";
import { ConsoleProc, freshConfigHome, killConsoles, registerAndLogin, removeConfigHomes, WAIT_MS } from "../support/console-proc.ts";
import { freshDatabase } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { waitUntil } from "../support/wait.ts";

const ROOT = `${import.meta.dir}/../..`;
const MAIN = `${ROOT}/src/main.ts`;
/** Reconnecting backs off up to 5 s (±50%) while the new node starts. */
const RECONNECT_WAIT_MS = 30_000;

let dbUrl: string;
let port: number;
let server: NodeProcess;
let counter = 0;
const uniq = (name: string) => `${name}${process.pid % 10_000}x${++counter}`;
/** A message line's time, as a regular expression's source. */
const T = "\\[\\d\\d:\\d\\d:\\d\\d\\]";

beforeAll(async () => {
  dbUrl = await freshDatabase();
  port = await freePort();
  server = await startServer("n1");
});

afterEach(killConsoles);

afterAll(async () => {
  await server?.kill();
  removeConfigHomes();
});

/** A `chat server` on the file's port (a failover starts another on the same port). */
function startServer(node: string): Promise<NodeProcess> {
  return spawnNode({ node, mysqlUrl: dbUrl, port, adminPort: 0, cwd: ROOT });
}

describe("console client against the real server", () => {
  it("registers, logs in, chats both ways and in a group, lists, reads, edits and deletes, logs out and unfriends", async () => {
    const alice = ConsoleProc.start(port);
    const bob = ConsoleProc.start(port);
    const [an, bn] = [uniq("alice"), uniq("bob")];
    const a = await registerAndLogin(alice, an);
    const b = await registerAndLogin(bob, bn);

    await alice.run(`addfriend ${b}`, new RegExp(`^ok: ${bn}\\(${b}\\) is now your friend \\(online\\)$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) added you as a friend$`));

    // The sender sees its own message as a message line, with its mid.
    const [, m1] = await alice.run(
      `chat ${b} hello ${bn}`,
      new RegExp(`^${T} you -> ${bn}\\(${b}\\): hello ${bn} \\(mid (\\d+)\\)$`),
    );
    await bob.expect(new RegExp(`^${T} ${an}\\(${a}\\) -> you: hello ${bn} \\(mid ${m1}\\)$`));
    // The references' colon syntax; the message keeps its own colons.
    const [, m2] = await bob.run(`chat:${a}:hi: from the colon syntax`, /^\S+ you -> \S+: hi: from the colon syntax \(mid (\d+)\)$/);
    await alice.expect(new RegExp(`^${T} ${bn}\\(${b}\\) -> you: hi: from the colon syntax \\(mid ${m2}\\)$`));

    const [, g] = await alice.run(`creategroup ${an}s a group for us`, new RegExp(`^ok: created group (\\d+) ${an}s$`));
    await bob.run(`addgroup:${g}`, new RegExp(`^ok: joined group ${g} ${an}s, members: .*${an}\\(${a}\\)`));
    await alice.expect(new RegExp(`^\\* ${bn}\\(${b}\\) joined group ${g} ${an}s$`));
    // Group lines name the group.
    const [, gm] = await bob.run(`groupchat ${g} hi group`, new RegExp(`^${T} you -> group ${g} ${an}s: hi group \\(mid (\\d+)\\)$`));
    await alice.expect(new RegExp(`^${T} ${bn}\\(${b}\\) -> group ${g} ${an}s: hi group \\(mid ${gm}\\)$`));

    await alice.run("friends", /^friends \(1\):$/);
    await alice.expect(new RegExp(`^  ${bn}\\(${b}\\) online$`));
    await alice.run(`history ${b}`, new RegExp(`^history with ${bn}\\(${b}\\): 2 messages$`));
    await alice.expect(new RegExp(`you -> ${bn}\\(${b}\\): hello ${bn} \\(mid ${m1}\\)$`));
    await alice.expect(new RegExp(`${bn}\\(${b}\\) -> you: hi: from the colon syntax \\(mid ${m2}\\)$`));
    await alice.expect(/^\(no older messages\)$/);
    await alice.run("chat 999999999 anyone?", /^error: .* \(no_such_user\)$/);
    await alice.run("chat 0 hello", /^error: "0" is not a user id or a name \(one word\)\. Type: chat <friend> <message>$/);

    // The conversation list: newest first, with what is unread.
    await alice.run("conversations", /^conversations \(2, 2 unread\):$/);
    await alice.expect(new RegExp(`^  group ${g} ${an}s +1 unread +${T} ${bn}\\(${b}\\): hi group \\(mid ${gm}\\)$`));
    await alice.expect(new RegExp(`^  ${bn}\\(${b}\\) +1 unread +${T} ${bn}\\(${b}\\): hi: from the colon syntax \\(mid ${m2}\\)$`));
    // Reading tells the friend.
    await alice.run(`read ${b}`, new RegExp(`^ok: read ${bn}\\(${b}\\) up to mid ${m2}$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) read up to mid ${m2}$`));
    await alice.run(`read g:${g}`, new RegExp(`^ok: read group ${g} ${an}s up to mid ${gm}$`));
    await alice.run("convs", /^conversations \(2, 0 unread\):$/);

    // Edit and recall: the friend sees both, naming the mid.
    await alice.run(`edit ${m1} hello again`, new RegExp(`^ok: edited mid ${m1}$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) edited mid ${m1}: hello again$`));
    await bob.run(`edit ${m1} not mine`, /^error: .* \(forbidden\)$/);
    await alice.run(`delete ${m1}`, new RegExp(`^ok: deleted mid ${m1}$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) deleted mid ${m1}$`));
    await bob.run(`history ${a}`, new RegExp(`^history with ${an}\\(${a}\\): 2 messages$`));
    await bob.expect(new RegExp(`^${T} ${an}\\(${a}\\) -> you: \\(deleted\\) \\(mid ${m1}\\)$`));

    await bob.run("loginout", /^ok: logged out$/);
    await bob.expect(/^1\. login$/);
    await alice.expect(new RegExp(`^\\* ${bn}\\(${b}\\) is offline$`));

    // Sent while bob is away: pending, pushed at his next login after the summary.
    await alice.run(`chat ${b} while you were out`, /^\S+ you -> \S+: while you were out \(mid \d+\)$/);
    await bob.run(`1\n${b}\npass-word-1`, new RegExp(`^ok: logged in as ${bn}\\(${b}\\)`));
    await bob.expect(/^pending messages: 1$/);
    await bob.expect(/^unread messages: 1$/);
    await bob.expect(new RegExp(`^${T} ${an}\\(${a}\\) -> you: while you were out \\(mid \\d+\\)$`));

    // Unfriending ends it for both.
    await alice.run(`unfriend ${b}`, new RegExp(`^ok: ${bn}\\(${b}\\) is no longer your friend$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) is no longer your friend$`));
    await bob.run(`chat ${a} still friends?`, /^error: .* \(not_friend\)$/);

    expect(await alice.end()).toBe(0);
    expect(await bob.end()).toBe(0);

    // It was acked: the next login has nothing pending.
    const again = ConsoleProc.start(port);
    await again.expect(/^\* connected/);
    await again.run(`1\n${bn}\npass-word-1`, /^ok: logged in as /);
    await again.expect(/^pending messages: 0$/);
    expect(await again.end()).toBe(0);
  }, 60_000);

  it("runs a group: role, rename, kick with ban, unban, delete, each shown to the other members", async () => {
    const alice = ConsoleProc.start(port);
    const bob = ConsoleProc.start(port);
    const carol = ConsoleProc.start(port);
    const [an, bn, cn] = [uniq("alice"), uniq("bob"), uniq("carol")];
    await registerAndLogin(alice, an);
    const b = await registerAndLogin(bob, bn);
    const c = await registerAndLogin(carol, cn);
    const [, g] = await alice.run(`creategroup ${an}s`, new RegExp(`^ok: created group (\\d+) ${an}s$`));
    await bob.run(`addgroup ${g}`, /^ok: joined group /);
    await carol.run(`addgroup ${g}`, /^ok: joined group /);

    await alice.run(`role ${g} ${b} admin`, new RegExp(`^ok: ${bn}\\(${b}\\) is admin in group ${g}$`));
    await bob.expect(new RegExp(`^\\* you are now admin in group ${g}\\b.*$`));
    await carol.expect(new RegExp(`^\\* ${bn}\\(${b}\\) is now admin in group ${g}\\b.*$`));
    await carol.run("groups", new RegExp(`^    ${bn}\\(${b}\\) admin online$`));

    await bob.run(`rename ${g} the ${an} team`, new RegExp(`^ok: group ${g} is now named the ${an} team$`));
    await alice.expect(new RegExp(`^\\* group ${g} is now the ${an} team$`));

    await carol.run(`kick ${g} ${b}`, /^error: .* \(forbidden\)$/);
    await bob.run(`kick ${g} ${c} ban`, new RegExp(`^ok: removed ${cn}\\(${c}\\) from group ${g}, banned$`));
    await carol.expect(new RegExp(`^\\* you were removed from group ${g}\\b.* by ${bn}\\(${b}\\)$`));
    await alice.expect(new RegExp(`^\\* ${cn}\\(${c}\\) was removed from group ${g}\\b.* by ${bn}\\(${b}\\)$`));
    await carol.run(`addgroup ${g}`, /^error: .* \(forbidden\)$/);
    await alice.run(`unban ${g} ${c}`, new RegExp(`^ok: user ${c} may join group ${g} again$`));
    await carol.run(`addgroup ${g}`, /^ok: joined group /);

    await bob.run(`deletegroup ${g}`, /^error: .* \(forbidden\)$/);
    await alice.run(`deletegroup ${g}`, new RegExp(`^ok: deleted group ${g}$`));
    await bob.expect(new RegExp(`^\\* group ${g}\\b.* was deleted$`));
    await carol.expect(new RegExp(`^\\* group ${g}\\b.* was deleted$`));
    await carol.run("groups", /^groups: none$/);
    for (const x of [alice, bob, carol]) expect(await x.end()).toBe(0);
  }, 60_000);

  it("asks, accepts, finds and blocks by name, changes the password and deletes the account", async () => {
    const alice = ConsoleProc.start(port);
    const bob = ConsoleProc.start(port);
    const [an, bn] = [uniq("alice"), uniq("bob")];
    const a = await registerAndLogin(alice, an);
    const b = await registerAndLogin(bob, bn);

    await alice.run(`request ${bn} we met at the meetup`, new RegExp(`^ok: asked ${bn}\\(${b}\\) to be your friend$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) asks to be your friend: "we met at the meetup" \\(accept ${a} / decline ${a}\\)$`));
    await bob.run("requests", /^requests to you \(1\):$/);
    await bob.expect(new RegExp(`^  ${an}\\(${a}\\) "we met at the meetup" ${T}$`));
    await bob.run(`accept ${an}`, new RegExp(`^ok: ${an}\\(${a}\\) is now your friend \\(online\\)$`));
    await alice.expect(new RegExp(`^\\* ${bn}\\(${b}\\) added you as a friend$`));
    await alice.run(`find ${bn}`, new RegExp(`^found: ${bn}\\(${b}\\)$`));
    const [, byName] = await alice.run(`chat ${bn} by name`, new RegExp(`^${T} you -> ${bn}\\(${b}\\): by name \\(mid (\\d+)\\)$`));
    await bob.run(`history ${an}`, new RegExp(`^history with ${an}\\(${a}\\): 1 message$`));
    await bob.run(`read ${an}`, new RegExp(`^ok: read ${an}\\(${a}\\) up to mid ${byName}$`));
    await alice.run("find nobody-at-all", /^error: .* \(no_such_user\)$/);

    await alice.run(`block ${bn}`, new RegExp(`^ok: blocked ${bn}\\(${b}\\)$`));
    await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) is no longer your friend$`));
    await alice.run("blocked", /^blocked \(1\):$/);
    await alice.expect(new RegExp(`^  ${bn}\\(${b}\\)$`));
    await bob.run(`request ${an}`, /^error: .* \(blocked\)$/);
    await alice.run(`unblock ${b}`, new RegExp(`^ok: unblocked ${bn}\\(${b}\\)$`));
    await alice.run("blocked", /^blocked: nobody$/);
    await bob.run(`request ${an} once more`, new RegExp(`^ok: asked ${an}\\(${a}\\) to be your friend$`));
    await alice.expect(new RegExp(`asks to be your friend: "once more"`));
    await alice.run(`decline ${bn}`, new RegExp(`^ok: declined the request of ${bn}\\(${b}\\)$`));

    alice.type("passwd", "pass-word-1", "pass-word-2", "pass-word-2");
    await alice.expect(/^ok: password changed/);
    bob.type("delete-account", "pass-word-1", "pass-word-1");
    await bob.expect(/^ok: account deleted$/);
    expect(await bob.proc.exited).toBe(0);
    await alice.run(`find ${bn}`, /^error: .* \(no_such_user\)$/);
    expect(await alice.end()).toBe(0);

    // The new password is the one that works now.
    const again = ConsoleProc.start(port);
    await again.expect(/^\* connected/);
    await again.run(`1\n${an}\npass-word-1`, /^error: .* \(bad_credentials\)$/);
    await again.run(`1\n${an}\npass-word-2`, new RegExp(`^ok: logged in as ${an}\\(${a}\\)`));
    expect(await again.end()).toBe(0);
  }, 60_000);

  it("remembers the session per user and server, logs in with it at the next start, and forgets it at loginout", async () => {
    const home = freshConfigHome();
    const first = ConsoleProc.start(port, home);
    const an = uniq("alice");
    const a = await registerAndLogin(first, an);
    expect(await first.end()).toBe(0);
    const file = join(home, "chat", `session-127.0.0.1-${port}.token`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "chat")).mode & 0o077).toBe(0);

    const second = ConsoleProc.start(port, home);
    await second.expect(/^\* connected/);
    await second.expect(new RegExp(`^ok: logged in as ${an}\\(${a}\\) on node \\w+$`));
    await second.run("loginout", /^ok: logged out$/);
    await second.expect(/^1\. login$/);
    second.type("3");
    expect(await second.proc.exited).toBe(0);
    expect(() => statSync(file)).toThrow();

    const third = ConsoleProc.start(port, home);
    await third.expect(/^\* connected/);
    await third.expect(/^1\. login$/);
    third.type("3");
    expect(await third.proc.exited).toBe(0);
  }, 30_000);

  it("prints a wrong password as one line with its code and stays at the menu", async () => {
    const c = ConsoleProc.start(port);
    await c.expect(/^\* connected/);
    await c.run(`1\nnobody-${uniq("x")}\nwhatever-pw`, /^error: .* \(bad_credentials\)$/);
    await c.expect(/^1\. login$/);
    c.type("3");
    expect(await c.proc.exited).toBe(0);
  }, 30_000);

  it("reconnects across a failover, logs back in with its token and keeps chatting", async () => {
    const alice = ConsoleProc.start(port);
    const bob = ConsoleProc.start(port);
    const [an, bn] = [uniq("alice"), uniq("bob")];
    const a = await registerAndLogin(alice, an);
    const b = await registerAndLogin(bob, bn);
    await alice.run(`addfriend ${b}`, /^ok: /);

    await server.kill();
    await alice.expect(/^\* connection lost, reconnecting\.\.\.$/);
    await bob.expect(/^\* connection lost, reconnecting\.\.\.$/);
    server = await startServer("n2");
    await alice.expect(/^\* reconnected to node n2$/, RECONNECT_WAIT_MS);
    await bob.expect(/^\* reconnected to node n2$/, RECONNECT_WAIT_MS);

    await alice.run(`chat ${b} still there?`, /^\S+ you -> \S+: still there\? \(mid \d+\)$/);
    await bob.expect(new RegExp(`^${T} ${an}\\(${a}\\) -> you: still there\\? \\(mid \\d+\\)$`));
    expect(await alice.end()).toBe(0);
    expect(await bob.end()).toBe(0);
  }, 90_000);
});

const tmux = Bun.which("tmux");

describe("console client on a terminal", () => {
  it.skipIf(!tmux)("prints an incoming message above a half-typed line and keeps the line", async () => {
    const session = `chat-client-test-${process.pid}`;
    const sh = (...args: string[]) => Bun.spawnSync([tmux!, ...args], { stdout: "pipe", stderr: "pipe" });
    const screen = () => sh("capture-pane", "-p", "-t", session).stdout.toString();
    const until = (what: string, ok: (s: string) => boolean) =>
      waitUntil(what, () => {
        const s = screen();
        return ok(s) ? s : undefined;
      }, WAIT_MS, { detail: () => `screen:\n${screen()}` });
    const [an, bn] = [uniq("alice"), uniq("bob")];
    const bob = ConsoleProc.start(port);
    const b = await registerAndLogin(bob, bn);
    const setup = ConsoleProc.start(port);
    const a = await registerAndLogin(setup, an);
    await setup.run(`addfriend ${b}`, /^ok: /);
    expect(await setup.end()).toBe(0);

    const cmd = `env XDG_CONFIG_HOME=${freshConfigHome()} ${process.execPath} ${MAIN} client --port ${port}`;
    expect(sh("new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd).exitCode).toBe(0);
    try {
      await until("the menu", (s) => s.includes("choice:"));
      sh("send-keys", "-t", session, "1", "Enter");
      await until("the name prompt", (s) => s.includes("name or id:"));
      sh("send-keys", "-t", session, an, "Enter");
      await until("the password prompt", (s) => s.includes("password:"));
      sh("send-keys", "-t", session, "pass-word-1");
      // The password is not echoed.
      expect(screen()).not.toContain("pass-word-1");
      sh("send-keys", "-t", session, "Enter");
      // capture-pane drops trailing spaces
      await until("the command prompt", (s) => s.split("\n").some((l) => l.trimEnd() === `${an}>`));
      const typed = `chat ${b} half typ`;
      sh("send-keys", "-t", session, typed);
      await until("the half-typed line", (s) => s.includes(typed));
      // Typing a message to bob tells bob.
      await bob.expect(new RegExp(`^\\* ${an}\\(${a}\\) is typing$`));

      await bob.run(`chat ${a} ping from bob`, /^\S+ you -> \S+: ping from bob \(mid \d+\)$/);
      const nonEmpty = (s: string) => s.split("\n").filter((l) => l.trim() !== "");
      // Waits for the redraw too: the message and the prompt are separate writes.
      const s = await until(
        "bob's message, then the prompt and the half-typed line",
        (s) => s.includes("ping from bob") && nonEmpty(s).at(-1) === `${an}> ${typed}`,
      );
      const lines = nonEmpty(s);
      const msgLine = lines.findIndex((l) => l.includes("ping from bob"));
      expect(lines[msgLine]).toMatch(new RegExp(`^${T} ${bn}\\(${b}\\) -> you: ping from bob \\(mid \\d+\\)$`));
      // The prompt and what was typed are drawn again below, intact.
      expect(lines.at(-1)).toBe(`${an}> ${typed}`);
      expect(lines.slice(0, -1).some((l) => l.includes("half typ"))).toBe(false);
    } finally {
      sh("kill-session", "-t", session);
    }
    expect(await bob.end()).toBe(0);
  }, 60_000);
});
