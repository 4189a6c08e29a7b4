// Small DOM and formatting helpers. Every string from the server or a model goes into the
// page as a text node (h() children, textContent) — never as HTML. The one exception is
// Markdown, rendered and sanitised in markdown.js.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fmtMs(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

// "4.2 s" style for the live thinking counter: one decimal, always seconds.
export function fmtSeconds(ms) {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

// "Thought for 7 s": whole seconds once it is long enough to not need decimals.
export function fmtDuration(ms) {
  if (ms < 10000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 1000)} s`;
}

export function fmtTps(v) {
  return v === undefined || v === null || !Number.isFinite(v) ? "—" : `${v.toFixed(v < 10 ? 1 : 0)} tok/s`;
}

export function fmtInt(n) {
  return n === undefined || n === null ? "—" : Math.round(n).toLocaleString("en-US");
}

export function plural(n, word) {
  return `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;
}

export function pick(obj, ...keys) {
  for (const key of keys) {
    if (obj && obj[key] !== undefined && obj[key] !== null) return obj[key];
  }
  return undefined;
}

// USD as the meters show it: "$0.0042", "free", or "—" when unknown.
export function fmtUsd(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  const v = Number(value);
  if (v === 0) return "free";
  if (v >= 1) return `$${v.toFixed(2)}`;
  if (v >= 0.01) return `$${v.toFixed(3)}`;
  return v < 0.0001 ? `$${v.toPrecision(2)}` : `$${v.toFixed(4)}`;
}
