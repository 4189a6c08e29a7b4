// ponder's web UI: chat, race and history views. Vanilla ES modules, no build step.

import { AssistantView } from "./message.js";
import { HttpError, postJSON, setApiKey, streamChat } from "./stream.js";
import { h } from "./util.js";
import { RaceView } from "./race.js";
import { HistoryView } from "./history.js";
import { WaitHint } from "./estimate.js";
import { deleteConversation, listConversations, newConversationId, rememberConversation, replay, savedTurns, storedConversationId } from "./conversation.js";
import { ConversationList } from "./conversations.js";
import { regenerateBar, userBubble } from "./turns.js";

export const EXAMPLES = [
  { label: "347 × 28", prompt: "What is 347 × 28?" },
  { label: "4821 times 37", prompt: "compute 4821 times 37" },
  { label: "7305 − 2948", prompt: "What is 7305 − 2948?" },
  {
    label: "Top spenders",
    prompt:
      "Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. Who are the top 2 spenders, excluding customers who refunded more than half of their orders?",
  },
];

// --- theme -----------------------------------------------------------------------------------

const themeButton = document.getElementById("theme-toggle");
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function currentTheme() {
  return document.documentElement.dataset.theme || (darkQuery.matches ? "dark" : "light");
}

function syncThemeButton() {
  const dark = currentTheme() === "dark";
  themeButton.setAttribute("aria-label", dark ? "Switch to light mode" : "Switch to dark mode");
  themeButton.dataset.current = currentTheme();
}

themeButton.addEventListener("click", () => {
  const next = currentTheme() === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  try {
    localStorage.setItem("ponder-theme", next);
  } catch (e) {
    /* private mode: the choice lasts for this page */
  }
  syncThemeButton();
});
darkQuery.addEventListener("change", syncThemeButton);
syncThemeButton();

// --- API key (only when the gateway was started with PONDER_API_KEY) -------------------------

const authBar = document.getElementById("auth-bar");
window.addEventListener("ponder:auth-required", () => {
  authBar.hidden = false;
  authBar.elements.key.focus();
});
authBar.addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(authBar.elements.key.value.trim());
  authBar.elements.key.value = "";
  authBar.hidden = true;
  if (views.history) views.history.loadModels();
  restoreChat(); // what the refused first calls could not read
});

// --- views -----------------------------------------------------------------------------------

const views = {};
const tabs = [...document.querySelectorAll(".tab")];

function show(name) {
  for (const tab of tabs) {
    const active = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = active ? 0 : -1;
    document.getElementById(`view-${tab.dataset.view}`).hidden = !active;
  }
  document.body.dataset.view = name;
  if (views[name] && views[name].shown) views[name].shown();
  if (location.hash !== `#${name}`) history.replaceState(null, "", name === "chat" ? location.pathname : `#${name}`);
}

for (const tab of tabs) tab.addEventListener("click", () => show(tab.dataset.view));
// The tab list is one stop for Tab; the arrow keys (and Home/End) move between its tabs.
document.querySelector(".tabs").addEventListener("keydown", (event) => {
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  show(tab.dataset.view);
  tab.focus();
});
window.addEventListener("hashchange", () => show(location.hash.slice(1) || "chat"));

// --- chat ------------------------------------------------------------------------------------
// The chat is a list of turns ({prompt, userEl, view}); the context of turn k is the turns
// before it. Each request names its conversation and its turn (x-ponder-conversation,
// x-ponder-turn): regenerating a reply or sending an edited message asks for turn k again,
// and the store's conversation drops turn k and what came after (as the page does).

const log = document.getElementById("chat-log");
const emptyEl = document.getElementById("chat-empty"); // the welcome, in the page only while the chat is empty

function showEmpty(empty) {
  if (empty && !emptyEl.isConnected) log.prepend(emptyEl);
  else if (!empty) emptyEl.remove();
}
const form = document.getElementById("composer");
const promptEl = document.getElementById("prompt");
const sendButton = document.getElementById("send");
const stopButton = document.getElementById("stop");
const waitHint = new WaitHint(document.getElementById("wait-hint"));
const chat = { id: storedConversationId(), turns: [] };
let current = null; // {controller, view}
let stick = true; // follow the stream unless the person scrolled up to read
let opening = 0; // the latest conversation asked for (a slow load never overwrites a newer one)
let loading = Promise.resolve(); // a conversation being opened: a send waits for it
log.addEventListener("scroll", () => (stick = nearBottom()), { passive: true });

const sidebar = document.getElementById("conversations");
const sidebarToggle = document.getElementById("conversations-toggle");
function showSidebar(open) {
  sidebar.classList.toggle("open", open);
  sidebarToggle.setAttribute("aria-expanded", String(open));
  if (open) (sidebar.querySelector('.conv-open[aria-current="true"]') || document.getElementById("new-chat")).focus();
}
sidebarToggle.addEventListener("click", () => showSidebar(!sidebar.classList.contains("open")));
sidebar.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !sidebar.classList.contains("open")) return;
  event.stopPropagation();
  showSidebar(false);
  sidebarToggle.focus();
});

const list = new ConversationList(sidebar, {
  onOpen: (id) => {
    showSidebar(false);
    openConversation(id);
  },
  onNew: () => {
    showSidebar(false);
    newConversation();
  },
  onDelete: async (id) => {
    await deleteConversation(id);
    if (id === chat.id) newConversation();
  },
});

function selectedMode() {
  const checked = form.querySelector('input[name="mode"]:checked');
  return checked ? checked.value : "auto";
}

function autosize(el) {
  el.style.height = "auto";
  el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
}

function followBottom(stick) {
  if (stick) log.scrollTop = log.scrollHeight;
}

function setBusy(busy) {
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  document.body.classList.toggle("busy", busy);
  list.setBusy(busy);
  refreshTurnControls();
}

export async function verifyInto(view, prompt, signal) {
  if (!view.answerText || view.state !== "done" || view.declined) return null;
  try {
    const verdict = await postJSON("/api/verify", { prompt, answer: view.answerText }, signal);
    if (verdict && verdict.verifiable) view.setVerdict(verdict);
    return verdict;
  } catch (e) {
    return null;
  }
}

// The messages before turn k, as the model sees them.
function contextBefore(k) {
  const messages = [];
  for (const turn of chat.turns.slice(0, k)) {
    messages.push({ role: "user", content: turn.prompt });
    const answer = turn.view.answerText;
    if (answer) messages.push({ role: "assistant", content: answer });
  }
  return messages;
}

// Drop turn k and every turn after it, from the page and from the context.
function dropFrom(k) {
  for (const turn of chat.turns.splice(k)) {
    turn.userEl.remove();
    turn.view.el.remove();
    turn.view.dispose();
  }
}

function clearChat() {
  dropFrom(0);
  log.querySelectorAll("article.msg").forEach((el) => el.remove()); // replaced turns kept on view
  showEmpty(true);
}

function addTurn(prompt, view) {
  const turn = { prompt, view, userEl: null };
  turn.userEl = userBubble(prompt, { onEdit: (text) => editAndResend(turn, text) });
  log.append(turn.userEl, view.el);
  chat.turns.push(turn);
  return turn;
}

// Edit and regenerate are offered on finished turns only, regenerate on the last reply.
function refreshTurnControls() {
  const last = chat.turns.length - 1;
  chat.turns.forEach((turn, k) => {
    const button = turn.userEl.querySelector(".edit-message");
    if (button) button.disabled = Boolean(current);
    if (k === last && !current && ["done", "stopped", "failed"].includes(turn.view.state)) {
      turn.view.setActions(regenerateBar((mode) => regenerate(turn, mode)));
    } else {
      turn.view.setActions(null);
    }
  });
}

function regenerate(turn, mode) {
  const k = chat.turns.indexOf(turn);
  if (k < 0 || current) return;
  send(turn.prompt, { mode, at: k });
}

function editAndResend(turn, text) {
  const k = chat.turns.indexOf(turn);
  if (k < 0 || current || !text.trim()) return false;
  send(text, { at: k });
  return true;
}

// Send `prompt` as turn `at` (default: the next), in `mode` (default: the selector's);
// `keep`: leave the replaced turn on view (Answer fast instead: the person saw it stall).
async function send(prompt, { mode = null, at = chat.turns.length, keep = false } = {}) {
  if (current || !prompt.trim()) return;
  if (keep) {
    for (const turn of chat.turns.splice(at)) { // still on view, no longer in the chat
      turn.userEl.dataset.replaced = turn.view.el.dataset.replaced = "true";
      turn.userEl.querySelector(".edit-message")?.remove();
      turn.view.setActions(null);
    }
  } else dropFrom(at);
  showEmpty(false);
  if (!chat.id) {
    chat.id = newConversationId();
    rememberConversation(chat.id);
  }
  const model = mode || selectedMode();
  stick = true;
  let replaced = false; // "Answer fast instead": this turn gives way to a fast one
  const onStall = {
    stop: () => stopChat(),
    answerFast: () => {
      replaced = true;
      stopChat();
    },
  };
  const view = new AssistantView({ requested: model, onChange: () => followBottom(stick), onStall });
  const messages = [...contextBefore(at), { role: "user", content: prompt }];
  addTurn(prompt, view);
  followBottom(true);
  const controller = new AbortController();
  current = { controller, view };
  setBusy(true);
  list.touch(chat.id, chat.turns[0].prompt);
  waitHint.forPrompt(prompt).then((response) => view.setExpectation(response), () => view.setExpectation(null));
  try {
    const headers = { "x-ponder-conversation": chat.id, "x-ponder-turn": String(at) };
    await streamChat({ model, messages, signal: controller.signal, headers, onEvent: (event) => view.handle(event) });
    if (!["done", "stopped", "failed"].includes(view.state)) view.fail("The stream ended without a finish signal.");
  } catch (error) {
    if (controller.signal.aborted) view.stopped();
    else view.fail(error instanceof HttpError ? error.message : `Connection failed: ${error.message || error}`);
  } finally {
    current = null;
    setBusy(false);
  }
  if (replaced) {
    send(prompt, { mode: "fast", at, keep: true });
    return;
  }
  await verifyInto(view, prompt);
  followBottom(stick);
}

export function stopChat() {
  if (current) current.controller.abort();
}

function newConversation() {
  if (current) return;
  opening += 1;
  chat.id = null;
  rememberConversation(null);
  clearChat();
  list.select(null);
  promptEl.focus();
}

// Show a saved conversation as it stands (its turns replayed from the store).
function openConversation(id) {
  loading = showConversation(id);
  return loading;
}

async function showConversation(id) {
  if (current) return;
  const ticket = ++opening;
  const turns = await savedTurns(id);
  if (ticket !== opening || current) return;
  if (turns === null) { // deleted meanwhile (another tab), or never saved
    if (id === chat.id) newConversation();
    list.set(list.items.filter((c) => c.id !== id));
    return;
  }
  clearChat();
  chat.id = id;
  rememberConversation(id);
  list.select(id);
  showEmpty(turns.length === 0);
  for (const t of turns) {
    const view = new AssistantView({ requested: t.requested_model });
    view.el.dataset.restored = "true";
    addTurn(t.prompt, view);
    replay(view, t);
  }
  refreshTurnControls();
  followBottom(true);
  promptEl.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = promptEl.value;
  if (!prompt.trim() || current) return;
  promptEl.value = "";
  autosize(promptEl);
  loading.then(() => send(prompt));
  waitHint.schedule("");
});

promptEl.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
promptEl.addEventListener("input", () => {
  autosize(promptEl);
  waitHint.schedule(promptEl.value);
});
stopButton.addEventListener("click", stopChat);

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (current) {
    event.preventDefault();
    stopChat();
  }
  if (views.race && views.race.running()) {
    event.preventDefault();
    views.race.stop();
  }
});

const examples = document.getElementById("examples");
for (const example of EXAMPLES) {
  examples.append(
    h("button", {
      type: "button",
      class: "chip",
      text: example.label,
      title: example.prompt,
      onclick: () => {
        promptEl.value = example.prompt;
        autosize(promptEl);
        waitHint.schedule(example.prompt);
        promptEl.focus();
      },
    }),
  );
}

// After a reload: this tab's conversation as it was, and the list of the others.
function restoreChat() {
  if (chat.id) openConversation(chat.id);
  listConversations().then((items) => {
    const local = list.items.filter((c) => !items.some((x) => x.id === c.id)); // sent meanwhile
    list.set([...local, ...items]);
  });
}

views.race = new RaceView(EXAMPLES, verifyInto);
restoreChat();
views.history = new HistoryView();
show(location.hash.slice(1) in { chat: 1, race: 1, history: 1 } ? location.hash.slice(1) : "chat");
promptEl.focus();
