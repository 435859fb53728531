/* Heard web chat widget.
 *
 * Embed with: <script src="https://heard.example.com/chat/widget.js" data-channel="site" async></script>
 *
 * Talks to Heard over one WebSocket (protocol in inbox/web/chat.py). Every message the visitor
 * writes gets a client id and stays in localStorage until Heard confirms it is stored, so a
 * dropped connection or a reload resends it and Heard keeps one copy. Everything is drawn with
 * textContent inside a shadow root: nothing a visitor or an agent types is ever parsed as HTML,
 * and the host page's styles cannot break the box.
 */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector('script[src*="/chat/widget.js"][data-channel]');
  if (!script || window.HeardChat) { return; }
  var src = new URL(script.src, location.href);
  var base = src.href.replace(/\/chat\/widget\.js.*$/, "");
  var channel = script.getAttribute("data-channel") || "site";
  var socketUrl = base.replace(/^http/, "ws") + "/chat/" + encodeURIComponent(channel) + "/socket";
  var storeKey = "heard-chat:" + base + ":" + channel + ":";

  function load(name, fallback) {
    try { var v = localStorage.getItem(storeKey + name); return v === null ? fallback : JSON.parse(v); }
    catch (e) { return fallback; }
  }
  function save(name, value) {
    try { localStorage.setItem(storeKey + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var state = {
    connected: false, open: false, agentsOnline: true, token: load("token", null),
    pending: load("pending", []), profile: load("profile", { name: "", email: "" }),
    seen: {}, retries: 0, ws: null
  };

  // ---- the box ---------------------------------------------------------------------------
  var host = el("div");
  host.id = "heard-chat";
  host.setAttribute("data-channel", channel);
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = [
    ":host{all:initial;--c:#2457c5;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1a1a1a}",
    ".launch{position:fixed;right:18px;bottom:18px;z-index:2147483000;border:0;border-radius:24px;padding:12px 18px;background:var(--c);color:#fff;font:inherit;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".panel{position:fixed;right:18px;bottom:76px;z-index:2147483000;width:340px;max-width:calc(100vw - 24px);height:460px;max-height:calc(100vh - 100px);display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}",
    ".panel.open{display:flex}",
    "header{background:var(--c);color:#fff;padding:10px 14px;display:flex;align-items:center;gap:8px}",
    "header b{flex:1}header button{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}",
    ".status{font-size:12px;opacity:.85}",
    ".log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px;background:#f6f7f9}",
    ".line{max-width:82%;padding:7px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}",
    ".line .who{display:block;font-size:11px;opacity:.7;margin-bottom:2px}",
    ".in{align-self:flex-end;background:var(--c);color:#fff}",
    ".out{align-self:flex-start;background:#fff;border:1px solid #dde1e7}",
    ".out.ack,.out.update{background:#fff8e1;border-color:#f0d58a;font-size:13px}",
    ".sending{opacity:.6}.failed{background:#b3261e!important}",
    ".note{align-self:center;font-size:12px;color:#555;text-align:center}",
    ".typing{font-size:12px;color:#555;padding:0 12px 4px;min-height:16px}",
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e6ea;background:#fff}",
    "form.offline{flex-direction:column}",
    "textarea,input{font:inherit;border:1px solid #c9ced6;border-radius:8px;padding:7px;resize:none}",
    "textarea{flex:1;min-height:38px;max-height:100px}",
    "form button{border:0;border-radius:8px;background:var(--c);color:#fff;padding:0 14px;font:inherit;cursor:pointer}",
    "form.offline button{padding:8px}",
    "details{padding:4px 10px;font-size:12px;background:#fff;border-bottom:1px solid #e3e6ea}",
    "details input{width:calc(50% - 20px);margin:3px 2px}",
    ".hidden{display:none!important}"
  ].join("\n");
  root.appendChild(style);

  var launch = el("button", "launch", "Chat with us");
  launch.type = "button";
  launch.setAttribute("aria-label", "Open chat");
  var panel = el("section", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  var header = el("header");
  var title = el("b", "", "Chat with us");
  var statusLine = el("span", "status", "connecting…");
  var closeButton = el("button", "", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "Close chat");
  header.append(title, statusLine, closeButton);

  var details = el("details");
  details.appendChild(el("summary", "", "Your name and email (optional)"));
  var nameInput = el("input"); nameInput.name = "name"; nameInput.placeholder = "Name"; nameInput.value = state.profile.name;
  var emailInput = el("input"); emailInput.name = "email"; emailInput.type = "email"; emailInput.placeholder = "Email"; emailInput.value = state.profile.email;
  details.append(nameInput, emailInput);

  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "typing");

  var form = el("form", "live");
  var input = el("textarea");
  input.name = "text"; input.rows = 1; input.placeholder = "Write a message…"; input.setAttribute("aria-label", "Message");
  var sendButton = el("button", "", "Send"); sendButton.type = "submit";
  form.append(input, sendButton);

  var offline = el("form", "offline hidden");
  offline.appendChild(el("div", "note", "Nobody is at the desk right now. Leave a message and your email, and we will answer by email."));
  var offName = el("input"); offName.name = "name"; offName.placeholder = "Name";
  var offEmail = el("input"); offEmail.name = "email"; offEmail.type = "email"; offEmail.required = true; offEmail.placeholder = "Email (we answer here)";
  var offText = el("textarea"); offText.name = "text"; offText.required = true; offText.placeholder = "Your message";
  var offSend = el("button", "", "Leave message"); offSend.type = "submit";
  offline.append(offName, offEmail, offText, offSend);

  panel.append(header, details, log, typing, form, offline);
  root.append(launch, panel);

  function mount() { document.body.appendChild(host); }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }

  // ---- drawing ---------------------------------------------------------------------------
  function draw(frame) {
    var existing = state.seen[frame.id];
    if (existing) { existing.classList.remove("sending"); return existing; }
    var line = el("div", "line " + (frame.direction === "in" ? "in" : "out " + (frame.kind || "message")));
    line.setAttribute("data-id", frame.id);
    line.appendChild(el("span", "who", frame.author || (frame.direction === "in" ? "You" : "Support")));
    line.appendChild(document.createTextNode(frame.text));
    state.seen[frame.id] = line;
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
    if (frame.direction !== "in") { typing.textContent = ""; }
    return line;
  }
  function note(text) {
    log.appendChild(el("div", "note", text));
    log.scrollTop = log.scrollHeight;
  }
  function setStatus(text) { statusLine.textContent = text; }
  function showOffline(on) {
    offline.classList.toggle("hidden", !on);
    form.classList.toggle("hidden", on);
    details.classList.toggle("hidden", on);
  }

  // ---- the socket ------------------------------------------------------------------------
  function connect() {
    var ws = new WebSocket(socketUrl);
    state.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token, name: state.profile.name, email: state.profile.email }));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function () {
      state.connected = false;
      state.ws = null;
      setStatus("reconnecting…");
      var wait = Math.min(10000, 500 * Math.pow(2, state.retries++));
      setTimeout(connect, wait);
    };
  }

  function handle(frame) {
    if (frame.type === "welcome") {
      state.connected = true; state.retries = 0; state.token = frame.token; save("token", frame.token);
      state.agentsOnline = !!frame.agents_online;
      title.textContent = frame.title; launch.textContent = frame.title;
      host.style.setProperty("--c", frame.color || "#2457c5");
      if (!log.childNodes.length && frame.welcome) { note(frame.welcome); }
      (frame.history || []).forEach(draw);
      setStatus(state.agentsOnline ? "online" : "away");
      showOffline(!state.agentsOnline && !frame.history.length && !state.pending.length);
      state.pending.forEach(transmit);  // whatever was not confirmed before
    } else if (frame.type === "message") {
      draw(frame);
    } else if (frame.type === "received") {
      forget(frame.id);
      if (state.seen[frame.id]) { state.seen[frame.id].classList.remove("sending"); }
    } else if (frame.type === "rejected") {
      forget(frame.id);
      var line = state.seen[frame.id];
      if (line) { line.classList.add("failed"); line.title = frame.error; }
      note("Not sent: " + frame.error);
    } else if (frame.type === "typing") {
      typing.textContent = frame.on ? (frame.who || "Support") + " is typing…" : "";
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(function () { typing.textContent = ""; }, 8000);
    } else if (frame.type === "error") {
      note(frame.error);
    }
  }

  function forget(frameId) {
    state.pending = state.pending.filter(function (p) { return "c-" + p.id !== frameId; });
    save("pending", state.pending);
  }
  function transmit(item) {
    if (state.ws && state.connected) {
      state.ws.send(JSON.stringify({ type: "message", id: item.id, text: item.text, offline: item.offline, name: item.name, email: item.email }));
    }
  }
  function submit(text, offlineMode) {
    text = text.trim();
    if (!text) { return; }
    var item = { id: newId(), text: text, offline: offlineMode, name: state.profile.name, email: state.profile.email };
    state.pending.push(item); save("pending", state.pending);
    draw({ id: "c-" + item.id, direction: "in", kind: "message", text: text, author: state.profile.name || "You" }).classList.add("sending");
    transmit(item);
  }
  function remember(name, email) {
    state.profile = { name: name.trim(), email: email.trim() }; save("profile", state.profile);
  }

  var lastTyping = 0, quietTimer = null;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    remember(nameInput.value, emailInput.value);
    submit(input.value, false);
    input.value = "";
    clearTimeout(quietTimer);
    lastTyping = 0;  // the next key starts a fresh "typing" at once
    sendTyping(false);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  offline.addEventListener("submit", function (event) {
    event.preventDefault();
    remember(offName.value, offEmail.value);
    submit(offText.value, true);
    offText.value = "";
    showOffline(false);
    note("Thanks! We will answer at " + state.profile.email + " — or right here if you stay.");
  });

  // Typing indicator: say "on" at most every 2 s while keys arrive, "off" after 3 s of quiet.
  function sendTyping(on) {
    if (state.ws && state.connected) { state.ws.send(JSON.stringify({ type: "typing", on: on })); }
  }
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; sendTyping(true); }
    clearTimeout(quietTimer);
    quietTimer = setTimeout(function () { lastTyping = 0; sendTyping(false); }, 3000);
  });

  function setOpen(open) {
    state.open = open; save("open", open);
    panel.classList.toggle("open", open);
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; }
  }
  launch.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  if (load("open", false)) { setOpen(true); }

  window.HeardChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    send: function (text) { submit(String(text), false); },
    state: state
  };
  connect();
})();
