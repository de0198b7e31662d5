/**
 * `npm run screenshots`: pictures of the web client's main views, taken in
 * headless chromium against a real node on private MariaDB and Redis (as the
 * tests run them), written to docs/screenshots/ (or the folder given:
 * `npm run screenshots -- /tmp/shots`). The README shows one of them.
 *
 *   login.png         the login form
 *   chat.png          the conversation list and a conversation, desktop
 *   group.png         a group with its members and roles
 *   people.png        friends, requests and finding people
 *   phone.png         a conversation at 360 px wide
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { freshDatabase, redisUrl } from "../test/support/db.ts";
import { launchBrowser, WebUser } from "../test/support/browser.ts";
import { spawnNode } from "../test/support/node.ts";
import { stopTestServices } from "../test/support/services.ts";

const out = resolve(process.argv[2] ?? resolve(import.meta.dir, "../docs/screenshots"));
mkdirSync(out, { recursive: true });

/** Notices come and go; a picture of a view should not carry one. */
const calm = (u: WebUser) => u.page.evaluate(() => document.getElementById("notice")?.setAttribute("hidden", ""));

const node = await spawnNode({ node: "n1", mysqlUrl: await freshDatabase(), redisUrl: redisUrl() });
const browser = await launchBrowser();
try {
  const url = `http://127.0.0.1:${node.webPort}/`;
  const [alice, bob, carol] = await Promise.all([
    WebUser.open(browser, url, "alice"),
    WebUser.open(browser, url, "bob"),
    WebUser.open(browser, url, "carol", { width: 360, height: 740 }),
  ]);
  await alice.page.locator("#auth").waitFor({ state: "visible" });
  await alice.page.screenshot({ path: `${out}/login.png` });
  await Promise.all([alice.register(), bob.register(), carol.register()]);
  await alice.befriend("bob");
  await carol.befriend("alice");

  await bob.chatWith("alice");
  await bob.send("Hi Alice! Are we still on for lunch?");
  await alice.chatWith("bob");
  await alice.send("Yes! 12:30 at the noodle place.\nI'll book a table.");
  await bob.send("Perfect, see you — à tout à l’heure");
  await alice.send("See you there");

  await alice.tab("Groups");
  await alice.page.getByLabel("New group's name").fill("weekend hike");
  await alice.page.getByLabel("New group's description").fill("Saturday, 9:00 at the station");
  await alice.page.getByRole("button", { name: "Create" }).click();
  await alice.page.locator("#chat-title").filter({ hasText: "weekend hike" }).waitFor();
  const id = (await alice.page.getByRole("list", { name: "Your groups" }).locator("li").first().getAttribute("data-key"))!.slice(2);
  for (const u of [bob, carol]) {
    await u.tab("Groups");
    await u.page.getByLabel("Group id to join").fill(id);
    await u.page.getByRole("button", { name: "Join", exact: true }).click();
    await u.page.locator("#chat-title").filter({ hasText: "weekend hike" }).waitFor();
  }
  await alice.send("Who brings the map?");
  await bob.send("I will");
  await carol.send("I'll bring snacks");
  await alice.page.getByRole("button", { name: "Details" }).click();
  await alice.page.getByRole("list", { name: "Members" }).locator("li").nth(2).waitFor();
  await alice.page.getByRole("button", { name: "Make bob an admin" }).click();
  await alice.page.getByRole("list", { name: "Members" }).getByLabel("bob, admin, online").waitFor();
  await calm(alice);
  await alice.page.screenshot({ path: `${out}/group.png` });
  await alice.page.getByRole("button", { name: "Close the details" }).click();

  await alice.tab("Chats");
  await alice.openConversation(`u:${await friendId(alice, "bob")}`);
  await bob.openConversation(`u:${await friendId(bob, "alice")}`);
  await bob.page.getByRole("textbox", { name: "Message" }).pressSequentially("typing", { delay: 30 });
  await alice.page.locator("#typing").filter({ hasText: "bob is typing" }).waitFor();
  await calm(alice);
  await alice.page.screenshot({ path: `${out}/chat.png` });

  await alice.tab("People");
  await alice.page.getByLabel("Name to find").fill("carol");
  await calm(alice);
  await alice.page.screenshot({ path: `${out}/people.png` });

  await carol.openConversation(`g:${id}`);
  await calm(carol);
  await carol.page.screenshot({ path: `${out}/phone.png` });
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await node.stop();
  await stopTestServices();
}

/** A friend's id, as the user's friend list has it. */
async function friendId(u: WebUser, name: string): Promise<number> {
  await u.tab("People");
  const id = Number(await u.page.getByRole("list", { name: "Friends" }).getByLabel(new RegExp(`^${name},`)).getAttribute("data-user"));
  await u.tab("Chats");
  return id;
}
