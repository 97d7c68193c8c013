// Monitoring page: stations on a Leaflet map, a small SVG chart per datastream, live values by
// server-sent events (/monitoring/events). No build step, no third-party chart library.
import { createMap, fitView, hillshadeLayer } from "./mapsetup.js";

const data = JSON.parse(document.getElementById("mon-data").textContent);
const map = createMap("mon-map");
if (data.hillshade) hillshadeLayer(data.hillshade, data.labels.terrain).addTo(map);
const layer = L.featureGroup().addTo(map);
const markers = new Map();

function fmt(d) {
  if (d.value === null || d.value === undefined) return `${d.name}: ${data.labels.no_data}`;
  const flag = d.flags && d.flags.length ? ` (${data.labels.flagged}: ${d.flags.join(", ")})` : "";
  return `${d.label}: ${d.text}${flag}`;
}

function popup(s) {
  const box = document.createElement("div");
  const title = document.createElement("strong");
  title.textContent = `${s.code} ${s.name}`;
  box.appendChild(title);
  for (const d of s.datastreams) {
    const line = document.createElement("div");
    line.textContent = fmt(d);
    if (d.level_status === "warning" || d.level_status === "guarantee") line.className = `level-${d.level_status}`;
    box.appendChild(line);
  }
  return box;
}

function show(stations) {
  for (const s of stations) {
    let m = markers.get(s.code);
    if (!m) {
      m = L.circleMarker([s.lat, s.lon], { radius: 7, color: "#333", weight: 1, fillColor: s.colour, fillOpacity: 0.9 });
      m.on("click", () => chart(s));
      m.addTo(layer);
      markers.set(s.code, m);
    }
    m.bindPopup(popup(s));
    const cell = document.querySelector(`#mon-rows tr[data-code="${CSS.escape(s.code)}"] td[data-role=values]`);
    if (cell) cell.textContent = s.datastreams.map((d) => (s.datastreams.length > 1 ? `${d.label} ${d.text}` : d.text)).join(" · ");
  }
}

function svgChart(series) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 600 260");
  const pts = series.points.map(([t, v]) => [Date.parse(t), v]);
  const title = document.createElementNS(ns, "text");
  title.setAttribute("x", "8"); title.setAttribute("y", "16");
  // The unit of the values and the zone of the time axis (the district's, whatever the browser's).
  title.textContent = `${series.name} (${series.unit}) · ${data.labels.beijing_time}`;
  svg.appendChild(title);
  if (!pts.length) return svg;
  const xs = pts.map((p) => p[0]); const ys = pts.map((p) => p[1]);
  const levels = [series.warning, series.guarantee].filter((x) => x !== null);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  // Depths and rain start at 0; a river level is read against its own range and limits.
  const y0 = series.unit === "m" ? Math.min(...ys, ...levels) - 0.1 : Math.min(0, ...ys);
  const y1 = Math.max(...ys, ...levels, y0 + 0.2);
  const X = (x) => 40 + ((x - x0) / Math.max(1, x1 - x0)) * 550;
  const Y = (y) => 240 - ((y - y0) / Math.max(1e-9, y1 - y0)) * 210;
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#1f78b4"); line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  for (const [lvl, colour] of [[series.warning, "#ff7f00"], [series.guarantee, "#e31a1c"]]) {
    if (lvl === null) continue;
    const l = document.createElementNS(ns, "line");
    l.setAttribute("x1", "40"); l.setAttribute("x2", "590"); l.setAttribute("y1", Y(lvl)); l.setAttribute("y2", Y(lvl));
    l.setAttribute("stroke", colour); l.setAttribute("stroke-dasharray", "4 3");
    svg.appendChild(l);
  }
  const text = (x, y, str, attrs = {}) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(x)); t.setAttribute("y", String(y)); t.setAttribute("font-size", "12");
    for (const [k, v] of Object.entries(attrs)) t.setAttribute(k, v);
    t.textContent = str;
    svg.appendChild(t);
  };
  // Value axis: the range ends (the unit is in the title); threshold lines with their value.
  for (const y of [y0, y1]) text(2, Y(y) + 4, y.toFixed(y1 - y0 < 10 ? 2 : 0));
  // (colours as the lines: orange the warning level, red the guarantee level)
  for (const [lvl, colour] of [[series.warning, "#ff7f00"], [series.guarantee, "#e31a1c"]]) {
    if (lvl === null) continue;
    text(588, Y(lvl) - 3, `${Number(lvl).toFixed(2)} ${series.unit}`, { "text-anchor": "end", fill: colour });
  }
  // Time axis in the district's zone (the setting, from the server) whatever the browser's
  // zone: five ticks across the span.
  const fmt = new Intl.DateTimeFormat("zh-CN", { timeZone: data.timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  const axis = document.createElementNS(ns, "line");
  axis.setAttribute("x1", "40"); axis.setAttribute("x2", "590"); axis.setAttribute("y1", "240"); axis.setAttribute("y2", "240");
  axis.setAttribute("stroke", "#999");
  svg.appendChild(axis);
  for (let i = 0; i <= 4; i++) {
    const tx = x0 + ((x1 - x0) * i) / 4;
    text(X(tx), 254, fmt.format(new Date(tx)), { "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
  }
  return svg;
}

let current = null;
async function chart(s) {
  current = s;
  document.getElementById("mon-chart-title").textContent = `${s.code} ${s.name} · ${data.labels.hours}`;
  const box = document.getElementById("mon-charts");
  box.replaceChildren();
  for (const d of s.datastreams) {
    const r = await fetch(`/monitoring/series/${encodeURIComponent(d.code)}.json?hours=24`);
    if (r.ok) box.appendChild(svgChart(await r.json()));
  }
}

show(data.stations);
fitView(map, { layer, hillshade: data.hillshade, closeUp: false });
for (const row of document.querySelectorAll("#mon-rows tr")) {
  row.addEventListener("click", () => {
    const s = data.stations.find((x) => x.code === row.dataset.code);
    if (s) chart(s);
  });
}

const live = document.getElementById("mon-live");
const source = new EventSource("/monitoring/events");
window.fxMonitoringEvents = source; // tests close it before the page goes away
source.addEventListener("latest", (ev) => {
  const stations = JSON.parse(ev.data);
  data.stations = stations;
  show(stations);
  live.dataset.updated = new Date().toISOString();
  if (current) {
    const s = stations.find((x) => x.code === current.code);
    if (s) chart(s);
  }
});
source.onerror = () => { live.dataset.error = "true"; };
document.getElementById("mon-map").dataset.ready = "true";
