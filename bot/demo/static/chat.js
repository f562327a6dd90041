// CareMap demo chat page. Bot messages arrive as plain text + Telegram entities and are
// turned into DOM nodes with textContent: no bot-supplied markup is ever parsed as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
const UI = {
  zh: { placeholder: "输入消息", empty: "这里还没有消息。\n点 START 和 CareMap 打个招呼。", admin: "管理员", counsellor: "辅导员",
        stranger: "陌生人", sub: "机器人", edited: "已编辑", nothing: "没有到期的提醒", gone: "按钮已失效",
        delivered: "送出提醒", failed: "提醒处理失败", reset: "重新生成全部演示数据?", noMenu: "没有命令菜单", lang: "中文",
        step: { "1h": "+1 小时", "1d": "+1 天", "1w": "+1 周" } },
  en: { placeholder: "Message", empty: "No messages here yet.\nTap START to say hello to CareMap.", admin: "admin", counsellor: "counsellor",
        stranger: "stranger", sub: "bot", edited: "edited", nothing: "nothing due", gone: "This button is gone.",
        delivered: "reminders sent", failed: "reminders tick failed", reset: "Seed all the demo data again from scratch?", noMenu: "no command menu", lang: "EN",
        step: { "1h": "+1 hour", "1d": "+1 day", "1w": "+1 week" } },
};

const state = { people: [], chats: {}, menus: {}, current: null, unread: {}, ws: null };

function person(id) { return state.people.find((p) => p.id === id); }
function lang() { const p = person(state.current); return p && p.lang === "zh" ? "zh" : "en"; }
function t(key) { return UI[lang()][key]; }

// ---------------------------------------------------------------- entities → DOM
const SAFE_URL = /^(https?:\/\/|mailto:)/i;
// a command, as Telegram finds one: "/" + name, with no letter, digit, "_", "/", "<" or ">"
// (of any script) just before or after it; so "/new、/log" is two, "/map学生B" none
const AUTO = /(https?:\/\/[^\s<>"']+)|((?<=^|[^\p{L}\p{N}_\/<>])\/[A-Za-z][A-Za-z0-9_]{0,31}(?:@[A-Za-z0-9_]+)?)(?=$|[^\p{L}\p{N}_\/<>@])/gu;

function autoLinks(parent, text) {
  let last = 0;
  for (const m of text.matchAll(AUTO)) {
    if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    if (m[1]) {
      const a = document.createElement("a");
      a.href = m[1]; a.target = "_blank"; a.rel = "noopener noreferrer"; a.textContent = m[1];
      parent.appendChild(a);
    } else {
      const span = document.createElement("span");
      span.className = "cmd"; span.textContent = m[2];
      span.addEventListener("click", () => send(m[2]));
      parent.appendChild(span);
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

function elementFor(e, content) {
  const mk = (tag, cls) => { const el = document.createElement(tag); if (cls) el.className = cls; return el; };
  switch (e.type) {
    case "bold": return { el: mk("b") };
    case "italic": return { el: mk("i") };
    case "underline": return { el: mk("u") };
    case "strikethrough": return { el: mk("s") };
    case "code": return { el: mk("code"), plain: true };
    case "pre": { const pre = mk("pre"); const code = mk("code"); if (e.language) code.dataset.language = e.language;
      pre.appendChild(code); return { el: pre, inner: code, plain: true }; }
    case "blockquote": case "expandable_blockquote": return { el: mk("blockquote") };
    case "spoiler": { const s = mk("span", "spoiler"); s.title = "spoiler";
      s.addEventListener("click", () => s.classList.toggle("shown")); return { el: s }; }
    case "text_link": case "url": {
      const href = e.type === "url" ? content : (e.url || "");
      if (!SAFE_URL.test(href)) return { el: mk("span") };
      const a = mk("a"); a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; return { el: a };
    }
    case "email": { const a = mk("a"); a.href = "mailto:" + content; return { el: a }; }
    case "bot_command": { const s = mk("span", "cmd"); s.addEventListener("click", () => send(content)); return { el: s, plain: true }; }
    default: return { el: mk("span") };
  }
}

function build(parent, text, start, end, ents, plain) {
  let pos = start;
  let i = 0;
  const leaf = (s) => (plain ? parent.appendChild(document.createTextNode(s)) : autoLinks(parent, s));
  while (i < ents.length) {
    const e = ents[i];
    if (e.offset < pos) { i++; continue; } // overlaps an earlier one: drop it
    const eEnd = Math.min(e.offset + e.length, end);
    if (e.offset > pos) leaf(text.slice(pos, e.offset));
    const inner = [];
    let j = i + 1;
    while (j < ents.length && ents[j].offset < eEnd) {
      if (ents[j].offset + ents[j].length <= eEnd) inner.push(ents[j]);
      j++;
    }
    const made = elementFor(e, text.slice(e.offset, eEnd));
    build(made.inner || made.el, text, e.offset, eEnd, inner, plain || made.plain || made.el.tagName === "A");
    parent.appendChild(made.el);
    pos = eEnd;
    i = j;
  }
  if (pos < end) leaf(text.slice(pos, end));
}

function renderText(text, entities) {
  const frag = document.createDocumentFragment();
  const ents = (entities || []).filter((e) => e.length > 0)
    .slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(frag, text, 0, text.length, ents, false); // offsets are UTF-16 units, like JS strings
  return frag;
}

// ---------------------------------------------------------------- messages
function sizeText(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KB" : (n / 1048576).toFixed(1) + " MB"; }

function fillRow(row, m) {
  row.replaceChildren();
  row.className = "row " + (m.from_bot ? "bot" : "me");
  row.dataset.mid = m.id;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  if (m.document) {
    const a = document.createElement("a");
    a.className = "doc"; a.href = m.document.url; a.download = m.document.name;
    const icon = document.createElement("span"); icon.className = "icon"; icon.textContent = "⬇";
    const info = document.createElement("span");
    const name = document.createElement("div"); name.className = "fname"; name.textContent = m.document.name;
    const size = document.createElement("div"); size.className = "fsize"; size.textContent = sizeText(m.document.size);
    info.append(name, size); a.append(icon, info); bubble.appendChild(a);
  }
  if (m.photo) {
    const img = document.createElement("img");
    img.className = "photo"; img.src = m.photo.url; img.alt = "";
    if (m.photo.width && m.photo.height) img.style.aspectRatio = `${m.photo.width} / ${m.photo.height}`;
    bubble.appendChild(img);
  }
  if (m.text) {
    const body = document.createElement("span");
    body.className = "text";
    body.appendChild(renderText(m.text, m.entities));
    bubble.appendChild(body);
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = (m.edited ? t("edited") + " " : "") + (m.time || "").slice(11);
  meta.title = m.time || "";
  bubble.appendChild(meta);
  row.appendChild(bubble);
  if (m.buttons && m.buttons.length) {
    const kb = document.createElement("div");
    kb.className = "keyboard";
    for (const r of m.buttons) {
      const krow = document.createElement("div");
      krow.className = "krow";
      for (const b of r) {
        const btn = document.createElement("button");
        btn.textContent = b.text; btn.title = b.text;
        btn.addEventListener("click", () => {
          if (b.url) { if (SAFE_URL.test(b.url)) window.open(b.url, "_blank", "noopener"); return; }
          act({ type: "tap", user: state.current, message: m.id, data: b.data });
        });
        krow.appendChild(btn);
      }
      kb.appendChild(krow);
    }
    row.appendChild(kb);
  }
}

function atBottom() { const box = $("#messages"); return box.scrollHeight - box.scrollTop - box.clientHeight < 80; }
function scrollDown() { const box = $("#messages"); box.scrollTop = box.scrollHeight; }

function renderChat() {
  const box = $("#messages");
  box.replaceChildren();
  const msgs = state.chats[state.current] || [];
  if (!msgs.length) {
    const empty = document.createElement("div");
    empty.className = "empty";
    empty.textContent = t("empty");
    const start = document.createElement("button");
    start.id = "start"; start.textContent = "START";
    start.addEventListener("click", () => send("/start"));
    empty.append(document.createElement("br"), start);
    box.appendChild(empty);
    return;
  }
  for (const m of msgs) { const row = document.createElement("div"); fillRow(row, m); box.appendChild(row); }
  scrollDown();
}

function renderPeople() {
  const nav = $("#people");
  nav.replaceChildren();
  for (const p of state.people) {
    const b = document.createElement("button");
    b.dataset.person = p.id;
    b.className = p.id === state.current ? "active" : "";
    b.textContent = p.name;
    const role = document.createElement("span"); role.className = "role";
    role.textContent = t(p.role) + " · " + p.lang;
    b.appendChild(role);
    if (state.unread[p.id]) { const badge = document.createElement("span"); badge.className = "badge"; badge.textContent = state.unread[p.id]; b.appendChild(badge); }
    b.addEventListener("click", () => switchTo(p.id));
    nav.appendChild(b);
  }
}

function renderChrome() {
  $("#input").placeholder = t("placeholder");
  $("#lang").textContent = t("lang");
  $("#lang").dataset.lang = lang();
  const p = person(state.current);
  $("#sub").textContent = t("sub") + " · " + (p ? p.name : "");
  for (const b of document.querySelectorAll("#demobar .step")) b.title = UI[lang()].step[b.dataset.step];
  document.documentElement.lang = lang() === "zh" ? "zh" : "en";
}

function switchTo(id) {
  state.current = id;
  state.unread[id] = 0;
  localStorage.setItem("caremap-demo-person", String(id));
  closeMenu();
  renderPeople(); renderChrome(); renderChat();
}

// ---------------------------------------------------------------- toast, menu
let toastTimer = null;
function toast(text, alert) {
  const el = $("#toast");
  el.textContent = text;
  el.className = alert ? "alert" : "";
  el.hidden = false;
  clearTimeout(toastTimer);
  if (alert) el.onclick = () => { el.hidden = true; };
  else toastTimer = setTimeout(() => { el.hidden = true; }, 2600);
}

function openMenu() {
  const menu = $("#menu");
  menu.replaceChildren();
  const items = ((state.menus[state.current] || {})[lang()]) || [];
  if (!items.length) { const none = document.createElement("div"); none.className = "none"; none.textContent = t("noMenu"); menu.appendChild(none); }
  for (const [command, description] of items) {
    const b = document.createElement("button");
    const c = document.createElement("span"); c.className = "c"; c.textContent = "/" + command;
    const d = document.createElement("span"); d.className = "d"; d.textContent = description;
    b.append(c, d);
    b.addEventListener("click", () => { closeMenu(); send("/" + command); });
    menu.appendChild(b);
  }
  menu.hidden = false;
}
function closeMenu() { $("#menu").hidden = true; }

// ---------------------------------------------------------------- socket
function act(payload) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(payload)); }
function send(text) { if (text.trim()) act({ type: "send", user: state.current, text }); }

function showClock(clock) {
  const el = $("#clock-now");
  el.textContent = clock.now + (clock.offset_hours ? `  (+${clock.offset_hours} h)` : "");
  el.dataset.offsetHours = clock.offset_hours;
}

function onEvent(ev) {
  switch (ev.type) {
    case "state": {
      state.people = ev.people; state.chats = ev.chats; state.menus = ev.menus; state.unread = {};
      const saved = Number(localStorage.getItem("caremap-demo-person"));
      if (!person(state.current)) state.current = person(saved) ? saved : ev.people[0].id;
      showClock(ev.clock);
      document.body.dataset.ready = "1";
      switchTo(state.current);
      break;
    }
    case "resetting": document.body.dataset.ready = "0"; break;
    case "message": case "edit": {
      const m = ev.message;
      const list = (state.chats[m.chat_id] = state.chats[m.chat_id] || []);
      const idx = list.findIndex((x) => x.id === m.id);
      if (idx >= 0) list[idx] = m; else list.push(m);
      if (m.chat_id !== state.current) {
        if (ev.type === "message" && m.from_bot) { state.unread[m.chat_id] = (state.unread[m.chat_id] || 0) + 1; renderPeople(); }
        break;
      }
      const row = document.querySelector(`#messages .row[data-mid="${m.id}"]`);
      if (row) {
        fillRow(row, m);
        if (ev.type === "edit") { const bubble = row.querySelector(".bubble"); bubble.classList.add("flash"); }
      } else {
        const stick = atBottom() || !m.from_bot;
        if (list.length === 1) renderChat();
        else { const r = document.createElement("div"); fillRow(r, m); $("#messages").appendChild(r); }
        if (stick) scrollDown();
      }
      break;
    }
    case "delete": {
      const list = state.chats[ev.chat_id] || [];
      state.chats[ev.chat_id] = list.filter((x) => x.id !== ev.id);
      const row = document.querySelector(`#messages .row[data-mid="${ev.id}"]`);
      if (ev.chat_id === state.current && row) row.remove();
      break;
    }
    case "answer": if (ev.chat_id === state.current && ev.text) toast(ev.text, ev.alert); break;
    case "toast": if (!ev.chat_id || ev.chat_id === state.current) toast(ev.text, false); break;
    case "menus": state.menus = ev.menus; break;
    case "lang": {
      const p = person(ev.user); if (p) p.lang = ev.lang;
      renderPeople(); if (ev.user === state.current) { renderChrome(); renderChat(); }
      break;
    }
    case "clock": {
      showClock(ev.clock);
      const el = $("#clock-now");
      el.dataset.pending = "1";
      delete el.dataset.delivered;
      toast(`⏰ ${UI[lang()].step[ev.step]} → ${ev.clock.now}`, false);
      break;
    }
    case "tick": {
      showClock(ev.clock);
      const el = $("#clock-now");
      el.dataset.pending = "0";
      el.dataset.error = ev.error || "";
      el.dataset.delivered = JSON.stringify(ev.delivered || {});
      const done = ev.delivered || {};
      const counts = "sent" in done ? (done.sent ? [String(done.sent)] : [])
        : Object.entries(done).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
      const what = ev.error ? `${t("failed")}: ${ev.error}` : counts.length ? `${t("delivered")}: ${counts.join(", ")}` : t("nothing");
      toast(`⏰ ${UI[lang()].step[ev.step]} → ${ev.clock.now}\n${what}`, false);
      break;
    }
  }
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => { $("#offline").hidden = true; };
  ws.onmessage = (msg) => onEvent(JSON.parse(msg.data));
  ws.onclose = () => { $("#offline").hidden = false; document.body.dataset.ready = "0"; setTimeout(connect, 1000); };
}

// ---------------------------------------------------------------- wiring
function submit() {
  const input = $("#input");
  const text = input.value;
  if (!text.trim()) return;
  send(text);
  input.value = "";
  input.style.height = "";
}

$("#send").addEventListener("click", submit);
$("#input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
});
$("#input").addEventListener("input", (e) => {
  const el = e.target; el.style.height = ""; el.style.height = Math.min(el.scrollHeight, 120) + "px";
});
$("#menu-btn").addEventListener("click", (e) => { e.stopPropagation(); if ($("#menu").hidden) openMenu(); else closeMenu(); });
document.addEventListener("click", (e) => { if (!$("#menu").contains(e.target)) closeMenu(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeMenu(); });
$("#lang").addEventListener("click", () => act({ type: "lang", user: state.current, lang: lang() === "zh" ? "en" : "zh" }));
for (const b of document.querySelectorAll("#demobar .step")) b.addEventListener("click", () => act({ type: "advance", step: b.dataset.step }));
$("#reset").addEventListener("click", () => { if (confirm(t("reset"))) act({ type: "reset" }); });
connect();
