// ReplyWindow console: live countdowns, and the inbox refreshing itself without a reload.
// No dependencies; the pages work without this file (it only adds the live parts).
(function () {
  "use strict";
  var POLL_MS = 4000;
  var skew = 0; // server clock minus this device's clock

  function left(due) {
    if (!due) { return "no deadline"; }
    var seconds = Math.round((Date.parse(due) - (Date.now() + skew)) / 1000);
    var abs = Math.abs(seconds), h = Math.floor(abs / 3600);
    var m = Math.floor((abs % 3600) / 60), s = abs % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var shown = h ? h + "h " + pad(m) + "m" : m + "m " + pad(s) + "s";
    return seconds >= 0 ? "in " + shown : "overdue " + shown;
  }

  function tick() {
    var clocks = document.querySelectorAll("time.countdown");
    for (var i = 0; i < clocks.length; i++) {
      var due = clocks[i].getAttribute("datetime");
      clocks[i].textContent = left(due);
      clocks[i].classList.toggle("overdue", !!due && Date.parse(due) < Date.now() + skew);
    }
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function row(base, c) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", c.id);
    var when = document.createElement("time");
    when.className = "countdown";
    when.setAttribute("datetime", c.due_at || "");
    when.textContent = left(c.due_at);
    var first = document.createElement("td");
    first.appendChild(when);
    tr.appendChild(first);
    var link = document.createElement("a");
    link.href = base + "/console/conversations/" + encodeURIComponent(c.id);
    var who = c.customer || {};
    link.textContent = who.handle || who.name || who.id || c.id;
    var second = document.createElement("td");
    second.appendChild(link);
    tr.appendChild(second);
    var platform = cell(c.platform);
    if (c.found_by_listening) {
      var found = document.createElement("span");
      found.className = "found";
      found.textContent = "found by listening";
      platform.appendChild(document.createTextNode(" "));
      platform.appendChild(found);
    }
    tr.appendChild(platform);
    var prio = document.createElement("span");
    prio.className = "prio prio-" + c.priority;
    prio.textContent = c.priority;
    var third = document.createElement("td");
    third.appendChild(prio);
    tr.appendChild(third);
    tr.appendChild(cell((c.reasons || []).join(", ")));
    tr.appendChild(cell(c.assignee || "unassigned"));
    return tr;
  }

  function live() {
    var table = document.getElementById("inbox");
    if (!table || !window.fetch) { return; }
    var base = table.getAttribute("data-base") || "";
    var url = table.getAttribute("data-poll");
    var etag = table.getAttribute("data-etag");
    var known = {}; // id -> the server's fingerprint of the row, as last shown
    var shown = table.tBodies[0].rows;
    for (var i = 0; i < shown.length; i++) {
      known[shown[i].getAttribute("data-id")] = shown[i].getAttribute("data-fp");
    }
    skew = Date.parse(table.getAttribute("data-now")) - Date.now() || 0;

    function apply(data) {
      var fresh = document.createDocumentFragment(), changed = 0, seen = {};
      data.conversations.forEach(function (c) {
        var tr = row(base, c);
        tr.setAttribute("data-fp", c.fp);
        seen[c.id] = c.fp;
        if (known[c.id] !== c.fp) {
          tr.classList.add("changed"); // new or different since the last look
          changed++;
        }
        fresh.appendChild(tr);
      });
      table.tBodies[0].replaceChildren(fresh);
      document.getElementById("empty").hidden = data.conversations.length > 0;
      var more = document.getElementById("more");
      if (more) { more.textContent = data.more || ""; more.hidden = !data.more; }
      document.getElementById("live").textContent = changed ? changed +
        (changed === 1 ? " conversation" : " conversations") + " new or changed" : "";
      known = seen;
    }

    function poll() {
      // Unchanged rows answer 304 with no body: the poll costs one small request.
      fetch(url, { headers: etag ? { "If-None-Match": etag } : {},
                   credentials: "same-origin", cache: "no-store" })
        .then(function (answer) {
          if (answer.status === 401) { window.location.reload(); return null; }
          if (answer.status !== 200) { return null; }
          etag = answer.headers.get("ETag");
          return answer.json();
        })
        .then(function (data) {
          if (data) { skew = Date.parse(data.now) - Date.now() || 0; apply(data); }
        })
        .catch(function () { /* offline for a moment: the next poll tries again */ })
        .then(function () { window.setTimeout(poll, POLL_MS); });
    }
    window.setTimeout(poll, POLL_MS);
  }

  // A reply box that knows its platform's limit says how much is left as the agent types.
  function counter() {
    var box = document.querySelector("textarea[data-limit]");
    var shown = document.getElementById("reply-count");
    if (!box || !shown) { return; }
    var limit = parseInt(box.getAttribute("data-limit"), 10);
    var update = function () {
      var used = box.value.length;
      shown.textContent = used + " of " + limit + " characters" +
        (used > limit ? ": too long" : "");
      shown.classList.toggle("overdue", used > limit);
    };
    box.addEventListener("input", update);
    update();
  }

  // The session ended while a reply was being written: the form's POST is sent to sign in
  // first. What was typed is kept in this tab (sessionStorage) across that detour only, and
  // put back in the same form's box after signing in; any other page load forgets it.
  function keepReply() {
    var store = null;
    try { store = window.sessionStorage; } catch (e) { return; }
    if (!store) { return; }
    if (document.querySelector("form[data-sign-in]")) {
      document.querySelector("form[data-sign-in]").addEventListener("submit", function () {
        store.setItem("rw-signing-in", "1");
      });
      return;
    }
    var box = document.getElementById("reply");
    var kept = null;
    try { kept = JSON.parse(store.getItem("rw-reply") || "null"); } catch (e) { kept = null; }
    if (box && box.form && kept && store.getItem("rw-signing-in") && !box.value &&
        kept.action === box.form.action) {
      box.value = kept.text;
    }
    store.removeItem("rw-signing-in");
    store.removeItem("rw-reply");
    if (box && box.form) {
      box.form.addEventListener("submit", function () {
        store.setItem("rw-reply", JSON.stringify({ action: box.form.action,
                                                   text: box.value.slice(0, 10000) }));
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    keepReply();
    var clock = document.querySelector("[data-now]");
    if (clock) { skew = Date.parse(clock.getAttribute("data-now")) - Date.now() || 0; }
    counter();
    tick();
    window.setInterval(tick, 1000);
    live();
  });
}());
