// Situation room (一张图): the live side panel, live map layers (sensors with their latest values,
// the forecast max-depth overlay with a time slider, teams and warehouses), hazard points coloured
// by warnings and forecasts, and the command-room wall mode. Updates arrive as server-sent events
// (/situation/events); every text comes from the server (#situation-config), already translated.
import { sibling } from "./mapsetup.js";

const config = JSON.parse(document.getElementById("situation-config").textContent);
const labels = config.labels;
const root = document.getElementById("situation");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function badge(colour) {
  if (!colour) return el("span", { class: "sit-badge none", text: labels.none });
  return el("span", { class: `sit-badge c-${colour}`, "data-colour": colour, text: labels[colour] || colour });
}

// Times in the district's zone (the setting, from the server), whatever the browser's own.
const beijing = new Intl.DateTimeFormat("zh-CN", {
  timeZone: config.timezone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const beijingShort = new Intl.DateTimeFormat("zh-CN", {
  timeZone: config.timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
const fmtTime = (iso) => (iso ? beijingShort.format(new Date(iso)) : "—");

// The page's one clock is the top bar's (clock.js); the hidden panel of the wall keeps its own.
const panelClock = root.querySelector("[data-testid=sit-clock]");
function tick() {
  if (panelClock) panelClock.textContent = beijing.format(new Date());
}
tick();
setInterval(tick, 1000);

// --- the panel ----------------------------------------------------------------------------------

function section(data, key, fill) {
  const box = root.querySelector(`[data-key=${key}]`);
  const target = box.querySelector("[data-testid]");
  target.replaceChildren();
  const item = data.sections[key];
  box.classList.toggle("unavailable", !item || !item.available);
  if (!item || !item.available) {
    target.append(el("span", { class: "sit-na", title: item ? item.reason : "", text: labels.unavailable }));
    return;
  }
  fill(target, item.data);
}

function render(data) {
  root.querySelector("[data-testid=sit-asof]").textContent = fmtTime(data.as_of);
  section(data, "signal", (t, d) => {
    t.append(d.colour ? badge(d.colour) : el("span", { class: "sit-quiet", text: labels.no_signal }));
    t.dataset.colour = d.colour || "";
    // The official signal is the meteorological service's; what our gauges indicate is beside it.
    if (d.indication) t.append(el("div", { class: "sit-sub", text: `${labels.indication}: ${labels[d.indication] || d.indication}` }));
  });
  section(data, "response", (t, d) => {
    t.append(el("span", { class: d.level ? "sit-level" : "sit-quiet", text: d.level || labels.no_response }));
    t.dataset.level = d.level || "";
  });
  section(data, "rain", (t, d) => {
    const row = el("div", { class: "sit-rain-row" });
    for (const [key, label] of [["1h", labels.h1], ["3h", labels.h3], ["24h", labels.h24], ["event", labels.event]]) {
      row.append(el("div", { class: "sit-rain-cell", "data-window": key },
        el("span", { class: "sit-rain-label", text: label }),
        el("strong", { text: Number(d.max_mm[key] || 0).toFixed(1) })));
    }
    t.append(row);
  });
  section(data, "points", (t, d) => {
    if (!d.items.length) t.append(el("li", { class: "sit-quiet", text: labels.no_points }));
    for (const p of d.items) {
      const parts = [];
      if (p.observed_cm !== null) parts.push(`${labels.observed} ${Math.round(p.observed_cm)} cm`);
      if (p.forecast_peak_cm !== null) parts.push(`${labels.forecast} ${Math.round(p.forecast_peak_cm)} cm`);
      if (p.time_to_threshold_s) {
        parts.push(`${labels[p.next_colour] || ""} ${Math.round(p.time_to_threshold_s / 60)} ${labels.minutes}`);
      }
      const li = el("li", { "data-point": p.id, "data-colour": p.colour || "", "data-ahead": String(p.forecast_ahead) },
        badge(p.colour), " ", el("a", { href: p.url, text: p.name }),
        el("div", { class: "sit-sub", text: parts.join(" · ") }));
      if (p.forecast_ahead) li.append(el("div", { class: "sit-ahead", text: labels.ahead }));
      t.append(li);
    }
  });
  section(data, "incidents", (t, d) => {
    if (!d.items.length) t.append(el("li", { class: "sit-quiet", text: labels.none }));
    for (const i of d.items) {
      t.append(el("li", { "data-incident": i.id },
        i.new ? el("span", { class: "sit-new", text: labels.new }) : null,
        el("a", { href: i.url, text: i.title }),
        el("div", { class: "sit-sub", text: `${fmtTime(i.reported_at)} · ${i.location || ""}` })));
    }
  });
  section(data, "notifications", (t, d) => {
    if (!d.items.length) t.append(el("li", { class: "sit-quiet", text: labels.none }));
    for (const n of d.items) {
      t.append(el("li", {}, el("span", { text: n.subject || "" }),
        el("div", { class: "sit-sub", text: [n.recipient, fmtTime(n.created_at)].filter(Boolean).join(" · ") })));
    }
  });
  section(data, "duty", (t, d) => {
    if (!d.teams.length) t.append(el("li", { class: "sit-quiet", text: labels.none }));
    for (const team of d.teams) {
      t.append(el("li", {}, el("strong", { text: team.unit }),
        el("div", { class: "sit-sub", text: `${labels.leader}: ${team.leader || "—"}${team.leader_phone ? ` (${team.leader_phone})` : ""}` }),
        team.members.length ? el("div", { class: "sit-sub", text: team.members.join("、") }) : null));
    }
  });
  root.dataset.updated = data.as_of;
}

// --- the live map layers ----------------------------------------------------------------------

// The page's own map module (the same instance as its <script>: same URL, same ?v=), once its
// overlays have loaded; `{ map, overlays }` as the layer functions below take it.
async function mapReady() {
  const { map, overlayByKey, ready } = await sibling("map.js", import.meta.url);
  await ready;
  return { map, overlays: overlayByKey };
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function svgChart(series) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 240 90");
  svg.setAttribute("class", "sit-chart");
  const pts = series.points.map(([t, v]) => [Date.parse(t), v]);
  if (!pts.length) return el("div", { class: "sit-quiet", text: labels.no_data });
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.min(0, ...ys);
  const y1 = Math.max(...ys, y0 + 1e-6);
  const X = (x) => 4 + ((x - x0) / (x1 - x0)) * 232;
  const Y = (y) => 84 - ((y - y0) / (y1 - y0)) * 76;
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1f78b4");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  const top = document.createElementNS(ns, "text");
  top.setAttribute("x", "4"); top.setAttribute("y", "10"); top.setAttribute("font-size", "9");
  top.textContent = `${y1.toFixed(2)} ${series.unit}`;
  svg.append(top);
  return svg;
}

function stationPopup(s) {
  const box = el("div", { class: "sit-popup", "data-station": s.code }, el("strong", { text: `${s.code} ${s.name}` }));
  for (const d of s.datastreams) {
    box.append(el("div", { class: d.level_status ? `level-${d.level_status}` : null, text: `${d.label}: ${d.text}` }));
  }
  const chartBox = el("div", { class: "sit-chart-box" }, el("div", { class: "sit-sub", text: labels.series }));
  box.append(chartBox);
  if (s.datastreams.length) {
    getJSON(`${config.sources.series}${encodeURIComponent(s.datastreams[0].code)}.json`)
      .then((series) => chartBox.append(svgChart(series)))
      .catch((error) => console.warn(error.message));
  }
  return box;
}

const stationMarkers = new Map();
async function refreshStations(fx) {
  const group = fx.overlays.gauges;
  if (!group) return;
  const stations = await getJSON(config.sources.stations);
  for (const s of stations) {
    let marker = stationMarkers.get(s.code);
    if (!marker) {
      // A gauge is a square (the legend's), never a disc like a hazard point.
      marker = L.marker([s.lat, s.lon], { icon: shapeIcon("station", s.colour), keyboard: false });
      marker.bindPopup(() => stationPopup(marker.station));
      marker.addTo(group);
      stationMarkers.set(s.code, marker);
    }
    marker.station = s;
    const alarm = s.datastreams.some((d) => d.level_status === "warning" || d.level_status === "guarantee");
    marker.setIcon(shapeIcon(alarm ? "station alarm" : "station", s.colour));
  }
  if (!fx.map.hasLayer(group)) group.addTo(fx.map);
  group.featureCount = stationMarkers.size;
}

// Symbols drawn as small HTML shapes (square gauge, triangle team, diamond warehouse).
function shapeIcon(kind, colour) {
  return L.divIcon({
    className: "",
    html: `<span class="sym sym-${kind}" style="--sym: ${colour || "#666"}"></span>`,
    iconSize: [14, 14],
    iconAnchor: [7, 7],
  });
}

let forecastRun = null;
let overlayImage = null;
let slider = null;
function showForecast(fx, forecast) {
  const group = fx.overlays.ponding;
  if (!group || !forecast || forecast.run === forecastRun) return;
  forecastRun = forecast.run;
  group.clearLayers();
  overlayImage = L.imageOverlay(forecast.overlay, forecast.bounds, { opacity: 0.75, interactive: false, className: "sit-forecast" });
  overlayImage.addTo(group);
  if (!fx.map.hasLayer(group)) group.addTo(fx.map);
  group.featureCount = 1;
  if (slider) slider.remove();
  slider = L.control({ position: "bottomleft" });
  slider.onAdd = () => {
    const box = L.DomUtil.create("div", "map-panel sit-slider");
    box.dataset.testid = "forecast-slider";
    const caption = el("div", { class: "sit-sub", text: `${labels.forecast_time}: ${labels.max_depth}` });
    const input = el("input", { type: "range", min: "0", max: String(forecast.frames.length), value: "0", step: "1" });
    input.setAttribute("aria-label", labels.forecast_time);
    input.addEventListener("input", () => {
      const k = Number(input.value);
      if (k === 0) {
        overlayImage.setUrl(forecast.overlay);
        caption.textContent = `${labels.forecast_time}: ${labels.max_depth}`;
      } else {
        const frame = forecast.frames[k - 1];
        overlayImage.setUrl(frame.url);
        caption.textContent = `${labels.forecast_time}: ${fmtTime(frame.time)}`;
      }
    });
    box.append(caption, input);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  slider.addTo(fx.map);
}

let resourcesLoaded = false;
async function showResources(fx) {
  const group = fx.overlays.resources;
  if (!group || resourcesLoaded) return;
  resourcesLoaded = true;
  const data = await getJSON(config.sources.resources);
  const perPlace = new Map();
  L.geoJSON(data, {
    pointToLayer: (feature, latlng) => {
      const key = `${latlng.lat},${latlng.lng}`;
      const n = perPlace.get(key) || 0;
      perPlace.set(key, n + 1);
      // Teams sit at their unit's warehouse: fan them out a little so each can be clicked.
      const at = L.latLng(latlng.lat, latlng.lng + n * 0.0008);
      const team = feature.properties.kind === "team";
      const colour = team ? (feature.properties.readiness === "standby" ? "#33a02c" : "#999") : "#8c510a";
      return L.marker(at, { icon: shapeIcon(team ? "team" : "warehouse", colour), keyboard: false });
    },
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      const box = el("div", { class: "sit-popup" }, el("strong", { text: `${p.kind === "team" ? labels.team : labels.warehouse}: ${p.name}` }),
        el("div", { class: "sit-sub", text: p.unit }));
      if (p.kind === "team") {
        box.append(el("div", { text: `${labels.readiness}: ${p.readiness} · ${labels.members}: ${p.members}` }));
        if (p.phone) box.append(el("div", { text: p.phone }));
        if (p.equipment.length) box.append(el("div", { class: "sit-sub", text: p.equipment.join("、") }));
      } else {
        const list = el("ul", { class: "sit-stock" });
        for (const line of p.stock.slice(0, 12)) list.append(el("li", { text: `${line.item}: ${line.quantity} ${line.unit_of_measure}` }));
        box.append(el("div", { text: labels.stock }), list);
      }
      layer.bindPopup(box);
    },
  }).addTo(group);
  if (!fx.map.hasLayer(group)) group.addTo(fx.map);
  group.featureCount = data.features.length;
}

function hazardPopup(feature, risk) {
  const p = feature.properties;
  const box = el("div", { class: "sit-popup", "data-point": feature.id }, el("strong", { text: `${p.code || ""} ${p.name || ""}` }));
  if (risk) {
    box.append(el("div", {}, badge(risk.colour)));
    if (risk.observed_cm !== null) box.append(el("div", { text: `${labels.observed}: ${Math.round(risk.observed_cm)} cm` }));
    if (risk.forecast_peak_cm !== null) box.append(el("div", { text: `${labels.forecast}: ${Math.round(risk.forecast_peak_cm)} cm` }));
    if (risk.time_to_threshold_s) {
      box.append(el("div", { text: `${labels[risk.next_colour] || ""}: ${Math.round(risk.time_to_threshold_s / 60)} ${labels.minutes}` }));
    }
    if (risk.forecast_ahead) box.append(el("div", { class: "sit-ahead", text: labels.ahead }));
  }
  box.append(el("div", {}, el("a", { href: `/hazards/points/${feature.id}`, text: labels.point_page })));
  box.append(el("div", {}, el("a", { href: "/incidents", text: labels.report })));
  return box;
}

function colourHazards(fx, data) {
  const group = fx.overlays.hazards;
  const points = data.sections.points;
  if (!group || !points || !points.available) return;
  const risks = new Map(points.data.items.map((p) => [String(p.id), p]));
  const colours = points.data.colours;
  group.eachLayer((geo) => {
    if (!geo.eachLayer) return;
    geo.eachLayer((layer) => {
      const feature = layer.feature;
      if (!feature) return;
      // The point keeps its own symbol (white disc, dark ring); its risk colour fills it.
      const colour = colours[String(feature.id)];
      layer.setStyle({
        fillColor: colour ? config.colours[colour] : "#ffffff",
        radius: colour ? 8 : 6,
      });
      if (layer.getElement && layer.getElement()) layer.getElement().dataset.colour = colour || "";
      layer.bindPopup(() => hazardPopup(feature, risks.get(String(feature.id))));
    });
  });
}

// --- wiring ---------------------------------------------------------------------------------------

let latest = null;
let fx = null;
async function apply(data) {
  latest = data;
  render(data);
  // The wall and the top bar's clock read the same snapshot.
  document.dispatchEvent(new CustomEvent("fangxun:situation", { detail: data }));
  if (!fx) return;
  colourHazards(fx, data);
  showForecast(fx, data.forecast);
  try {
    await refreshStations(fx);
  } catch (error) {
    console.warn(`stations: ${error.message}`);
  }
}

function connect() {
  const live = root.querySelector("[data-testid=sit-live]");
  const source = new EventSource(config.sources.events);
  source.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = labels.live;
  });
  source.addEventListener("error", () => {
    live.dataset.state = "offline";
    live.textContent = labels.offline;
  });
  source.addEventListener("situation", (event) => {
    apply(JSON.parse(event.data)).catch((error) => console.warn(error.message));
  });
}

function cycle() {
  // The wall shows the signal, the level and the rain always, the lists one at a time.
  const panels = [...root.querySelectorAll(".sit-points, .sit-incidents, .sit-notifications, .sit-duty")];
  let k = 0;
  const show = () => {
    panels.forEach((p, i) => p.classList.toggle("sit-current", i === k));
    k = (k + 1) % panels.length;
  };
  show();
  setInterval(show, config.cycle_s * 1000);
}

if (config.wall) {
  document.body.classList.add("wall");
  cycle();
}
apply(await getJSON(config.sources.snapshot));
connect();
fx = await mapReady();
await showResources(fx).catch((error) => console.warn(`resources: ${error.message}`));
if (latest) await apply(latest);
root.dataset.ready = "true";
