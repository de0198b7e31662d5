/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="dom.asynciterable" />
/**
 * The web client's entry (index.html loads it): the login form, the side
 * bar, the open conversation and its details, redrawn from WebChat's
 * `change` events. Plain DOM: the page has few moving parts, and every
 * piece of text from a user goes in through textContent (dom.ts).
 */
import { byId } from "./dom.ts";
import { ChatView } from "./views/chat-view.ts";
import { DetailsView } from "./views/details-view.ts";
import { SideView } from "./views/side-view.ts";
import type { Ui } from "./views/ui.ts";
import { describe, refOf, WebChat } from "./web-chat.ts";

const STATUS_TEXT = {
  connecting: "Connecting…",
  online: "",
  reconnecting: "Reconnecting…",
  offline: "Offline: the server cannot be reached. Trying again…",
} as const;

class App implements Ui {
  readonly chat = new WebChat();
  current: string | undefined;
  readonly #side: SideView;
  readonly #view: ChatView;
  readonly #details: DetailsView;
  #noticeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.#side = new SideView(this);
    this.#view = new ChatView(this);
    this.#details = new DetailsView(this);
    this.#wireAuth();
    byId("logout").addEventListener("click", () => void this.act(() => this.chat.logout()));
    byId("back").addEventListener("click", () => this.#pane("list"));
    this.chat.on("change", ({ what, key }) => this.#changed(what, key));
    this.chat.on("notice", (text) => this.notice(text));
    // Reading happens when the page is looked at: a conversation open in a hidden tab stays unread.
    document.addEventListener("visibilitychange", () => this.#read());
    window.addEventListener("focus", () => this.#read());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.#details.open) this.#details.setOpen(false);
    });
    this.#pane("list");
    this.#status();
    void this.chat.start().catch((err) => this.notice(describe(err), true));
  }

  open(key: string): void {
    this.current = key;
    // The address names the open conversation: a reload (or a bookmark) opens it again.
    history.replaceState(null, "", `#${key}`);
    this.#side.render();
    this.#view.show(key);
    this.#details.render();
    this.#pane("chat");
    void this.act(async () => {
      await this.chat.open(key);
      this.#read();
    });
  }

  async act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      this.notice(describe(err), true);
    }
  }

  notice(text: string, bad = false): void {
    const el = byId("notice");
    el.textContent = text;
    el.classList.toggle("bad", bad);
    el.hidden = false;
    clearTimeout(this.#noticeTimer);
    this.#noticeTimer = setTimeout(() => (el.hidden = true), 6_000);
  }

  #changed(what: string, key?: string): void {
    switch (what) {
      case "auth":
        return this.#auth();
      case "status":
        return this.#status();
      case "list":
        this.#side.render();
        if (this.current) this.#read();
        // A tick may have turned blue (peer_read) or the header's name arrived.
        this.#view.header();
        if (this.current?.startsWith("u:")) this.#view.render();
        return;
      case "people":
      case "requests":
        this.#side.render();
        this.#view.header();
        if (this.current?.startsWith("u:")) this.#view.render();
        return this.#details.render();
      case "groups":
        this.#side.render();
        this.#view.header();
        return this.#details.render();
      case "timeline":
        if (key === this.current) {
          this.#view.render();
          this.#read();
        }
        return;
      case "typing":
        if (key === this.current) this.#view.typing();
        return;
    }
  }

  /** Marks the open conversation read while the page is visible. */
  #read(): void {
    const key = this.current;
    if (!key || document.visibilityState !== "visible" || !this.chat.me) return;
    void this.chat.markRead(key).catch(() => {
      // Not connected, or no longer a friend or member: nothing to mark; the next change tries again.
    });
  }

  #auth(): void {
    const me = this.chat.me;
    byId("auth").hidden = me !== undefined;
    byId("shell").hidden = me === undefined;
    if (me) {
      byId("me").textContent = me.name;
      byId("me").setAttribute("aria-label", `Logged in as ${me.name}`);
      byId("auth-error").textContent = "";
      this.#side.render();
      if (this.current && !this.#stillThere(this.current)) this.current = undefined;
      const named = /^#([ug]:\d+)$/.exec(location.hash)?.[1];
      if (!this.current && named) this.open(named);
      else this.#view.show(this.current);
    } else {
      this.current = undefined;
      if (location.hash) history.replaceState(null, "", location.pathname);
      this.#view.show(undefined);
      this.#details.setOpen(false);
      byId<HTMLInputElement>("auth-password").value = "";
      byId<HTMLInputElement>("auth-name").focus();
    }
  }

  #stillThere(key: string): boolean {
    const ref = refOf(key);
    return "group" in ref ? this.chat.groups.has(ref.group) : this.chat.friends.has(ref.with) || this.chat.conversation(key) !== undefined;
  }

  #status(): void {
    const el = byId("status");
    el.textContent = STATUS_TEXT[this.chat.status];
    document.body.dataset.status = this.chat.status;
  }

  #pane(pane: "list" | "chat"): void {
    document.body.dataset.pane = pane;
  }

  #wireAuth(): void {
    const form = byId<HTMLFormElement>("auth-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const mode = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.dataset.mode ?? "login";
      const name = byId<HTMLInputElement>("auth-name").value.trim();
      const password = byId<HTMLInputElement>("auth-password").value;
      const error = byId("auth-error");
      error.textContent = "";
      const buttons = form.querySelectorAll("button");
      for (const b of buttons) b.disabled = true;
      const run = mode === "register" ? this.chat.register(name, password) : this.chat.login(name, password);
      run
        .catch((err) => (error.textContent = describe(err)))
        .finally(() => {
          for (const b of buttons) b.disabled = false;
        });
    });
  }
}

new App();
