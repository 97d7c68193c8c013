// The command-room wall (大屏): fills the panels of wall.html from the live snapshot that
// situation.js receives (event "fangxun:situation"), shows the one clock of the screen (the
// replay's clock during a replay, with its badge), and cycles the right-hand views. No controls:
// nothing here waits for a click. Every text comes from the server (#wall-config), translated.

const config = JSON.parse(document.getElementById("wall-config").textContent);
const labels = config.labels;
const root = document.querySelector("[data-testid=wall]");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const zone = config.timezone;
const clockFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const shortFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
const short = (iso) => (iso ? shortFormat.format(new Date(iso)) : "—");

// The screen's one clock: the wall clock, or during a replay the replay's clock (the server says
// how the replay's time runs: its time at a wall-clock moment, and its speed).
let replay = config.replay;
function now() {
  if (!replay) return new Date();
  if (replay.state !== "playing") return new Date(replay.time);
  const elapsed = (Date.now() - Date.parse(replay.wall)) * replay.speed;
  return new Date(Math.min(Date.parse(replay.time) + elapsed, Date.parse(replay.end)));
}
function tick() {
  root.querySelector("[data-testid=wall-clock]").textContent = clockFormat.format(now());
  const badge = root.querySelector("[data-testid=wall-replay]");
  badge.hidden = !replay;
  if (replay) badge.textContent = replay.state === "playing" ? labels.replay : labels.replay_ended;
}
tick();
setInterval(tick, 1000);

function badge(colour, text) {
  return el("span", { class: `wall-badge c-${colour || "none"}`, "data-colour": colour || "", text });
}

function field(name) {
  return root.querySelector(`[data-field=${name}]`);
}

function renderSignal(section) {
  const box = field("signal");
  const sub = field("indication");
  box.replaceChildren();
  sub.textContent = "";
  if (!section || !section.available) { box.textContent = labels.unavailable; return; }
  const d = section.data;
  box.append(d.colour ? badge(d.colour, labels[d.colour]) : el("span", { class: "wall-quiet", text: labels.no_signal }));
  box.dataset.colour = d.colour || "";
  const parts = [];
  if (d.sent) parts.push(`${labels.issued} ${short(d.sent)}`);
  if (d.indication) parts.push(`${labels.indication}: ${labels[d.indication]}`);
  sub.textContent = parts.join(" · ");
}

function renderResponse(section) {
  const box = field("level");
  const bar = field("progress");
  const text = field("progress-text");
  box.replaceChildren();
  bar.replaceChildren();
  text.textContent = "";
  if (!section || !section.available) { box.textContent = labels.unavailable; return; }
  const d = section.data;
  box.dataset.level = d.level || "";
  box.append(d.level ? el("span", { class: `wall-level level-${d.level}`, text: labels.levels[d.level] })
    : el("span", { class: "wall-quiet", text: labels.no_response }));
  if (!d.progress) return;
  const total = Object.values(d.progress).reduce((a, b) => a + b, 0);
  if (!total) return;
  for (const status of ["done", "not_applicable", "confirmed", "pending"]) {
    const n = d.progress[status] || 0;
    if (n) bar.append(el("span", { class: `p-${status}`, style: `flex-grow: ${n}` }));
  }
  const finished = (d.progress.done || 0) + (d.progress.not_applicable || 0);
  text.textContent = labels.progress.replace("{done}", finished).replace("{confirmed}", d.progress.confirmed || 0)
    .replace("{total}", total);
}

function rows(tableId, items, cells) {
  const body = root.querySelector(`[data-testid=${tableId}] tbody`);
  body.replaceChildren();
  for (const item of items) {
    const tr = el("tr");
    for (const [text, cls] of cells(item)) tr.append(el("td", { class: cls || null, text: String(text) }));
    body.append(tr);
  }
  if (!items.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "wall-quiet", text: labels.none })));
}

function list(name, items, build) {
  const target = root.querySelector(`[data-list=${name}]`);
  target.replaceChildren();
  for (const item of items) target.append(build(item));
  if (!items.length) target.append(el("li", { class: "wall-quiet", text: labels.none }));
  root.querySelector(`[data-view=${name}]`).dataset.count = String(items.length);
}

function render(data) {
  const s = data.sections;
  root.querySelector("[data-testid=wall-asof]").textContent = short(data.as_of);
  if (data.replay !== undefined) replay = data.replay;
  renderSignal(s.signal);
  renderResponse(s.response);
  const fmt = (v) => Number(v || 0).toFixed(1);
  rows("wall-rain", s.rain && s.rain.available ? s.rain.data.ranking : [],
    (g) => [[g.name], [fmt(g.mm["1h"]), "num"], [fmt(g.mm["3h"]), "num"], [fmt(g.mm["24h"]), "num"], [fmt(g.mm.event), "num"]]);
  rows("wall-offices", s.offices && s.offices.available ? s.offices.data.items : [],
    (o) => [[o.name], [o.points_at_risk, `num c-${o.colour || "none"}`], [o.incidents, "num"], [o.tasks_open, "num"]]);
  list("points", s.points && s.points.available ? s.points.data.items : [], (p) => {
    const parts = [];
    if (p.observed_cm !== null) parts.push(`${labels.observed} ${Math.round(p.observed_cm)} cm`);
    if (p.forecast_peak_cm !== null) parts.push(`${labels.forecast} ${Math.round(p.forecast_peak_cm)} cm`);
    // Time to threshold only while it lies ahead and would raise the point's colour.
    const rank = (c) => ["blue", "yellow", "orange", "red"].indexOf(c);
    const eta = p.time_to_threshold_s > 0 && rank(p.next_colour) > rank(p.colour)
      ? el("span", { class: "wall-eta", text: labels.eta.replace("{colour}", labels[p.next_colour] || "")
        .replace("{minutes}", Math.round(p.time_to_threshold_s / 60)) })
      : null;
    return el("li", { "data-colour": p.colour || "" }, badge(p.colour, labels[p.colour] || labels.none), " ",
      el("span", { class: "wall-name", text: p.name }), eta, el("div", { class: "wall-sub", text: parts.join(" · ") }));
  });
  list("incidents", s.incidents && s.incidents.available ? s.incidents.data.items : [], (i) =>
    el("li", {}, i.new ? el("span", { class: "wall-new", text: labels.new }) : null,
      el("span", { class: "wall-name", text: i.title }),
      el("div", { class: "wall-sub", text: `${short(i.reported_at)} · ${i.location || ""}` })));
  list("notifications", s.notifications && s.notifications.available ? s.notifications.data.items.slice(0, 8) : [], (n) =>
    el("li", {}, el("span", { class: "wall-name", text: n.subject || "" }),
      el("div", { class: "wall-sub", text: [n.recipient, short(n.created_at)].filter(Boolean).join(" · ") })));
  list("duty", s.duty && s.duty.available ? s.duty.data.teams : [], (t) =>
    el("li", {}, el("span", { class: "wall-name", text: t.unit }),
      el("div", { class: "wall-sub", text: `${labels.leader}: ${t.leader || "—"}${t.leader_phone ? ` ${t.leader_phone}` : ""}` }),
      t.members.length ? el("div", { class: "wall-sub", text: t.members.join("、") }) : null));
  root.dataset.ready = "true";
}

document.addEventListener("fangxun:situation", (event) => render(event.detail));

// One view at a time on the right, each for config.cycle_s seconds.
const views = [...root.querySelectorAll(".wall-view")];
const dots = root.querySelector(".wall-dots");
for (const view of views) dots.append(el("span", { "data-view": view.dataset.view }));
let current = 0;
function show() {
  views.forEach((view, k) => view.classList.toggle("current", k === current));
  [...dots.children].forEach((dot, k) => dot.classList.toggle("current", k === current));
  root.dataset.view = views[current].dataset.view;
  current = (current + 1) % views.length;
}
show();
setInterval(show, config.cycle_s * 1000);
