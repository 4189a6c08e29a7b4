// What a person can do with a turn of the chat: edit a message and send it again (the chat
// goes on from there), or regenerate the last reply in any mode.

import { h } from "./util.js";

const MODES = [
  ["fast", "Fast", "Answer directly, no thinking"],
  ["deep", "Deep", "Think first, then answer"],
  ["auto", "Auto", "The router chooses"],
];

// A user message with an Edit button. `onEdit(text)` sends the edited text (it returns false
// when it cannot, e.g. while a reply streams; the editor then stays open).
export function userBubble(text, { onEdit = null } = {}) {
  const bubble = h("div", { class: "bubble", text });
  const el = h("article", { class: "msg user" }, bubble);
  if (!onEdit) return el;
  // Its visible word comes from CSS, so the message's own text stays just the message.
  const edit = h("button", { type: "button", class: "edit-message", "aria-label": "Edit this message and send it again", title: "Edit and send again: the replies after it are replaced" });
  el.prepend(edit);
  edit.addEventListener("click", () => openEditor(el, bubble, edit, text, onEdit));
  return el;
}

function openEditor(el, bubble, edit, text, onEdit) {
  const area = h("textarea", { class: "edit-text", rows: "2", "aria-label": "Edited message" });
  area.value = text;
  const close = () => {
    editor.remove();
    bubble.hidden = false;
    edit.hidden = false;
    edit.focus();
  };
  const submit = () => {
    if (!area.value.trim()) return;
    if (onEdit(area.value) === false) return;
  };
  const send = h("button", { type: "button", class: "primary edit-send", text: "Send", onclick: submit });
  const cancel = h("button", { type: "button", class: "ghost edit-cancel", text: "Cancel", onclick: close });
  const editor = h(
    "div",
    { class: "editor" },
    area,
    h("div", { class: "editor-bar" }, h("span", { class: "hint", text: "Enter sends · Esc cancels · the replies after this message are replaced" }), cancel, send),
  );
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  bubble.hidden = true;
  edit.hidden = true;
  el.append(editor);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

// "Regenerate as Fast · Deep · Auto": one button per mode, the mode chosen now.
export function regenerateBar(onPick) {
  return h(
    "div",
    { class: "regen", role: "group", "aria-label": "Regenerate this reply" },
    h("span", { class: "regen-label", "aria-hidden": "true", text: "↻ Regenerate as" }),
    MODES.map(([mode, label, help]) =>
      h("button", { type: "button", class: `regen-mode regen-${mode}`, dataset: { mode }, text: label, title: help, "aria-label": `Regenerate as ${label}`, onclick: () => onPick(mode) }),
    ),
  );
}
