// The review page's extras: keys, the labelled counter, the enlarged view, the queue's keys,
// the page-wide "fetch alternatives" and ONE place that handles failed htmx requests.
// Everything here is an extra: the page works without it through plain forms and links.
(function () {
  "use strict";
  const inQueue = () => document.body.hasAttribute("data-queue");

  function tiles() {
    return Array.from(document.querySelectorAll("[data-tile]"));
  }

  function updateCounter() {
    const all = tiles().filter((t) => !t.closest("details"));
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
    const all = tiles().filter((t) => t.offsetParent !== null);
    if (!all.length) return;
    const index = all.indexOf(focusedTile());
    const next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    all[next].focus();
    all[next].scrollIntoView({ block: "nearest" });
  }

  function click(element) {
    if (element) element.click();
    return Boolean(element);
  }

  // -- failures: one handler for every htmx request --------------------------------------

  function alertBox(elt) {
    const card = elt && elt.closest ? elt.closest(".poi-card") : null;
    return (card && card.querySelector(".card-alert")) || document.getElementById("page-alert");
  }

  function showFailure(elt, text, action) {
    const box = alertBox(elt);
    if (!box) return;
    box.hidden = false;
    box.replaceChildren();
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = text + " ";
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "retry";
      button.textContent = action.label;
      button.addEventListener("click", function () {
        box.replaceChildren();
        action.run();
      });
      p.appendChild(button);
    }
    box.appendChild(p);
  }

  function retryOf(detail) {
    const config = detail.requestConfig || {};
    const values = config.formData ? Object.fromEntries(config.formData) : {};
    return {
      label: "Retry",
      run: () => htmx.ajax(config.verb || "GET", config.path, {
        source: detail.elt, target: detail.target, swap: detail.elt.getAttribute("hx-swap") || "outerHTML", values,
      }),
    };
  }

  const reload = { label: "Reload the page", run: () => window.location.reload() };

  // With DEBUG on, django-htmx's debug script replaces the whole page with any 4xx body.
  // Messages meant for curators (plain text) are shown in the card instead: stop the
  // event on its way down, before that script's listener sees it (htmx carries on).
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    const xhr = event.detail.xhr;
    const plain = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain");
    if (xhr.status >= 400 && plain) event.stopPropagation();
  }, true);

  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    const plain = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain");
    const said = plain && xhr.responseText.length < 400 ? xhr.responseText.trim() : "";
    if (xhr.getResponseHeader("X-Reload-Needed")) {
      showFailure(event.detail.elt, said || "Your session changed. Reload the page.", reload);
      return;
    }
    const text = said ? said + "." : "The server answered " + xhr.status + "; nothing was changed.";
    showFailure(event.detail.elt, text.replace(/\.\.$/, "."), retryOf(event.detail));
  });
  document.addEventListener("htmx:sendError", function (event) {
    showFailure(event.detail.elt, "Could not reach the server; nothing was changed.", retryOf(event.detail));
  });
  document.addEventListener("htmx:timeout", function (event) {
    showFailure(event.detail.elt, "The server did not answer in time; nothing was changed.", retryOf(event.detail));
  });
  document.addEventListener("htmx:targetError", function (event) {
    if (event.detail.elt && event.detail.elt.id === "undo-last") {
      showFailure(event.detail.elt, "Your last label was undone (it was on another page).", null);
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    const box = alertBox(event.detail.elt);
    if (box && box.id === "page-alert") box.hidden = true;
  });

  // -- the enlarged view ----------------------------------------------------------------

  function enlarge(tile) {
    const dialog = document.getElementById("viewer");
    const link = tile && tile.querySelector("[data-enlarge]");
    if (!dialog || !link) return false;
    const img = document.getElementById("viewer-img");
    img.src = link.getAttribute("href");
    img.alt = tile.querySelector("img").alt;
    document.getElementById("viewer-caption").textContent = img.alt;
    dialog.showModal();
    return true;
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("[data-enlarge]");
    if (link && enlarge(link.closest("[data-tile]"))) event.preventDefault();
    const dialog = document.getElementById("viewer");
    if (dialog && event.target === dialog) dialog.close(); // a click beside the image
  });

  // -- keys -----------------------------------------------------------------------------

  function label(value) {
    const tile = focusedTile();
    if (inQueue() && (!tile || tile.classList.contains("tile-current"))) {
      return click(document.querySelector('[data-queue="' + value + '"]'));
    }
    return click(tile && tile.querySelector('button[data-label="' + value + '"]'));
  }

  function candidateUse(index) {
    const candidates = tiles().filter((t) => t.classList.contains("tile-candidate") && !t.closest("details"));
    const tile = index === undefined ? focusedTile() : candidates[index];
    return click(tile && tile.querySelector("form[data-use] button"));
  }

  function undo() {
    if (inQueue()) return click(document.querySelector('[data-queue="undo"]'));
    // The curator's newest label, kept on the server: works after a reload too.
    const form = document.getElementById("undo-last");
    if (form) htmx.trigger(form, "submit");
    return Boolean(form);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && target.closest && target.closest("input, select, textarea, [contenteditable], dialog[open]")) return;
    let done = true;
    switch (event.key) {
      case "g": done = label("good"); break;
      case "b": done = label("bad"); break;
      case "u": done = undo(); break;
      case "s": done = inQueue() && click(document.querySelector('[data-queue="skip"]')); break;
      case "c": done = candidateUse(); break;
      case "z": done = enlarge(focusedTile()); break;
      case "ArrowRight": case "ArrowDown": move(1); break;
      case "ArrowLeft": case "ArrowUp": move(-1); break;
      default:
        done = inQueue() && /^[1-9]$/.test(event.key) && candidateUse(Number(event.key) - 1);
    }
    if (done) event.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    updateCounter();
    // The queue moved on (or back): focus the new POI's current image for the next key.
    if (event.detail.elt && event.detail.elt.id === "queue") focusFirst();
  });
  document.addEventListener("htmx:afterSettle", updateCounter);

  function focusFirst() {
    const first = document.querySelector("#queue [data-tile]");
    if (first) first.focus();
  }

  // -- fetch alternatives for the whole page, card by card --------------------------------

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
        await htmx.ajax("GET", link.getAttribute("hx-get"), { source: link, target: link.getAttribute("hx-target"), swap: "outerHTML" });
      } catch (error) {
        status.textContent = "Stopped: could not reach the server.";
        break;
      }
      progress.value = i + 1;
    }
    if (progress.value === links.length) status.textContent = "Fetched alternatives for " + links.length + (links.length === 1 ? " POI." : " POIs.");
    button.removeAttribute("aria-disabled");
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateCounter();
    if (inQueue()) focusFirst();
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
