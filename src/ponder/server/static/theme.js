// Applies the saved light/dark choice before first paint (no inline script: the page's CSP
// forbids it). Without a saved choice the page follows prefers-color-scheme.
(function () {
  try {
    var saved = localStorage.getItem("ponder-theme");
    if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
  } catch (e) { /* storage unavailable: follow the system */ }
})();
