// Keyboard labelling, the labelled/total counter and the page-wide "fetch alternatives".
// Everything here is an extra: the page works without it through plain forms and links.
(function () {
  "use strict";
  const undoStack = [];

  function tiles() {
    return Array.from(document.querySelectorAll("[data-tile]"));
  }

  function updateCounter() {
    const all = tiles();
    const labelled = all.filter((t) => t.querySelector(".marked")).length;
    const done = document.getElementById("counter-labelled");
    const total = document.getElementById("counter-total");
    if (done) done.textContent = String(labelled);
    if (total) total.textContent = String(all.length);
  }

  function focusedTile() {
    const active = document.activeElement;
    return active ? active.closest("[data-tile]") : null;
  }

  function move(step) {
    const all = tiles();
    if (!all.length) return;
    const index = all.indexOf(focusedTile());
    const next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    all[next].focus();
    all[next].scrollIntoView({ block: "nearest" });
  }

  function label(value) {
    const tile = focusedTile();
    const button = tile && tile.querySelector('button[data-label="' + value + '"]');
    if (button) button.click();
  }

  function undo() {
    while (undoStack.length) {
      const key = undoStack.pop();
      const button = document.querySelector("#label-" + CSS.escape(key) + " form[data-undo] button");
      if (button) {
        button.click();
        return;
      }
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && target.closest && target.closest("input, select, textarea, [contenteditable]")) return;
    switch (event.key) {
      case "g": label("good"); break;
      case "b": label("bad"); break;
      case "u": undo(); break;
      case "ArrowRight": case "ArrowDown": move(1); break;
      case "ArrowLeft": case "ArrowUp": move(-1); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const swapped = event.detail.elt;
    if (swapped && swapped.matches && swapped.matches(".label-state") && swapped.querySelector("form[data-undo]")) {
      undoStack.push(swapped.id.replace(/^label-/, ""));
    }
  });
  document.addEventListener("htmx:afterSwap", updateCounter);
  document.addEventListener("htmx:afterSettle", updateCounter);

  async function fetchAll(button) {
    const links = Array.from(document.querySelectorAll("a[data-fetch]"));
    const progress = document.getElementById("fetch-progress");
    const status = document.getElementById("fetch-status");
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    progress.hidden = false;
    progress.max = links.length;
    for (let i = 0; i < links.length; i++) {
      status.textContent = "Fetching " + (i + 1) + " of " + links.length + "…";
      const link = links[i];
      try {
        await htmx.ajax("GET", link.getAttribute("hx-get"), { target: link.getAttribute("hx-target"), swap: "outerHTML" });
      } catch (error) {
        status.textContent = "Stopped: " + error;
        break;
      }
      progress.value = i + 1;
    }
    if (progress.value === links.length) status.textContent = "Fetched alternatives for " + links.length + (links.length === 1 ? " POI." : " POIs.");
    button.removeAttribute("aria-disabled");
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateCounter();
    // Without JavaScript the link opens the page with every card's alternatives (one
    // long request); here the cards are fetched one by one with a progress bar.
    const button = document.getElementById("fetch-all");
    if (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        fetchAll(button);
      });
    }
  });
})();
