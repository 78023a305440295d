// The review page's extras: keys, the labelled counter, the enlarged view, the queue's keys,
// the page-wide "fetch alternatives" and ONE place that handles failed htmx requests.
// Everything here is an extra: the page works without it through plain forms and links.
(function () {
  "use strict";
  const inQueue = () => document.body.hasAttribute("data-queue");

  function tiles() {
    return Array.from(document.querySelectorAll("[data-tile]"));
  }

  // POIs with at least one label among those on the page (not images: fetching a POI's
  // alternatives must not change the count).
  function updateCounter() {
    const cards = Array.from(document.querySelectorAll(".poi-card"));
    const labelled = cards.filter((c) => c.querySelector(".marked")).length;
    const done = document.getElementById("counter-labelled");
    const total = document.getElementById("counter-total");
    if (done) done.textContent = String(labelled);
    if (total) total.textContent = String(cards.length);
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

  // -- the enlarged view: the image and the one it competes with, at the same size ------

  let viewing = []; // the tiles shown, [current, candidate] (or one)
  let active = 0; // which of them the keys act on

  function partnerOf(tile) {
    const card = tile.closest(".poi-card");
    if (!card) return null;
    if (!tile.classList.contains("tile-current")) return card.querySelector(".tile-current");
    return Array.from(card.querySelectorAll(".tile-candidate")).find((t) => !t.closest("details")) || null;
  }

  function scoreText(tile) {
    const score = tile.querySelector(".score");
    return score ? score.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function showSide(index, tile) {
    const side = document.getElementById(index === 0 ? "viewer-a" : "viewer-b");
    side.hidden = !tile;
    if (!tile) return;
    const img = side.querySelector("img");
    img.src = tile.querySelector("[data-enlarge]").getAttribute("href");
    img.alt = tile.querySelector("img").alt;
    side.querySelector("figcaption").textContent = img.alt + (scoreText(tile) ? " · " + scoreText(tile) : "");
  }

  function markActive() {
    ["viewer-a", "viewer-b"].forEach((id, i) => {
      document.getElementById(id).classList.toggle("active", i === active && viewing.length > 1);
    });
  }

  function enlarge(tile) {
    const dialog = document.getElementById("viewer");
    if (!dialog || !tile || !tile.querySelector("[data-enlarge]")) return false;
    const partner = partnerOf(tile);
    const current = tile.classList.contains("tile-current") ? tile : partner;
    const other = current === tile ? partner : tile;
    viewing = [current, other].filter((t) => t && t.querySelector("[data-enlarge]"));
    active = Math.max(0, viewing.indexOf(tile));
    dialog.classList.toggle("single", viewing.length < 2);
    showSide(0, viewing[0]);
    showSide(1, viewing[1]);
    markActive();
    if (!dialog.open) dialog.showModal();
    return true;
  }

  function closeViewer() {
    const dialog = document.getElementById("viewer");
    if (dialog && dialog.open) dialog.close();
  }

  // Keys in the enlarged view act on the highlighted image, as on the page.
  function viewerKey(key) {
    const tile = viewing[active];
    if (key === "ArrowLeft" || key === "ArrowRight") {
      if (viewing.length > 1) active = key === "ArrowLeft" ? 0 : 1;
      markActive();
      return true;
    }
    if (key === "z") { closeViewer(); return true; }
    if (key === "g" || key === "b") {
      closeViewer();
      if (tile) tile.focus();
      return label(key === "g" ? "good" : "bad");
    }
    if (/^[1-9]$/.test(key) || key === "c") {
      closeViewer();
      if (key === "c" && tile) tile.focus();
      return key === "c" ? candidateUse() : candidateUse(Number(key) - 1);
    }
    return false;
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("[data-enlarge]");
    if (link && enlarge(link.closest("[data-tile]"))) event.preventDefault();
    const dialog = document.getElementById("viewer");
    if (dialog && event.target === dialog) dialog.close(); // a click beside the images
  });

  // -- keys -----------------------------------------------------------------------------

  function label(value) {
    // The queue: with no image focused, g/b are for the current image.
    const tile = focusedTile() || (inQueue() ? document.querySelector("#queue .tile-current") : null);
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
    const dialog = document.getElementById("viewer");
    if (dialog && dialog.open) {
      if (viewerKey(event.key)) event.preventDefault();
      return;
    }
    if (target && target.closest && target.closest("input, select, textarea, [contenteditable]")) return;
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

  // -- a label not yet saved survives a sign-in and a reload --------------------------------
  // A label or choice is kept in this tab (sessionStorage) until the server answers it;
  // if the session expired (sent to sign in) or the CSRF token changed (reload), the page
  // offers it again once back, and sends it only when the curator says so.

  const PENDING = "image_ranking.pending";
  const ACTION_FORMS = "form[data-label-form], form[data-use], form[data-offer]";

  function describe(form, values) {
    const tile = form.closest("[data-tile]");
    const what = tile ? tile.querySelector("img").alt : "this POI";
    const verb = values.label || values.action;
    return verb ? verb.charAt(0).toUpperCase() + verb.slice(1) + " on " + what : "Use " + what;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest(ACTION_FORMS);
    if (!form || event.detail.verb !== "post") return;
    const values = {};
    const data = event.detail.formData || new FormData(form);
    data.forEach((value, name) => { if (name !== "csrfmiddlewaretoken") values[name] = value; });
    const pending = {
      url: event.detail.path, values, what: describe(form, values), page: location.pathname,
      target: form.getAttribute("hx-target") || "", swap: form.getAttribute("hx-swap") || "outerHTML",
    };
    sessionStorage.setItem(PENDING, JSON.stringify(pending));
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const xhr = event.detail.xhr;
    // Sent to sign in (HX-Redirect) or refused: still pending.
    if (event.detail.successful && xhr && !xhr.getResponseHeader("HX-Redirect")) {
      sessionStorage.removeItem(PENDING);
      const offered = document.getElementById("pending-label");
      if (offered) offered.remove(); // labelled again by hand: nothing pending any more
      // An action offered again went through: the refusal above it is history.
      const offer = event.detail.elt.closest && event.detail.elt.closest("form[data-offer]");
      const box = offer && offer.closest(".card-alert");
      if (box) box.replaceChildren();
    }
  });

  function resend(pending) {
    sessionStorage.removeItem(PENDING);
    const target = pending.target && document.querySelector(pending.target);
    if (target) {
      return htmx.ajax("POST", pending.url, { source: document.body, target, swap: pending.swap, values: pending.values });
    }
    // The image is not on this page as loaded (alternatives not fetched): send, then reload.
    const body = new URLSearchParams(pending.values);
    const token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    return fetch(pending.url, { method: "POST", body, headers: { "X-CSRFToken": token, "HX-Request": "true" } })
      .then(() => window.location.reload());
  }

  function offerPending() {
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(PENDING) || "null"); } catch (error) { pending = null; }
    if (!pending || pending.page !== location.pathname) return;
    const box = document.getElementById("page-alert");
    if (!box) return;
    box.hidden = false;
    box.replaceChildren();
    const p = document.createElement("p");
    p.className = "pending";
    p.id = "pending-label";
    p.textContent = "Not saved yet: " + pending.what + " (your session ended or changed before it was sent). ";
    const send = document.createElement("button");
    send.type = "button";
    send.textContent = "Send it now";
    send.addEventListener("click", () => { box.replaceChildren(); box.hidden = true; resend(pending); });
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "link";
    drop.textContent = "Discard";
    drop.addEventListener("click", () => { sessionStorage.removeItem(PENDING); box.replaceChildren(); box.hidden = true; });
    p.append(send, " ", drop);
    box.appendChild(p);
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
    offerPending();
    document.body.setAttribute("data-review-ready", ""); // keys work from here on (tests wait)
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
