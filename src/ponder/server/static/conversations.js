// The conversation list beside the chat: New chat, then the saved conversations, most
// recently active first, each titled by its first message. Every item is a button (Tab
// reaches the list, the arrow keys move within it, Enter opens); Delete asks once, inline.

import { h } from "./util.js";

const TITLE_CHARS = 80;

export function titleOf(prompt) {
  const line = String(prompt || "").replace(/\s+/g, " ").trim();
  if (!line) return "Untitled";
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line;
}

// "just now", "5 min ago", "14:02", "yesterday", "3 Nov"
export function whenText(unixSeconds, now = Date.now()) {
  const at = new Date(unixSeconds * 1000);
  const ago = (now - at.getTime()) / 1000;
  if (ago < 60) return "just now";
  if (ago < 3600) return `${Math.floor(ago / 60)} min ago`;
  const today = new Date(now);
  if (at.toDateString() === today.toDateString()) return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const yesterday = new Date(now - 86400000);
  if (at.toDateString() === yesterday.toDateString()) return "yesterday";
  return at.toLocaleDateString([], { day: "numeric", month: "short" });
}

export class ConversationList {
  // onOpen(id), onNew(), onDelete(id) -> Promise (rejects with a message to show)
  constructor(root, { onOpen, onNew, onDelete }) {
    this.root = root;
    this.listEl = root.querySelector("#conversation-list");
    this.emptyEl = root.querySelector("#conversations-empty");
    this.errorEl = root.querySelector("#conversations-error");
    this.newButton = root.querySelector("#new-chat");
    this.onOpen = onOpen;
    this.onDelete = onDelete;
    this.items = []; // {id, title, updated_at}
    this.current = null;
    this.busy = false;
    this.newButton.addEventListener("click", () => onNew());
    this.listEl.addEventListener("keydown", (event) => this.arrowKeys(event));
  }

  set(items) {
    this.items = items.map((c) => ({ id: c.id, title: c.title, updated_at: c.updated_at }));
    this.render();
  }

  // This tab's conversation just had a turn: first in the list, with its (new) title.
  touch(id, title) {
    const kept = this.items.filter((c) => c.id !== id);
    this.items = [{ id, title, updated_at: Date.now() / 1000 }, ...kept];
    this.current = id;
    this.render();
  }

  select(id) {
    this.current = id;
    for (const button of this.listEl.querySelectorAll(".conv-open")) {
      if (button.dataset.id === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  setBusy(busy) {
    this.busy = busy;
    this.newButton.disabled = busy;
    for (const button of this.listEl.querySelectorAll("button")) button.disabled = busy;
  }

  render() {
    const rows = this.items.map((c) => this.row(c));
    this.listEl.replaceChildren(...rows);
    this.emptyEl.hidden = rows.length > 0;
    this.select(this.current);
    this.setBusy(this.busy);
  }

  row(c) {
    const title = titleOf(c.title);
    const open = h(
      "button",
      { type: "button", class: "conv-open", dataset: { id: c.id }, title, onclick: () => this.onOpen(c.id) },
      h("span", { class: "conv-title", text: title }),
      h("span", { class: "conv-when", text: whenText(c.updated_at) }),
    );
    const item = h("li", { class: "conv-item", dataset: { id: c.id } });
    const remove = h("button", { type: "button", class: "conv-delete", "aria-label": `Delete “${title}”`, title: "Delete this conversation", text: "×", onclick: () => this.confirm(item, c, title) });
    item.append(open, remove);
    return item;
  }

  // Deleting is for good (its requests leave History too): ask once, in place.
  confirm(item, c, title) {
    const keep = h("button", { type: "button", class: "conv-keep", text: "Keep", onclick: () => {
      item.replaceWith(this.row(c));
      this.select(this.current);
      this.listEl.querySelector(`.conv-item[data-id="${c.id}"] .conv-delete`)?.focus();
    } });
    const yes = h("button", { type: "button", class: "conv-confirm danger", text: "Delete", onclick: async () => {
      yes.disabled = keep.disabled = true;
      try {
        await this.onDelete(c.id);
        this.items = this.items.filter((x) => x.id !== c.id);
        this.errorEl.hidden = true;
        this.render();
        this.newButton.focus();
      } catch (e) {
        this.errorEl.textContent = `Could not delete “${title}”: ${e.message || e}`;
        this.errorEl.hidden = false;
        yes.disabled = keep.disabled = false;
      }
    } });
    item.replaceChildren(h("span", { class: "conv-ask", text: `Delete “${title}” and its requests?` }), h("span", { class: "conv-ask-actions" }, yes, keep));
    item.classList.add("asking");
    yes.focus();
  }

  arrowKeys(event) {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    const buttons = [...this.listEl.querySelectorAll(".conv-open")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0 || !buttons.length) return;
    event.preventDefault();
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  }
}
