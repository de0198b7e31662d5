/**
 * The open conversation: its header, the messages (own on the right, day
 * separators, times, ticks, edited and deleted marks, older pages fetched on
 * scrolling up), who is typing, and the composer (Enter sends, Shift+Enter
 * is a new line, Esc cancels an edit).
 */
import { byId, h, replace } from "../dom.ts";
import { codePoints, dayKey, dayLabel, MAX_TEXT, timeOf } from "../format.ts";
import type { Shown } from "../timeline.ts";
import { refOf } from "../web-chat.ts";
import type { Ui } from "./ui.ts";

/** How close to the top (px) the list must be scrolled to fetch the page before. */
const NEAR_TOP = 80;

const TICKS = { sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" } as const;

export class ChatView {
  readonly #list = byId<HTMLOListElement>("messages");
  readonly #text = byId<HTMLTextAreaElement>("text");
  readonly #counter = byId("counter");
  readonly #editBar = byId("edit-bar");
  /** the message being edited */
  #editing: { key: string; mid: number; draft: string } | null = null;
  /** drafts per conversation, so switching does not lose what was typed */
  #drafts = new Map<string, string>();
  #shownKey: string | undefined;

  constructor(private readonly ui: Ui) {
    byId("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.#submit();
    });
    this.#text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#submit();
      } else if (e.key === "Escape" && this.#editing) {
        e.preventDefault();
        this.cancelEdit();
      } else if (e.key === "ArrowUp" && this.#text.value === "" && !this.#editing) {
        // As in other messengers: Up in an empty composer edits one's last message.
        const last = this.#lastOwn();
        if (last) {
          e.preventDefault();
          this.#startEdit(this.ui.current!, last);
        }
      }
    });
    this.#text.addEventListener("input", () => {
      this.#grow();
      this.#count();
      const key = this.ui.current;
      if (key && this.#text.value.trim() !== "" && !this.#editing) this.ui.chat.typed(key);
    });
    byId("edit-cancel").addEventListener("click", () => this.cancelEdit());
    this.#list.addEventListener("scroll", () => {
      const key = this.ui.current;
      if (key && this.#list.scrollTop < NEAR_TOP) void this.#older(key);
    });
  }

  /** Shows another conversation (or none). */
  show(key: string | undefined): void {
    if (this.#shownKey !== undefined && !this.#editing) this.#drafts.set(this.#shownKey, this.#text.value);
    if (this.#editing) this.cancelEdit();
    this.#shownKey = key;
    byId("empty-chat").hidden = key !== undefined;
    this.#list.hidden = key === undefined;
    byId("composer").hidden = key === undefined;
    byId("details-toggle").hidden = key === undefined;
    this.#text.value = key ? (this.#drafts.get(key) ?? "") : "";
    this.#grow();
    this.#count();
    this.header();
    this.render(true);
    this.typing();
    if (key) this.#text.focus();
  }

  header(): void {
    const key = this.#shownKey;
    const title = byId("chat-title");
    const dot = byId("peer-dot");
    if (!key) {
      title.textContent = "";
      dot.hidden = true;
      return;
    }
    const { chat } = this.ui;
    const ref = refOf(key);
    title.textContent = chat.nameOf(key);
    title.setAttribute("dir", "auto");
    if ("with" in ref) {
      const f = chat.friends.get(ref.with);
      dot.hidden = false;
      dot.className = f?.online ? "dot online" : "dot";
      dot.setAttribute("aria-label", f ? (f.online ? "online" : "offline") : "not a friend");
      dot.setAttribute("role", "img");
    } else {
      dot.hidden = true;
    }
    const cannot = "with" in ref ? !chat.friends.has(ref.with) : !chat.groups.has(ref.group);
    this.#text.disabled = cannot;
    this.#text.placeholder = cannot ? ("with" in ref ? "Not a friend: messages cannot be sent" : "Not a member of this group") : "Message";
  }

  /** Redraws the messages; keeps the view at the bottom when it was there, or where it was when older ones came. */
  render(toBottom = false): void {
    const key = this.#shownKey;
    if (!key) {
      this.#list.replaceChildren();
      return;
    }
    const list = this.#list;
    const atBottom = toBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const fromBottom = list.scrollHeight - list.scrollTop;
    const t = this.ui.chat.timeline(key);
    const items: Node[] = [];
    if (t.loaded && !t.complete) {
      items.push(h("li", { class: "more" }, h("button", { class: "secondary small", type: "button", onclick: () => this.#older(key) }, t.loadingOlder ? "Loading…" : "Load older messages")));
    } else if (t.complete && t.all().length > 0) {
      items.push(h("li", { class: "day" }, "Start of the conversation"));
    }
    let day = "";
    for (const m of t.all()) {
      const d = dayKey(m.ts);
      if (d !== day) {
        day = d;
        items.push(h("li", { class: "day", role: "separator" }, dayLabel(m.ts)));
      }
      items.push(this.#message(key, m));
    }
    if (t.loaded && t.all().length === 0) items.push(h("li", { class: "day" }, "No messages yet. Say hello!"));
    replace(list, ...items);
    if (atBottom) list.scrollTop = list.scrollHeight;
    else list.scrollTop = list.scrollHeight - fromBottom;
  }

  #message(key: string, m: Shown): HTMLElement {
    const { chat } = this.ui;
    const mine = m.from === chat.me?.id;
    const ref = refOf(key);
    const gone = m.deleted !== undefined;
    const status = m.status === "sent" && m.mid !== undefined && mine && "with" in ref ? chat.tick(key, m.mid, m.ts, m.okAt) : m.status;
    const role = "group" in ref ? chat.groups.get(ref.group)?.role : undefined;
    const canDelete = !gone && m.mid !== undefined && (mine || role === "creator" || role === "admin");
    const canEdit = !gone && m.mid !== undefined && mine;
    const tick =
      mine && status !== "failed"
        ? h("span", { class: `tick ${status}`, "aria-label": status, title: status, "data-tick": status }, TICKS[status as keyof typeof TICKS])
        : null;
    return h(
      "li",
      {
        class: `msg${mine ? " mine" : ""}${m.status === "failed" ? " failed" : ""}`,
        "data-mid": m.mid,
        "data-cid": m.cid,
        "data-status": status,
        tabindex: -1,
      },
      !mine && "group" in ref ? h("div", { class: "who", dir: "auto" }, m.name || "(deleted account)") : null,
      h("div", { class: gone ? "text gone" : "text", dir: "auto" }, gone ? "message deleted" : m.text),
      h(
        "div",
        { class: "meta" },
        m.edited !== undefined && !gone ? h("span", { class: "edited" }, "edited") : null,
        h("time", { datetime: new Date(m.ts).toISOString() }, timeOf(m.ts)),
        tick,
      ),
      m.status === "failed"
        ? h(
            "div",
            { class: "meta fail" },
            `Not sent: ${m.error ?? "failed"} `,
            h("button", { class: "small", type: "button", "aria-label": "Retry sending", onclick: () => chat.retry(key, m.cid!) }, "Retry"),
            h("button", { class: "small secondary", type: "button", "aria-label": "Discard the message", onclick: () => chat.discard(key, m.cid!) }, "Discard"),
          )
        : null,
      canEdit || canDelete
        ? h(
            "div",
            { class: "actions" },
            canEdit ? h("button", { class: "secondary small", type: "button", "aria-label": "Edit message", onclick: () => this.#startEdit(key, m) }, "Edit") : null,
            canDelete
              ? h(
                  "button",
                  {
                    class: "danger small",
                    type: "button",
                    "aria-label": "Delete message",
                    onclick: () => confirm("Delete this message for everyone?") && this.ui.act(() => chat.deleteMessage(key, m.mid!)),
                  },
                  "Delete",
                )
              : null,
          )
        : null,
    );
  }

  typing(): void {
    const key = this.#shownKey;
    const names = key ? this.ui.chat.typists(key) : [];
    byId("typing").textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  }

  cancelEdit(): void {
    if (!this.#editing) return;
    this.#text.value = this.#editing.draft;
    this.#editing = null;
    this.#editBar.hidden = true;
    this.#grow();
    this.#count();
    this.#text.focus();
  }

  #startEdit(key: string, m: Shown): void {
    if (m.mid === undefined) return;
    this.#editing = { key, mid: m.mid, draft: this.#editing?.draft ?? this.#text.value };
    this.#text.value = m.text;
    this.#editBar.hidden = false;
    this.#grow();
    this.#count();
    this.#text.focus();
  }

  #lastOwn(): Shown | undefined {
    const key = this.ui.current;
    if (!key) return undefined;
    const me = this.ui.chat.me?.id;
    return this.ui.chat.timeline(key).all().findLast((m) => m.from === me && m.mid !== undefined && m.deleted === undefined);
  }

  #submit(): void {
    const key = this.ui.current;
    if (!key || this.#text.disabled) return;
    const text = this.#text.value;
    if (text.trim() === "") return;
    if (codePoints(text) > MAX_TEXT) {
      this.ui.notice(`a message is at most ${MAX_TEXT} characters`, true);
      return;
    }
    const editing = this.#editing;
    if (editing) {
      this.#text.value = editing.draft;
      this.#editing = null;
      this.#editBar.hidden = true;
      void this.ui.act(() => this.ui.chat.edit(editing.key, editing.mid, text));
    } else {
      this.#text.value = "";
      this.#drafts.delete(key);
      this.ui.chat.send(key, text);
    }
    this.#grow();
    this.#count();
    this.render(true);
  }

  async #older(key: string): Promise<void> {
    const t = this.ui.chat.timeline(key);
    if (!t.loaded || t.complete || t.loadingOlder) return;
    await this.ui.act(() => this.ui.chat.loadOlder(key));
  }

  /** The composer grows with its text, up to its max height. */
  #grow(): void {
    this.#text.style.height = "auto";
    this.#text.style.height = `${this.#text.scrollHeight + 2}px`;
  }

  #count(): void {
    const n = codePoints(this.#text.value);
    const left = MAX_TEXT - n;
    this.#counter.textContent = left < 200 ? String(left) : "";
    this.#counter.classList.toggle("over", left < 0);
  }
}
