// Tradeoff's only hand-written script: it joins the review room and lets htmx swap in the
// HTML fragments the server renders. It never builds markup itself.
(function () {
  "use strict";

  // Mark the nav link of the step being viewed (the nav itself is shared by everyone).
  function markViewedStep() {
    const section = document.getElementById("step-section");
    document.querySelectorAll("#step-nav a[data-step]").forEach(function (a) {
      a.classList.toggle("viewing", !!section && a.dataset.step === section.dataset.step);
    });
  }
  document.addEventListener("htmx:afterSettle", markViewedStep);
  document.addEventListener("DOMContentLoaded", markViewedStep);

  const first = document.getElementById("workspace");
  if (!first || typeof io === "undefined") return;

  const reviewId = Number(first.dataset.reviewRoom);
  let lastRev = Number(first.dataset.revision || 0);
  let state = ["connecting", "Connecting to the live room…"];
  let everConnected = false;

  // The workspace element is replaced on a resync, so always look it up afresh.
  function workspace() { return document.getElementById("workspace"); }

  function setStatus(name, text) {
    state = [name, text];
    const status = document.getElementById("live-status");
    if (!status) return;
    status.dataset.state = name;
    status.textContent = text;
  }

  function seen(rev) {
    if (typeof rev === "number" && rev > lastRev) lastRev = rev;
  }

  // Swap every top-level element of a pushed fragment into the element with the same id.
  // Broadcasts can arrive out of order: an element never goes back to an older revision.
  const appliedRev = {};
  function swapFragments(html, rev) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    Array.from(holder.content.children).forEach(function (el) {
      const target = el.id && document.getElementById(el.id);
      if (!target) return;
      if (typeof rev === "number") {
        if (appliedRev[el.id] !== undefined && rev < appliedRev[el.id]) return;
        appliedRev[el.id] = rev;
      }
      htmx.swap(target, el.outerHTML, { swapStyle: "outerHTML" });
    });
    markViewedStep();
  }

  // The step the room was moved to that this page has not shown yet. loadStep and resync
  // share htmx's request queue (both sourced on the body), so a resync can run just after the
  // step it raced with has been swapped in: it must fetch that step, not the one being left.
  let pendingStep = null;
  document.addEventListener("htmx:afterSettle", function () {
    const section = document.getElementById("step-section");
    if (section && section.dataset.step === pendingStep) pendingStep = null;
  });

  // Viewer-dependent parts are never pushed: re-fetch them through the ordinary htmx route.
  function loadStep(step) {
    pendingStep = step;
    const url = workspace().dataset.stepUrl.replace("__step__", encodeURIComponent(step));
    return htmx.ajax("GET", url, { target: "#step-section", swap: "outerHTML" }).then(function () {
      history.replaceState(history.state, "", url);
    });
  }

  // Missed something (reconnect, or the heartbeat says the review moved on): re-fetch the
  // whole workspace for the step being viewed (or the one the room is moving this page to).
  function resync() {
    const section = document.getElementById("step-section");
    const step = pendingStep || (section ? section.dataset.step : "");
    const url = workspace().dataset.liveUrl + (step ? "?step=" + encodeURIComponent(step) : "");
    return htmx.ajax("GET", url, { target: "#workspace", swap: "outerHTML" }).then(function () {
      seen(Number(workspace().dataset.revision || 0));
      setStatus(state[0], state[1]);
      markViewedStep();
    });
  }

  // A control whose value differs from the one the server rendered: not saved yet.
  function changed(control) {
    if (control.type === "radio" || control.type === "checkbox") return control.checked !== control.defaultChecked;
    if (control.tagName === "SELECT") {
      return Array.from(control.options).some(function (o) { return o.selected !== o.defaultSelected; });
    }
    return "defaultValue" in control && control.value !== control.defaultValue;
  }

  // Is the person in the middle of filling in something inside this region: typing in a text
  // field, or on a form with unsaved changes? A radio, checkbox or select that saved itself
  // (the checklist, a score) is not: its region refreshes at once and htmx puts the focus back
  // on it by id, so that person's view stays live too.
  function busyIn(el, active) {
    if (!active || !el.contains(active) || !/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return false;
    if (active.tagName === "TEXTAREA") return true;
    if (active.tagName === "INPUT" && !/^(radio|checkbox|button|submit|reset|file|range|color|image)$/.test(active.type)) return true;
    return Array.from(active.form ? active.form.elements : [active]).some(changed);
  }

  // A region changed: re-fetch this viewer's own rendering of it. A region holding the field
  // someone is filling in waits until they leave it, so live updates never eat their input.
  function refreshRegion(el) {
    const url = el.dataset.refreshUrl;
    if (!url || !el.isConnected) return;
    const active = document.activeElement;
    if (busyIn(el, active)) {
      el.addEventListener("focusout", function later() {
        el.removeEventListener("focusout", later);
        setTimeout(function () { refreshRegion(el); }, 0);
      });
      return;
    }
    // One fetch per region at a time, each synchronised on its own region: with htmx's default
    // source (the body) all refreshes share one queue that keeps only the last waiting request,
    // so two quick refreshes of two regions silently dropped one. A refresh arriving while its
    // region is loading fetches it once more afterwards (the element has been replaced by then).
    const id = el.id;
    if (id && refreshing[id]) { refreshing[id] = "again"; return; }
    if (id) refreshing[id] = "busy";
    const done = function () {
      const again = id && refreshing[id] === "again";
      if (id) delete refreshing[id];
      const fresh = again && document.getElementById(id);
      if (fresh) refreshRegion(fresh);
    };
    htmx.ajax("GET", url, { source: el, target: el, swap: "outerHTML" }).then(done, done);
  }
  const refreshing = {};

  const socket = io({ auth: { review: reviewId }, transports: ["websocket", "polling"] });
  socket.on("connect", function () {
    setStatus("online", "Live: you see changes as they happen.");
    if (everConnected) resync();
    everConnected = true;
  });
  socket.on("disconnect", function (reason) {
    if (reason === "io server disconnect") {
      setStatus("closed", "The live connection was closed (logged out?). Reload the page to continue.");
    } else {
      setStatus("offline", "Connection lost — reconnecting…");
    }
  });
  socket.on("connect_error", function (err) {
    setStatus("offline", "Cannot join the live room: " + (err && err.message ? err.message : "offline"));
  });
  socket.on("fragment", function (msg) { seen(msg.rev); swapFragments(msg.html, msg.rev); });
  socket.on("step", function (msg) {
    seen(msg.rev);
    swapFragments(msg.nav);
    loadStep(msg.step);
  });
  socket.on("refresh", function (msg) {
    seen(msg.rev);
    (msg.regions || []).forEach(function (region) {
      // "*": every live region on the page (the review was frozen by its sign-off).
      const selector = region === "*" ? "[data-live-region]" : '[data-live-region~="' + region + '"]';
      document.querySelectorAll(selector).forEach(refreshRegion);
    });
  });
  setInterval(function () {
    if (!socket.connected) return;
    socket.emit("heartbeat", { review_id: reviewId }, function (ack) {
      if (ack && ack.ok && typeof ack.rev === "number" && ack.rev > lastRev) {
        lastRev = ack.rev;
        resync();
      }
    });
  }, 10000);
})();
