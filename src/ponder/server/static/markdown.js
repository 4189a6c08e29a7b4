// Markdown for answers: marked -> DOMPurify -> DOM. Thoughts never come here (they are
// plain text). Three independent guards keep model output inert:
//  1. raw HTML in the Markdown is rendered as visible text, never as markup;
//  2. DOMPurify with an allow-list of tags and attributes, URLs limited to http(s), mailto and
//     in-page anchors, classes limited to highlight.js's own;
//  3. the page's Content-Security-Policy forbids inline scripts and event handlers anyway.
// Images are shown as a text reference, not fetched (an image URL can leak data).

import { Marked } from "./vendor/marked.esm.js";
import DOMPurify from "./vendor/purify.es.js";
import hljs from "./vendor/hljs/core.min.js";
import bash from "./vendor/hljs/languages/bash.min.js";
import javascript from "./vendor/hljs/languages/javascript.min.js";
import json from "./vendor/hljs/languages/json.min.js";
import python from "./vendor/hljs/languages/python.min.js";
import sql from "./vendor/hljs/languages/sql.min.js";
import typescript from "./vendor/hljs/languages/typescript.min.js";
import xml from "./vendor/hljs/languages/xml.min.js";

for (const [name, lang] of Object.entries({ bash, javascript, json, python, sql, typescript, xml })) {
  hljs.registerLanguage(name, lang);
}
hljs.registerAliases(["sh", "shell", "console"], { languageName: "bash" });
hljs.registerAliases(["js"], { languageName: "javascript" });
hljs.registerAliases(["ts"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });

export function escapeHtml(text) {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function highlight(code, lang) {
  const language = (lang || "").trim().split(/\s+/)[0].toLowerCase();
  try {
    if (language && hljs.getLanguage(language)) {
      return { html: hljs.highlight(code, { language, ignoreIllegals: true }).value, language };
    }
    if (!language && code.length < 20000) {
      const auto = hljs.highlightAuto(code);
      if (auto.relevance >= 5) return { html: auto.value, language: auto.language };
    }
  } catch (e) {
    /* fall through to plain text */
  }
  return { html: escapeHtml(code), language: language || "" };
}

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    image({ href, text }) {
      const label = text ? `image: ${text}` : "image";
      return `<span class="image-ref" title="${escapeHtml(href || "")}">[${escapeHtml(label)}]</span>`;
    },
    code({ text, lang }) {
      const { html, language } = highlight(text.replace(/\n$/, ""), lang);
      const cls = language ? `hljs language-${escapeHtml(language)}` : "hljs";
      return `<pre><code class="${cls}">${html}</code></pre>\n`;
    },
  },
});

const ALLOWED_TAGS = [
  "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
const PURIFY = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ["href", "title", "class", "start", "align"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.hasAttribute && node.hasAttribute("class")) {
    const kept = node.getAttribute("class").split(/\s+/).filter((c) => /^(hljs|language-)[\w-]*$/.test(c));
    if (kept.length) node.setAttribute("class", kept.join(" "));
    else node.removeAttribute("class");
  }
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!/^(?:https?:|mailto:|#)/i.test(href)) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

// Render `text` as Markdown into `el`, replacing what was there.
export function renderMarkdown(el, text) {
  let fragment;
  try {
    fragment = DOMPurify.sanitize(marked.parse(text), PURIFY);
  } catch (e) {
    el.textContent = text; // never fail open: plain text is always safe
    return;
  }
  el.replaceChildren(fragment);
}
