/**
 * The details pane of the open conversation: for a group its description,
 * members with their roles and online state, and what the user's role lets
 * them do (rename, promote, kick, ban, leave, delete); for a friend, remove
 * and block.
 */
import { byId, h, replace } from "../dom.ts";
import { refOf } from "../web-chat.ts";
import type { Ui } from "./ui.ts";
import type { GroupMember, GroupRole } from "../../client/types.ts";

const RANK: Record<GroupRole, number> = { creator: 2, admin: 1, normal: 0 };

export class DetailsView {
  readonly #pane = byId("details");
  readonly #toggle = byId("details-toggle");

  constructor(private readonly ui: Ui) {
    this.#toggle.addEventListener("click", () => this.setOpen(this.#pane.hidden));
  }

  get open(): boolean {
    return !this.#pane.hidden;
  }

  setOpen(open: boolean): void {
    this.#pane.hidden = !open;
    this.#toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const key = this.ui.current;
      // Members' online state is pushed only for friends: ask for the rest when the pane opens.
      if (key?.startsWith("g:")) void this.ui.act(() => this.ui.chat.refreshGroups());
      this.render();
      this.#pane.querySelector<HTMLElement>("button, input")?.focus();
    }
  }

  render(): void {
    if (this.#pane.hidden) return;
    const key = this.ui.current;
    if (!key) return replace(this.#pane);
    const ref = refOf(key);
    const close = h("button", { class: "secondary small", type: "button", "aria-label": "Close the details", onclick: () => this.setOpen(false) }, "Close");
    if ("with" in ref) return replace(this.#pane, close, ...this.#friend(ref.with));
    replace(this.#pane, close, ...this.#group(ref.group));
  }

  #friend(id: number): Node[] {
    const { chat } = this.ui;
    const f = chat.friends.get(id);
    if (!f) return [h("h3", { dir: "auto" }, chat.nameOf(`u:${id}`)), h("p", { class: "desc" }, "Not a friend any more.")];
    return [
      h("h3", { dir: "auto" }, f.name),
      h("p", {}, h("span", { class: f.online ? "dot online" : "dot", "aria-hidden": "true" }), f.online ? " online" : " offline"),
      h(
        "div",
        { class: "row" },
        h("button", { class: "danger small", type: "button", onclick: () => confirm(`Remove ${f.name} from your friends?`) && this.ui.act(() => chat.unfriend(id)) }, "Remove friend"),
        chat.client.offers("block")
          ? h("button", { class: "danger small", type: "button", onclick: () => confirm(`Block ${f.name}?`) && this.ui.act(() => chat.block(id)) }, "Block")
          : null,
      ),
    ];
  }

  #group(id: number): Node[] {
    const { chat } = this.ui;
    const g = chat.groups.get(id);
    if (!g) return [h("h3", {}, chat.nameOf(`g:${id}`)), h("p", { class: "desc" }, "You are not a member of this group.")];
    const admin = chat.client.offers("group_admin");
    const mine = g.role;
    const nodes: Node[] = [h("h3", { dir: "auto" }, g.name), h("p", { class: "role" }, `group id ${g.id} · you are ${mine}`)];
    if (g.desc) nodes.push(h("p", { class: "desc", dir: "auto" }, g.desc));
    if (admin && RANK[mine] >= 1) {
      const name = h("input", { "aria-label": "Group name", value: g.name, maxlength: 64, required: true });
      const desc = h("input", { "aria-label": "Group description", value: g.desc, maxlength: 256 });
      nodes.push(
        h("h4", {}, "Name and description"),
        h(
          "form",
          {
            "aria-label": "Rename the group",
            onsubmit: (e) => {
              e.preventDefault();
              void this.ui.act(() => chat.updateGroup(id, name.value.trim(), desc.value.trim()));
            },
          },
          name,
          desc,
          h("button", { type: "submit", class: "small" }, "Save"),
        ),
      );
    }
    const members = [...g.members].sort((a, b) => RANK[b.role] - RANK[a.role] || Number(b.online) - Number(a.online) || a.name.localeCompare(b.name));
    nodes.push(
      h("h4", {}, `Members (${members.length}, ${members.filter((m) => m.online).length} online)`),
      h("ul", { "aria-label": "Members" }, ...members.map((m) => this.#member(id, mine, m, admin))),
    );
    nodes.push(
      h("h4", {}, "Leave"),
      h(
        "div",
        { class: "row" },
        h("button", { class: "danger small", type: "button", onclick: () => confirm(`Leave ${g.name}?`) && this.ui.act(() => chat.leaveGroup(id)) }, "Leave group"),
        admin && mine === "creator"
          ? h("button", { class: "danger small", type: "button", onclick: () => confirm(`Delete ${g.name} and all its messages?`) && this.ui.act(() => chat.deleteGroup(id)) }, "Delete group")
          : null,
      ),
    );
    return nodes;
  }

  #member(group: number, mine: GroupRole, m: GroupMember, admin: boolean): HTMLElement {
    const { chat } = this.ui;
    const self = m.id === chat.me?.id;
    // The creator acts on anyone, an admin on normal members only (PROTOCOL.md, group administration).
    const canKick = admin && !self && (mine === "creator" || (mine === "admin" && m.role === "normal"));
    const canRole = admin && !self && mine === "creator";
    return h(
      "li",
      { "data-user": m.id, "aria-label": `${m.name}, ${m.role}, ${m.online ? "online" : "offline"}` },
      h(
        "div",
        { class: "member-line" },
        h("span", { class: m.online ? "dot online" : "dot", "aria-hidden": "true" }),
        h("span", { class: "person-name", dir: "auto" }, m.name, self ? " (you)" : ""),
        h("span", { class: "role" }, m.role),
      ),
      canRole || canKick ? h("div", { class: "row" }, ...this.#memberActions(group, m, canRole, canKick)) : null,
    );
  }

  #memberActions(group: number, m: GroupMember, canRole: boolean, canKick: boolean): Array<HTMLElement | null> {
    const { chat } = this.ui;
    return [
      canRole
        ? h(
            "button",
            {
              class: "secondary small",
              type: "button",
              "aria-label": m.role === "admin" ? `Make ${m.name} a normal member` : `Make ${m.name} an admin`,
              onclick: () => this.ui.act(() => chat.setRole(group, m.id, m.role === "admin" ? "normal" : "admin")),
            },
            m.role === "admin" ? "Unadmin" : "Make admin",
          )
        : null,
      canKick ? h("button", { class: "danger small", type: "button", "aria-label": `Remove ${m.name} from the group`, onclick: () => this.ui.act(() => chat.kick(group, m.id, false)) }, "Kick") : null,
      canKick
        ? h("button", { class: "danger small", type: "button", "aria-label": `Ban ${m.name}`, onclick: () => confirm(`Ban ${m.name} from the group?`) && this.ui.act(() => chat.kick(group, m.id, true)) }, "Ban")
        : null,
    ];
  }
}
