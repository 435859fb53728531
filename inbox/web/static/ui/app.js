/* Heard workspace: live refresh, keyboard triage, canned responses, typing indicator.
 *
 * The pages work without this file. With it, an EventSource on /inbox/events says which
 * conversations changed and we re-fetch the server-rendered fragment (never building HTML
 * from data here), j/k/a/r/e drive triage, and the SLA countdowns tick.
 */
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var QUEUE_KEY = "heard:queue-ids";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function toast(text) {
    var node = document.createElement("div");
    node.className = "toast"; node.setAttribute("role", "status"); node.textContent = text;
    body.appendChild(node);
    setTimeout(function () { node.remove(); }, 3000);
  }

  function post(url, fields) {
    var data = new URLSearchParams(fields);
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: response.ok }; }).then(function (result) {
        if (!response.ok || !result.ok) { throw new Error(result.error || ("HTTP " + response.status)); }
        return result;
      });
    });
  }

  function refresh(container) {
    if (!container) { return Promise.resolve(); }
    var url = container.getAttribute("data-refresh");
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (html) {
      container.innerHTML = html;  // server-rendered and escaped by Jinja2
      tick();
      container.dispatchEvent(new CustomEvent("heard:refreshed", { bubbles: true }));
    }).catch(function () { /* the next event or poll tries again */ });
  }

  // ---- SLA countdowns ----------------------------------------------------------------------
  function countdown(due) {
    var seconds = Math.round((due - Date.now()) / 1000), span = Math.abs(seconds);
    var d = Math.floor(span / 86400), h = Math.floor(span % 86400 / 3600), m = Math.floor(span % 3600 / 60);
    var text = d ? d + "d " + h + "h" : h ? h + "h " + (m < 10 ? "0" : "") + m + "m" : m + "m";
    return seconds >= 0 ? "in " + text : text + " overdue";
  }
  function tick() {
    $$("time[data-due]").forEach(function (node) {
      var due = Date.parse(node.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      node.textContent = countdown(due);
      var holder = node.closest(".sla");
      if (holder) {
        var left = due - Date.now();
        holder.classList.toggle("sla-breached", left < 0);
        holder.classList.toggle("sla-due-soon", left >= 0 && left <= 3600 * 1000);
        holder.classList.toggle("sla-ok", left > 3600 * 1000);
      }
    });
  }
  setInterval(tick, 30000);

  // ---- queue selection ---------------------------------------------------------------------
  var selected = -1;
  // The selected row's id, kept across live refreshes: a refresh that started before a key
  // press must not drop the selection the press made.
  var selectedKey = null;
  function rows() { return $$(".row"); }
  function remember() {
    try { sessionStorage.setItem(QUEUE_KEY, JSON.stringify(rows().map(function (r) { return r.getAttribute("data-id"); }))); }
    catch (e) { /* storage off */ }
  }
  function select(index) {
    var list = rows();
    if (!list.length) { return; }
    selected = Math.max(0, Math.min(index, list.length - 1));
    selectedKey = list[selected].getAttribute("data-id");
    list.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    list[selected].scrollIntoView({ block: "nearest" });
    var link = $("a.open", list[selected]);
    if (link) { link.focus({ preventScroll: true }); }
  }
  function selectedId() {
    var list = rows();
    return selected >= 0 && list[selected] ? list[selected].getAttribute("data-id") : null;
  }
  function reselect(id) {
    var list = rows();
    for (var i = 0; i < list.length; i++) {
      if (list[i].getAttribute("data-id") === id) { select(i); return; }
    }
    selected = -1;
    selectedKey = null;
  }

  // ---- live --------------------------------------------------------------------------------
  var typingTimer = null;
  function connectLive() {
    if (!window.EventSource) { return; }
    var source = new EventSource("/inbox/events");
    source.addEventListener("open", function () { body.classList.add("live"); });
    source.addEventListener("error", function () { body.classList.remove("live"); });
    // On (re)connecting, catch up with whatever changed between rendering and now.
    source.addEventListener("hello", function () { onChanged({ ids: [] }); });
    source.addEventListener("changed", function (event) { onChanged(JSON.parse(event.data || "{}")); });
    function onChanged(data) {
      if (page === "queue") {
        refresh($("#queue-rows")).then(function () {
          remember();
          if (selectedKey) { reselect(selectedKey); }
        });
      } else if (page === "conversation") {
        var id = Number($(".conv").getAttribute("data-conversation"));
        if (!data.ids || !data.ids.length || data.ids.indexOf(id) >= 0) {
          refresh($("#thread")).then(scrollThread);
          refresh($("#events"));
        }
      }
    }
    source.addEventListener("typing", function (event) {
      var data = JSON.parse(event.data || "{}");
      var conv = $(".conv");
      if (!conv || Number(conv.getAttribute("data-conversation")) !== data.conversation_id) { return; }
      var node = $("#typing");
      node.textContent = data.on ? (data.who || "The customer") + " is typing…" : "";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { node.textContent = ""; }, 8000);
    });
  }

  function scrollThread() {
    var last = $("#thread .msg:last-of-type");
    if (last && !document.activeElement.closest(".side")) { last.scrollIntoView({ block: "nearest" }); }
  }

  // ---- actions -----------------------------------------------------------------------------
  function act(id, what, fields) {
    fields.csrf_token = csrf;
    return post("/inbox/c/" + id + "/" + what, fields).then(function () {
      if (page === "queue") { refresh($("#queue-rows")).then(function () { reselect(id); }); }
      else { location.reload(); }
    }).catch(function (error) { toast(error.message); });
  }
  function neighbour(step) {
    var ids;
    try { ids = JSON.parse(sessionStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { ids = []; }
    var here = $(".conv").getAttribute("data-conversation");
    var at = ids.indexOf(here);
    var next = at >= 0 ? ids[at + step] : null;
    if (next) { location.href = "/inbox/c/" + next; }
  }

  function typingTarget(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "reply-text") {
      event.preventDefault();
      $("#send-reply").click();
      return;
    }
    if (event.key === "Escape" && typingTarget(event)) { event.target.blur(); return; }
    if (typingTarget(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key, id = null;
    if (key === "?") { var help = $("#help"); help.hidden = !help.hidden; return; }
    if (key === "/") { event.preventDefault(); $(".search input").focus(); return; }
    if (page === "queue") {
      if (key === "j") { select(selected + 1); }
      else if (key === "k") { select(selected < 0 ? 0 : selected - 1); }
      else if ((key === "o" || key === "Enter") && (id = selectedId())) { location.href = "/inbox/c/" + id; }
      else if (key === "r" && (id = selectedId())) { location.href = "/inbox/c/" + id + "#reply"; }
      else if (key === "a" && (id = selectedId())) { act(id, "assign", { assignee: body.getAttribute("data-agent") }); }
      else if (key === "e" && (id = selectedId())) { act(id, "status", { status: "resolved" }); }
      else { return; }
      event.preventDefault();
    } else if (page === "conversation") {
      if (key === "j") { neighbour(1); }
      else if (key === "k") { neighbour(-1); }
      else if (key === "r") { $("#reply-text").focus(); }
      else if (key === "a") { $("#assign-me").click(); }
      else if (key === "e") { $("#status-resolved").click(); }
      else { return; }
      event.preventDefault();
    }
  });

  // ---- conversation page helpers -----------------------------------------------------------
  function setupConversation() {
    var canned = $("#canned"), text = $("#reply-text");
    if (canned) {
      canned.addEventListener("change", function () {
        if (!canned.value) { return; }
        text.value = text.value ? text.value.replace(/\s*$/, "\n\n") + canned.value : canned.value;
        canned.value = "";
        text.focus();
      });
    }
    $$('form input[name="until"]').forEach(function (input) {
      var form = input.form, tz = document.createElement("input");
      tz.type = "hidden"; tz.name = "tz";
      try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz.value = ""; }
      form.appendChild(tz);
    });
    var conv = $(".conv");
    if (conv && conv.getAttribute("data-channel") === "webchat" && text) {
      var last = 0, quiet = null, id = conv.getAttribute("data-conversation");
      var say = function (on) {
        fetch("/inbox/c/" + id + "/typing", {
          method: "POST", credentials: "same-origin", body: JSON.stringify({ on: on }),
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }
        }).catch(function () { /* best effort */ });
      };
      text.addEventListener("input", function () {
        var now = Date.now();
        if (now - last > 2000) { last = now; say(true); }
        clearTimeout(quiet);
        quiet = setTimeout(function () { last = 0; say(false); }, 3000);
      });
    }
    if (location.hash === "#reply" && text) { text.focus(); }
    scrollThread();
  }

  if (page === "queue") { remember(); }
  if (page === "conversation") { setupConversation(); }
  tick();
  connectLive();
  window.HeardUI = { refresh: refresh, select: select };
})();
