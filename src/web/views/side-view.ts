/**
 * The side bar's panel: the conversation list (newest first, unread badges,
 * last message, presence), the people tab (find by name, requests, friends,
 * blocked) and the groups tab (create, join, the user's groups).
 */
import { byId, h, replace } from "../dom.ts";
import { preview, shortWhen } from "../format.ts";
import { keyOf } from "../web-chat.ts";
import type { Tab, Ui } from "./ui.ts";

export class SideView {
  tab: Tab = "chats";
  readonly #panel = byId("panel");
  /** typed into the find box, kept across redraws */
  #found: { id: number; name: string } | null = null;

  constructor(private readonly ui: Ui) {
    for (const button of document.querySelectorAll<HTMLButtonElement>(".tabs [role=tab]")) {
      button.addEventListener("click", () => this.select(button.dataset.tab as Tab));
    }
  }

  select(tab: Tab): void {
    this.tab = tab;
    for (const button of document.querySelectorAll<HTMLButtonElement>(".tabs [role=tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === tab));
    }
    this.render();
  }

  /** Redraws the badges and the open tab, keeping focus in a form being typed into. */
  render(): void {
    this.#badges();
    // What is being typed into the panel's forms survives the redraw, focus and caret included.
    const values = new Map<string, string>();
    for (const input of this.#panel.querySelectorAll("input")) if (input.id) values.set(input.id, input.value);
    const active = document.activeElement;
    const focused = active instanceof HTMLInputElement && this.#panel.contains(active) ? { id: active.id, at: active.selectionStart } : null;
    if (this.tab === "chats") replace(this.#panel, this.#chats());
    else if (this.tab === "people") replace(this.#panel, ...this.#people());
    else replace(this.#panel, ...this.#groups());
    for (const [id, value] of values) {
      const input = this.#panel.querySelector<HTMLInputElement>(`#${id}`);
      if (input) input.value = value;
    }
    if (focused) {
      const input = this.#panel.querySelector<HTMLInputElement>(`#${focused.id}`);
      input?.focus();
      if (input && focused.at !== null) input.setSelectionRange(focused.at, focused.at);
    }
  }

  /** Empties a form's inputs after it did its job (found by id: a redraw may have replaced them meanwhile). */
  #clearInputs(...ids: string[]): void {
    for (const id of ids) {
      const input = this.#panel.querySelector<HTMLInputElement>(`#${id}`);
      if (!input) continue;
      input.value = "";
      input.blur();
    }
  }

  #badges(): void {
    const unread = this.ui.chat.list.unread;
    const total = byId("total-unread");
    total.hidden = unread === 0;
    total.textContent = String(unread);
    total.setAttribute("aria-label", `${unread} unread`);
    const requests = this.ui.chat.requests.incoming().length;
    const count = byId("request-count");
    count.hidden = requests === 0;
    count.textContent = String(requests);
    count.setAttribute("aria-label", `${requests} friend requests`);
    document.title = unread > 0 ? `(${unread}) chat` : "chat";
  }

  #chats(): HTMLElement {
    const { chat } = this.ui;
    const entries = chat.list.list();
    if (entries.length === 0) return h("p", { class: "hint" }, "No conversations yet. Find someone under People, or join a group.");
    return h(
      "ul",
      { class: "list", "aria-label": "Conversations" },
      ...entries.map((c) => {
        const key = keyOf("group" in c ? { group: c.group } : { with: c.with });
        const friend = "with" in c ? chat.friends.get(c.with) : undefined;
        const name = chat.nameOf(key);
        const mine = c.last.from === chat.me?.id;
        const text = c.last.deleted !== undefined ? "message deleted" : preview(c.last.text);
        const who = mine ? "You: " : "group" in c ? `${c.last.name}: ` : "";
        const label = `${name}${c.unread > 0 ? `, ${c.unread} unread` : ""}${friend ? (friend.online ? ", online" : ", offline") : ""}`;
        return h(
          "li",
          {
            tabindex: 0,
            "data-key": key,
            "aria-label": label,
            "aria-current": key === this.ui.current ? "true" : undefined,
            onclick: () => this.ui.open(key),
            onkeydown: (e) => (e as KeyboardEvent).key === "Enter" && this.ui.open(key),
          },
          friend ? h("span", { class: friend.online ? "dot online" : "dot", "aria-hidden": "true" }) : h("span", { class: "role", "aria-hidden": "true" }, "#"),
          h(
            "div",
            { class: "conv-main" },
            h("div", { class: "conv-top" }, h("span", { class: "conv-name", dir: "auto" }, name), h("span", { class: "conv-when" }, shortWhen(c.last.ts))),
            h("div", { class: "conv-last", dir: "auto" }, who, text),
          ),
          c.unread > 0 ? h("span", { class: "badge unread", "aria-hidden": "true" }, String(c.unread)) : null,
        );
      }),
    );
  }

  #people(): Node[] {
    const { chat } = this.ui;
    const nodes: Node[] = [];
    const input = h("input", { id: "find-name", "aria-label": "Name to find", placeholder: "Find by exact name", required: true, maxlength: 32 });
    nodes.push(
      h("h3", {}, "Find people"),
      h(
        "form",
        {
          "aria-label": "Find people",
          onsubmit: (e) => {
            e.preventDefault();
            const name = input.value.trim();
            if (!name) return;
            void this.ui.act(async () => {
              this.#found = await chat.findUser(name);
              this.#clearInputs("find-name");
              this.render();
            });
          },
        },
        input,
        h("button", { type: "submit" }, "Find"),
      ),
    );
    const found = this.#found;
    if (found) {
      const state = found.id === chat.me?.id ? "that is you" : chat.friends.has(found.id) ? "already a friend" : null;
      nodes.push(
        h(
          "ul",
          { class: "list", "aria-label": "Found" },
          h(
            "li",
            { "data-user": found.id },
            h("span", { class: "person-name", dir: "auto" }, found.name),
            state
              ? h("span", { class: "role" }, state)
              : h(
                  "button",
                  {
                    class: "small",
                    "aria-label": `Add ${found.name} as a friend`,
                    onclick: () =>
                      this.ui.act(async () => {
                        const r = await chat.befriend(found.id);
                        this.ui.notice(r === "friends" ? `${found.name} is your friend now` : `asked ${found.name} to be friends`);
                        this.#found = null;
                        this.render();
                      }),
                  },
                  chat.client.offers("consent") ? "Ask to be friends" : "Add friend",
                ),
          ),
        ),
      );
    }
    const incoming = chat.requests.incoming();
    if (incoming.length > 0) {
      nodes.push(
        h("h3", {}, "Friend requests"),
        h(
          "ul",
          { class: "list", "aria-label": "Friend requests" },
          ...incoming.map((r) =>
            h(
              "li",
              { "data-user": r.user.id },
              h("span", { class: "person-name", dir: "auto" }, r.user.name, r.note ? h("span", { class: "role" }, ` “${r.note}”`) : null),
              h("button", { class: "small", "aria-label": `Accept ${r.user.name}`, onclick: () => this.ui.act(() => chat.accept(r.user.id)) }, "Accept"),
              h("button", { class: "small secondary", "aria-label": `Decline ${r.user.name}`, onclick: () => this.ui.act(() => chat.decline(r.user.id)) }, "Decline"),
            ),
          ),
        ),
      );
    }
    const outgoing = chat.requests.outgoing();
    if (outgoing.length > 0) {
      nodes.push(
        h("h3", {}, "Asked"),
        h("ul", { class: "list", "aria-label": "Requests sent" }, ...outgoing.map((r) => h("li", {}, h("span", { class: "person-name", dir: "auto" }, r.user.name || `user ${r.user.id}`), h("span", { class: "role" }, "waiting")))),
      );
    }
    const friends = [...chat.friends.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
    nodes.push(h("h3", {}, `Friends (${friends.length})`));
    if (friends.length === 0) nodes.push(h("p", { class: "hint" }, "No friends yet."));
    else
      nodes.push(
        h(
          "ul",
          { class: "list", "aria-label": "Friends" },
          ...friends.map((f) =>
            h(
              "li",
              { "data-user": f.id, "aria-label": `${f.name}, ${f.online ? "online" : "offline"}` },
              h("span", { class: f.online ? "dot online" : "dot", "aria-hidden": "true" }),
              h("span", { class: "person-name", dir: "auto" }, f.name),
              h("button", { class: "small", "aria-label": `Chat with ${f.name}`, onclick: () => this.ui.open(keyOf({ with: f.id })) }, "Chat"),
              h(
                "button",
                {
                  class: "small danger",
                  "aria-label": `Remove ${f.name} from friends`,
                  onclick: () => confirm(`Remove ${f.name} from your friends?`) && this.ui.act(() => chat.unfriend(f.id)),
                },
                "Remove",
              ),
              chat.client.offers("block")
                ? h("button", { class: "small danger", "aria-label": `Block ${f.name}`, onclick: () => confirm(`Block ${f.name}?`) && this.ui.act(() => chat.block(f.id)) }, "Block")
                : null,
            ),
          ),
        ),
      );
    if (this.#found && !chat.friends.has(this.#found.id) && chat.client.offers("block") && this.#found.id !== chat.me?.id) {
      const who = this.#found;
      nodes.push(h("p", { class: "hint" }, h("button", { class: "small danger", "aria-label": `Block ${who.name}`, onclick: () => this.ui.act(() => chat.block(who.id)) }, `Block ${who.name}`)));
    }
    if (chat.blocked.length > 0) {
      nodes.push(
        h("h3", {}, "Blocked"),
        h(
          "ul",
          { class: "list", "aria-label": "Blocked" },
          ...chat.blocked.map((b) =>
            h("li", {}, h("span", { class: "person-name", dir: "auto" }, b.name), h("button", { class: "small secondary", "aria-label": `Unblock ${b.name}`, onclick: () => this.ui.act(() => chat.unblock(b.id)) }, "Unblock")),
          ),
        ),
      );
    }
    return nodes;
  }

  #groups(): Node[] {
    const { chat } = this.ui;
    const name = h("input", { id: "group-name", "aria-label": "New group's name", placeholder: "Group name", required: true, maxlength: 64 });
    const desc = h("input", { id: "group-desc", "aria-label": "New group's description", placeholder: "Description (optional)", maxlength: 256 });
    const join = h("input", { id: "group-id", "aria-label": "Group id to join", placeholder: "Group id", inputmode: "numeric", required: true, pattern: "[0-9]+" });
    const groups = [...chat.groups.values()].sort((a, b) => a.name.localeCompare(b.name));
    return [
      h("h3", {}, "New group"),
      h(
        "form",
        {
          "aria-label": "Create a group",
          class: "stack",
          onsubmit: (e) => {
            e.preventDefault();
            void this.ui.act(async () => {
              const id = await chat.createGroup(name.value.trim(), desc.value.trim());
              this.#clearInputs("group-name", "group-desc");
              this.ui.open(keyOf({ group: id }));
            });
          },
        },
        name,
        desc,
        h("button", { type: "submit" }, "Create"),
      ),
      h("h3", {}, "Join a group"),
      h(
        "form",
        {
          "aria-label": "Join a group",
          onsubmit: (e) => {
            e.preventDefault();
            const id = Number(join.value);
            if (!Number.isSafeInteger(id) || id < 1) return this.ui.notice("a group id is a positive number", true);
            void this.ui.act(async () => {
              await chat.joinGroup(id);
              this.#clearInputs("group-id");
              this.ui.open(keyOf({ group: id }));
            });
          },
        },
        join,
        h("button", { type: "submit" }, "Join"),
      ),
      h("h3", {}, `Your groups (${groups.length})`),
      groups.length === 0
        ? h("p", { class: "hint" }, "None yet.")
        : h(
            "ul",
            { class: "list", "aria-label": "Your groups" },
            ...groups.map((g) => {
              const online = g.members.filter((m) => m.online).length;
              const key = keyOf({ group: g.id });
              return h(
                "li",
                { tabindex: 0, "data-key": key, onclick: () => this.ui.open(key), onkeydown: (e) => (e as KeyboardEvent).key === "Enter" && this.ui.open(key) },
                h("span", { class: "role", "aria-hidden": "true" }, "#"),
                h("div", { class: "conv-main" }, h("div", { class: "conv-name", dir: "auto" }, g.name), h("div", { class: "conv-last" }, `id ${g.id} · ${g.members.length} members, ${online} online · you: ${g.role}`)),
              );
            }),
          ),
    ];
  }
}
