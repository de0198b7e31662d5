/**
 * A real browser for the web client's tests and screenshots: Debian's
 * chromium, headless, driven by playwright-core, kept off the network (no
 * background fetches, updates, sync or first-run pages). Playwright starts
 * it with a fresh temporary --user-data-dir of its own each launch, so no
 * profile carries over. `WebUser` is one person's page, with the steps the
 * tests take in the words of the page (its labels), and screenshots of
 * every open page when a test fails.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Flags that keep the browser from reaching anything but the page under test. */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-dev-shm-usage",
];

/** Where a test file's screenshots go: .data/test-output/<name>/ (git ignores .data). */
export function outputDir(name: string): string {
  const dir = resolve(import.meta.dir, "../../.data/test-output", name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: sh scripts/bootstrap.sh test installs Debian's chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
}

/** How long a step waits for the page to show what it expects. */
export const STEP_MS = 10_000;

export class WebUser {
  id = 0;
  /** what the page logged to its console, and its errors: shown when a test fails */
  readonly console: string[] = [];

  private constructor(
    readonly name: string,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on("console", (m) => this.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => this.console.push(`pageerror: ${e.message}`));
    page.setDefaultTimeout(STEP_MS);
  }

  /** A fresh browser context (its own storage) on `url`. */
  static async open(browser: Browser, url: string, name: string, viewport = { width: 1100, height: 760 }): Promise<WebUser> {
    const context = await browser.newContext({ viewport, reducedMotion: "reduce" });
    const page = await context.newPage();
    await page.goto(url);
    return new WebUser(name, context, page);
  }

  get status(): Locator {
    return this.page.locator("#status");
  }

  /** Registers (which logs in too) and learns the user's id from the conversation-less page. */
  async register(password = "password-1"): Promise<void> {
    await this.page.getByLabel("Name").fill(this.name);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Register" }).click();
    await this.page.locator("#shell").waitFor({ state: "visible" });
    await this.page.locator("#me").filter({ hasText: this.name }).waitFor();
  }

  async tab(name: "Chats" | "People" | "Groups"): Promise<void> {
    // On a phone the side bar gives way to the open conversation: back to it first.
    if (!(await this.page.locator("#side").isVisible())) await this.page.getByRole("button", { name: "Back to the conversations" }).click();
    await this.page.getByRole("tab", { name: new RegExp(`^${name}`) }).click();
  }

  /** Finds `other` by name and adds them (open friend policy). */
  async befriend(other: string): Promise<void> {
    await this.tab("People");
    await this.page.getByLabel("Name to find").fill(other);
    await this.page.getByRole("button", { name: "Find", exact: true }).click();
    await this.page.getByRole("button", { name: `Add ${other} as a friend` }).click();
    await this.page.getByRole("list", { name: "Friends" }).getByText(other, { exact: true }).waitFor();
  }

  /** Opens the one-to-one conversation with a friend from the People tab. */
  async chatWith(other: string): Promise<void> {
    await this.tab("People");
    await this.page.getByRole("button", { name: `Chat with ${other}` }).click();
    await this.page.locator("#chat-title").filter({ hasText: other }).waitFor();
  }

  /** Opens a conversation from the Chats tab by its key (`u:8`, `g:3`). */
  async openConversation(key: string): Promise<void> {
    await this.tab("Chats");
    await this.conversationItem(key).click();
  }

  conversationItem(key: string): Locator {
    return this.page.locator(`#panel li[data-key="${key}"]`);
  }

  /** The unread badge of a conversation in the list. */
  badge(key: string): Locator {
    return this.conversationItem(key).locator(".badge.unread");
  }

  /** Types a message into the composer and presses Enter; lines after the first are typed with Shift+Enter. */
  async send(text: string): Promise<void> {
    const box = this.page.getByRole("textbox", { name: "Message" });
    await box.click();
    const lines = text.split("\n");
    for (const [i, line] of lines.entries()) {
      if (i > 0) await box.press("Shift+Enter");
      // fill() would replace what is there; insertText types as a paste does.
      if (line) await this.page.keyboard.insertText(line);
    }
    await box.press("Enter");
  }

  /** The messages shown in the open conversation. */
  get messages(): Locator {
    return this.page.locator("#messages li.msg");
  }

  /** The shown message whose text is exactly `text`. */
  message(text: string): Locator {
    return this.messages.filter({ has: this.page.locator(".text").getByText(text, { exact: true }) });
  }

  /** The texts of the messages shown, in order. */
  async texts(): Promise<string[]> {
    return this.page.locator("#messages li.msg .text").evaluateAll((els) => els.map((e) => e.textContent ?? ""));
  }

  async screenshot(dir: string, label: string): Promise<void> {
    await this.page.screenshot({ path: join(dir, `${label}-${this.name}.png`) }).catch(() => {
      // A page that crashed cannot be photographed; the failure itself is reported.
    });
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

/**
 * Runs a test's body; when it fails, every page in `users()` is photographed
 * into `dir` (named after the test) and its console printed before the error goes on.
 */
export async function withScreenshots(dir: string, test: string, users: () => WebUser[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const label = test.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
    for (const u of users()) {
      await u.screenshot(dir, label);
      if (u.console.length > 0) console.error(`${u.name}'s page said:\n  ${u.console.slice(-30).join("\n  ")}`);
    }
    console.error(`screenshots of the failed test are in ${dir}`);
    throw err;
  }
}
