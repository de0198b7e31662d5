/**
 * The web client in a real browser (headless chromium, test/support/browser.ts)
 * against real nodes: two people register in two browser contexts, one on
 * each of two nodes, befriend and chat both ways with unread badges, ticks,
 * typing, edit and delete; a group of three with the console client as the third;
 * texts that look like markup stay text; and a node killed under a browser,
 * which reconnects, sends what was written meanwhile, and loses and
 * duplicates nothing; and the compiled executable, run from an empty
 * directory, serves the same page. Screenshots of the pages go to
 * .data/test-output/web-client/ when a test fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Browser } from "playwright-core";
import { type ChatClient, connectClient } from "../../src/client/index.ts";
import { launchBrowser, outputDir, WebUser, withScreenshots } from "../support/browser.ts";
import { ConsoleProc, killConsoles, registerAndLogin, removeConfigHomes } from "../support/console-proc.ts";
import { freshDatabase, redisUrl } from "../support/db.ts";
import { type NodeProcess, spawnNode } from "../support/node.ts";
import { waitUntil } from "../support/wait.ts";

const OUT = outputDir("web-client");
const tag = `${process.pid % 10_000}`;
let dbUrl: string;
let n1: NodeProcess;
let n2: NodeProcess;
let browser: Browser;
let alice: WebUser;
let bob: WebUser;
let carol: ChatClient | undefined;
const users = () => [alice, bob].filter(Boolean);

const web = (n: NodeProcess) => `http://127.0.0.1:${n.webPort}/`;
const node = (name: string, opts: { port?: number; webPort?: number; adminPort?: number } = {}) =>
  spawnNode({ node: name, mysqlUrl: dbUrl, redisUrl: redisUrl(), ...opts });

beforeAll(async () => {
  dbUrl = await freshDatabase();
  [n1, n2, browser] = await Promise.all([node("w1"), node("w2"), launchBrowser()]);
  [alice, bob] = await Promise.all([WebUser.open(browser, web(n1), `alice${tag}`), WebUser.open(browser, web(n2), `bob${tag}`)]);
}, 60_000);

afterAll(async () => {
  await carol?.close();
  killConsoles();
  removeConfigHomes();
  await browser?.close();
  await Promise.all([n1?.stop(), n2?.stop()]);
});

describe("the web client", () => {
  it("lets two people on two nodes register, befriend and chat both ways, with unread badges and read ticks", () =>
    withScreenshots(OUT, "chat both ways", users, async () => {
      await Promise.all([alice.register(), bob.register()]);
      await alice.befriend(bob.name);
      // Bob hears of the friendship by a push (friend_added), across nodes.
      await bob.tab("People");
      await bob.page.getByRole("list", { name: "Friends" }).getByText(alice.name, { exact: true }).waitFor();
      alice.id = Number(await bob.page.getByRole("list", { name: "Friends" }).locator("li").first().getAttribute("data-user"));
      bob.id = Number(await alice.page.getByRole("list", { name: "Friends" }).locator("li").first().getAttribute("data-user"));

      await alice.chatWith(bob.name);
      await alice.send("hi bob 😀");
      // Bob is online: the tick says delivered, not read, while he has not looked.
      await alice.message("hi bob 😀").locator('[data-tick="delivered"]').waitFor();

      await bob.tab("Chats");
      await bob.badge(`u:${alice.id}`).filter({ hasText: "1" }).waitFor();
      await alice.send("are you there?");
      await bob.badge(`u:${alice.id}`).filter({ hasText: "2" }).waitFor();
      expect(await bob.page.locator("#total-unread").textContent()).toBe("2");

      await bob.openConversation(`u:${alice.id}`);
      await bob.message("are you there?").waitFor();
      expect(await bob.texts()).toEqual(["hi bob 😀", "are you there?"]);
      await bob.badge(`u:${alice.id}`).waitFor({ state: "detached" });
      // Bob read both: Alice's ticks turn to read (peer_read, pushed across nodes).
      await alice.message("are you there?").locator('[data-tick="read"]').waitFor();
      await alice.message("hi bob 😀").locator('[data-tick="read"]').waitFor();

      // Bob types: Alice sees it, then his reply, which she reads at once (her conversation is open).
      await bob.page.getByRole("textbox", { name: "Message" }).pressSequentially("yes", { delay: 20 });
      await alice.page.locator("#typing").filter({ hasText: `${bob.name} is typing` }).waitFor();
      await bob.page.getByRole("textbox", { name: "Message" }).press("Enter");
      await alice.message("yes").waitFor();
      await bob.message("yes").locator('[data-tick="read"]').waitFor();
      await alice.tab("Chats");
      expect(await alice.badge(`u:${bob.id}`).count()).toBe(0);
      // Newest first, with the last message as the preview.
      await alice.conversationItem(`u:${bob.id}`).locator(".conv-last").filter({ hasText: "yes" }).waitFor();

      // Alice edits and deletes her own messages; Bob sees both.
      await alice.message("hi bob 😀").hover();
      await alice.message("hi bob 😀").getByRole("button", { name: "Edit message" }).click();
      const box = alice.page.getByRole("textbox", { name: "Message" });
      expect(await box.inputValue()).toBe("hi bob 😀");
      await box.press("Escape"); // Esc cancels: nothing changes
      expect(await box.inputValue()).toBe("");
      await alice.message("hi bob 😀").hover();
      await alice.message("hi bob 😀").getByRole("button", { name: "Edit message" }).click();
      await box.fill("hello bob");
      await box.press("Enter");
      await bob.message("hello bob").locator(".edited").waitFor();
      alice.page.once("dialog", (d) => void d.accept());
      await alice.message("are you there?").hover();
      await alice.message("are you there?").getByRole("button", { name: "Delete message" }).click();
      await bob.message("message deleted").waitFor();
      expect(await bob.texts()).toEqual(["hello bob", "message deleted", "yes"]);
    }), 60_000);

  it("keeps a group of three, two in browsers and one on the console client, in one conversation", () =>
    withScreenshots(OUT, "group of three", users, async () => {
      // Carol, on the client library, takes part in the tests below.
      carol = await connectClient({ port: n1.port, autoAck: true });
      await carol.register(`carol${tag}`, "password-1");
      await carol.login({ name: `carol${tag}`, password: "password-1" });
      // The group's third member is in a terminal: `chat client`, typed into.
      const term = ConsoleProc.start(n1.port);
      const termName = `term${tag}`;
      await registerAndLogin(term, termName);

      await alice.tab("Groups");
      await alice.page.getByLabel("New group's name").fill(`team${tag}`);
      await alice.page.getByRole("button", { name: "Create" }).click();
      await alice.page.locator("#chat-title").filter({ hasText: `team${tag}` }).waitFor();
      const id = Number((await alice.page.getByRole("list", { name: "Your groups" }).locator("li").first().getAttribute("data-key"))!.slice(2));

      await bob.tab("Groups");
      await bob.page.getByLabel("Group id to join").fill(String(id));
      await bob.page.getByRole("button", { name: "Join", exact: true }).click();
      await bob.page.locator("#chat-title").filter({ hasText: `team${tag}` }).waitFor();
      await term.run(`addgroup ${id}`, new RegExp(`^ok: joined group ${id} team${tag}`));

      await alice.send("welcome to the team");
      await bob.message("welcome to the team").waitFor();
      await term.expect(new RegExp(`${alice.name}\\(\\d+\\) -> group ${id} team${tag}: welcome to the team \\(mid \\d+\\)$`));
      await term.run(`groupchat ${id} hi from the terminal`, new RegExp(`you -> group ${id} team${tag}: hi from the terminal`));
      await alice.message("hi from the terminal").waitFor();
      await bob.message("hi from the terminal").locator(".who").filter({ hasText: termName }).waitFor();
      await bob.send("hi all");
      await alice.message("hi all").waitFor();
      await term.expect(new RegExp(`${bob.name}\\(\\d+\\) -> group ${id} team${tag}: hi all \\(mid \\d+\\)$`));

      // The members, with roles and online state; Alice (the creator) can make Bob an admin.
      await alice.page.getByRole("button", { name: "Details" }).click();
      const members = alice.page.getByRole("list", { name: "Members" });
      await members.locator("li").nth(2).waitFor();
      expect(await members.locator("li").count()).toBe(3);
      await members.getByLabel(`${alice.name}, creator, online`).waitFor();
      await members.getByLabel(`term${tag}, normal, online`).waitFor();
      await alice.page.getByRole("button", { name: `Make ${bob.name} an admin` }).click();
      await members.getByLabel(`${bob.name}, admin, online`).waitFor();
      await bob.page.getByRole("button", { name: "Details" }).click();
      await bob.page.getByText("you are admin").waitFor();
      await Promise.all([alice.page.getByRole("button", { name: "Close the details" }).click(), bob.page.getByRole("button", { name: "Close the details" }).click()]);
      expect(await term.end()).toBe(0);
    }), 60_000);

  it("shows texts that look like markup as text, and emoji, Chinese, right-to-left, long words, newlines and 4,096 characters as written", () =>
    withScreenshots(OUT, "text is text", users, async () => {
      await alice.openConversation(`u:${bob.id}`);
      await bob.openConversation(`u:${alice.id}`);
      const texts = [
        `<img src=x onerror="window.__xss=1">`,
        `<b>bold?</b> &amp; <script>window.__xss=2</script> <a href="javascript:window.__xss=3">link</a>`,
        "你好，世界 · שלום עולם · مرحبا",
        `one\ntwo\n  three`,
        `${"a".repeat(300)}`,
        "😀".repeat(4096),
      ];
      for (const t of texts) {
        await alice.send(t);
        await alice.message(t).locator("[data-tick]").waitFor();
      }
      for (const t of texts) await bob.message(t).waitFor();
      const shown = await bob.texts();
      expect(shown.slice(-texts.length)).toEqual(texts);
      expect(await bob.page.locator("#messages img, #messages script, #messages b, #messages a").count()).toBe(0);
      expect(await bob.page.evaluate(() => (window as { __xss?: number }).__xss)).toBeUndefined();
      // The preview in the list is text too.
      await alice.tab("Chats");
      expect(await alice.page.locator("#panel img").count()).toBe(0);
      // A message too long is refused before it is sent.
      await alice.send("b".repeat(4097));
      await alice.page.getByRole("alert").filter({ hasText: "at most 4096 characters" }).waitFor();
      await alice.page.getByRole("textbox", { name: "Message" }).fill("");
    }), 60_000);

  it("reconnects a browser whose node was killed, sends what was written meanwhile once, and receives what came meanwhile", () =>
    withScreenshots(OUT, "node killed", users, async () => {
      await bob.openConversation(`u:${alice.id}`);
      await alice.openConversation(`u:${bob.id}`);
      const before = await bob.texts();
      const { port, webPort, adminPort } = n2;
      await n2.kill("SIGKILL");
      await bob.status.filter({ hasText: "Reconnecting" }).waitFor();
      // Written while the node is down: shown at once, as sending.
      await bob.send("written while down 1");
      await bob.send("written while down 2");
      expect(await bob.message("written while down 1").getAttribute("data-status")).toBe("sending");
      await alice.send("sent while bob was away");
      // Bob's other device (on the node that lives) sends more than a page meanwhile: not pending for the page, only in history.
      const phone = await connectClient({ port: n1.port });
      await phone.login({ name: bob.name, password: "password-1" });
      const fromPhone = Array.from({ length: 60 }, (_, i) => `from bob's phone ${i + 1}`);
      for (const t of fromPhone) await phone.send(alice.id, t);
      await phone.close();

      n2 = await node("w2", { port, webPort, adminPort });
      // Reconnecting backs off up to 5 s (±50%) while the node starts again.
      await bob.page.locator('body[data-status="online"]').waitFor({ timeout: 30_000 });
      await bob.message("sent while bob was away").waitFor();
      await alice.message("written while down 2").waitFor();
      await bob.message("written while down 2").locator("[data-tick]").waitFor();
      // Caught up through history, all of them, in order.
      await bob.message(fromPhone[59]!).waitFor();
      await waitUntil("bob's page to show every message of his phone", async () => (await bob.texts()).filter((x) => fromPhone.includes(x)).length === 60, 10_000);
      expect((await bob.texts()).filter((x) => fromPhone.includes(x))).toEqual(fromPhone);
      // A moment for any duplicate to show up, then count.
      const expected = [...before, "written while down 1", "written while down 2", ...fromPhone];
      await waitUntil("bob's page to show both ways", async () => {
        const b = await bob.texts();
        return b.includes("sent while bob was away") && b.includes("written while down 2");
      }, 10_000);
      const a = await alice.texts();
      const b = await bob.texts();
      for (const t of ["written while down 1", "written while down 2", "sent while bob was away"]) {
        expect(a.filter((x) => x === t)).toHaveLength(1);
        expect(b.filter((x) => x === t)).toHaveLength(1);
      }
      expect(b.filter((x) => expected.includes(x) || x === "sent while bob was away").length).toBe(b.length);
      // A reload logs back in with the kept token and shows the same conversation.
      await bob.page.reload();
      await bob.page.locator("#me").filter({ hasText: bob.name }).waitFor();
      await bob.openConversation(`u:${alice.id}`);
      await bob.message("written while down 2").waitFor();
      expect((await bob.texts()).filter((x) => x === "written while down 1")).toHaveLength(1);
    }), 90_000);

  it("loads older messages on scrolling up, here from a TCP user in a one-to-one conversation", () =>
    withScreenshots(OUT, "scroll back", users, async () => {
      const carolId = carol!.user!.id;
      await carol!.addFriend(bob.id);
      for (let i = 1; i <= 70; i++) await carol!.send(bob.id, `c${i}`);
      await bob.openConversation(`u:${carolId}`);
      await bob.message("c70").waitFor();
      expect(await bob.messages.count()).toBe(50);
      await bob.page.locator("#messages").evaluate((el) => (el.scrollTop = 0));
      await bob.message("c1").waitFor();
      expect(await bob.texts()).toEqual(Array.from({ length: 70 }, (_, i) => `c${i + 1}`));
      await bob.page.getByText("Start of the conversation").waitFor();
      // The view stayed where the reader was, not at the bottom.
      expect(await bob.page.locator("#messages").evaluate((el) => el.scrollTop > 0 && el.scrollTop + el.clientHeight < el.scrollHeight)).toBe(true);
    }), 60_000);

  it("shows a send that fails as failed, sends it once on retry, and keeps unsent messages across a reload", () =>
    withScreenshots(OUT, "failed and retry", users, async () => {
      const carolId = carol!.user!.id;
      const heard: string[] = [];
      carol!.onMessage((m) => heard.push(m.text));
      await carol!.removeFriend(bob.id);
      // A message the page wrote and never saw stored, as a closed tab leaves it.
      await bob.page.evaluate(
        ([me, key]) => localStorage.setItem(`chat.outbox.${me}`, JSON.stringify([{ key, cid: "outbox-cid-1", text: "left in the outbox", ts: Date.now() }])),
        [bob.id, `u:${carolId}`] as const,
      );
      // No longer friends, the conversation is not listed: its address opens it.
      await bob.page.goto(`${web(n2)}#u:${carolId}`);
      await bob.page.reload();
      await bob.page.locator("#me").filter({ hasText: bob.name }).waitFor();
      const failed = bob.message("left in the outbox");
      await failed.locator(".fail").filter({ hasText: "not_friend" }).waitFor();
      expect(await failed.getAttribute("data-status")).toBe("failed");

      await carol!.addFriend(bob.id);
      await failed.getByRole("button", { name: "Retry sending" }).click();
      await bob.message("left in the outbox").locator("[data-tick]").waitFor();
      await waitUntil("carol to get it", () => heard.includes("left in the outbox"), 10_000);
      await bob.message("c70").waitFor();
      expect(heard.filter((t) => t === "left in the outbox")).toHaveLength(1);
      expect(await bob.page.evaluate((me) => localStorage.getItem(`chat.outbox.${me}`), bob.id)).toBeNull();
    }), 60_000);

  it("logs out for real: the page forgets the session and the token no longer works", () =>
    withScreenshots(OUT, "logout", users, async () => {
      const token = await bob.page.evaluate(() => localStorage.getItem("chat.token"));
      expect(token).toBeTruthy();
      await bob.page.getByRole("button", { name: "Log out" }).click();
      await bob.page.locator("#auth").waitFor({ state: "visible" });
      expect(await bob.page.evaluate(() => localStorage.getItem("chat.token"))).toBeNull();
      const c = await connectClient({ port: n1.port });
      try {
        await expect(c.loginWithToken(token!)).rejects.toMatchObject({ code: "bad_credentials" });
      } finally {
        await c.close();
      }
      await bob.page.reload();
      await bob.page.locator("#auth").waitFor({ state: "visible" });
    }), 30_000);

  it("is served the same by dist/chat run from an empty directory, compressed and cached as it should be", () =>
    withScreenshots(OUT, "compiled", () => [], async () => {
      const dir = mkdtempSync(`${tmpdir()}/chat-web-`);
      let exeNode: NodeProcess | undefined;
      let dave: WebUser | undefined;
      try {
        const exe = `${dir}/bin/chat`;
        const build = Bun.spawnSync([process.execPath, `${import.meta.dir}/../../scripts/build.ts`, exe], { cwd: `${import.meta.dir}/../..`, stderr: "pipe" });
        expect(build.stderr.toString()).not.toContain("error");
        expect(build.exitCode).toBe(0);
        exeNode = await spawnNode({ node: "w3", mysqlUrl: dbUrl, redisUrl: redisUrl(), command: [exe], cwd: mkdtempSync(`${dir}/empty-`) });
        const base = web(exeNode);
        const index = await fetch(base, { headers: { "accept-encoding": "br, gzip" }, decompress: false } as RequestInit);
        expect(index.headers.get("cache-control")).toBe("no-cache");
        const script = (await fetch(base).then((r) => r.text())).match(/src="\.\/([^"]+\.js)"/)?.[1];
        expect(script).toBeDefined();
        const js = await fetch(`${base}${script}`, { headers: { "accept-encoding": "gzip, br" }, decompress: false } as RequestInit);
        expect(js.headers.get("content-encoding")).toBe("br");
        expect(js.headers.get("cache-control")).toContain("immutable");

        dave = await WebUser.open(browser, base, `dave${tag}`);
        await dave.register();
        await dave.befriend(alice.name);
        await dave.chatWith(alice.name);
        await dave.send("from the compiled server");
        await alice.tab("Chats");
        await alice.page.locator("#panel li .conv-last").filter({ hasText: "from the compiled server" }).waitFor();
      } finally {
        await dave?.close();
        await exeNode?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }), 90_000);
});
