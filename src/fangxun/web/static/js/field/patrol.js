// Recording a patrol (河道巡查): the track follows the phone (watchPosition), findings are pinned
// at the latest position, and "Finish" queues the patrol in the outbox (track, findings, photos).
// The server thins the track; here every fix is kept, with its accuracy.
import { queue, flush } from "./outbox.js";

const form = document.getElementById("patrol-form");
const data = form.dataset;
const track = [];
let watchId = null;
let startedAt = null;
let map = null;
let line = null;
const findingsBox = document.getElementById("patrol-findings");
const template = document.getElementById("finding-template");

function lastFix() {
  return track.length ? track[track.length - 1] : null;
}

function metres(a, b) {
  // Equirectangular distance, m: plenty for the counter on the screen (the server measures
  // the stored line on the ellipsoid).
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const x = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.hypot(x, y) * r;
}

function showProgress() {
  let length = 0;
  for (let i = 1; i < track.length; i += 1) length += metres(track[i - 1], track[i]);
  document.getElementById("patrol-fixes").textContent = String(track.length);
  document.getElementById("patrol-length").textContent = String(Math.round(length));
  if (map && track.length) {
    const latlngs = track.map((p) => [p.lat, p.lon]);
    if (!line) line = L.polyline(latlngs, { color: "#0b4f8a", weight: 4 }).addTo(map);
    else line.setLatLngs(latlngs);
    map.setView(latlngs[latlngs.length - 1]);
  }
}

function onFix(pos) {
  const fix = {
    lon: +pos.coords.longitude.toFixed(7),
    lat: +pos.coords.latitude.toFixed(7),
    accuracy_m: Math.round(pos.coords.accuracy * 10) / 10,
  };
  const last = lastFix();
  if (last && last.lon === fix.lon && last.lat === fix.lat) return;
  track.push(fix);
  showProgress();
}

function start() {
  if (watchId !== null) return;
  startedAt = new Date();
  form.classList.add("recording");
  watchId = navigator.geolocation.watchPosition(onFix, (err) => {
    document.getElementById("patrol-status").textContent = err.message;
  }, { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
  if (!map && window.L) {
    map = L.map("patrol-map", { attributionControl: false }).setView([34.81, 113.55], 15);
    fetch("/field/reaches.geojson", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((geo) => geo && L.geoJSON(geo, { style: { color: "#1f78b4", weight: 3 } }).addTo(map))
      .catch(() => {});
  }
  document.getElementById("patrol-status").textContent = data.lRecording;
}

function addFinding() {
  const fix = lastFix();
  if (!fix) {
    document.getElementById("patrol-status").textContent = data.lNoFix;
    return;
  }
  const node = template.content.firstElementChild.cloneNode(true);
  node.dataset.lon = String(fix.lon);
  node.dataset.lat = String(fix.lat);
  node.querySelector(".finding-where").textContent = `${fix.lat.toFixed(5)}, ${fix.lon.toFixed(5)}`;
  node.querySelector(".finding-remove").addEventListener("click", () => node.remove());
  findingsBox.append(node);
  if (map) L.circleMarker([fix.lat, fix.lon], { radius: 7, color: "#d7301f" }).addTo(map);
  node.querySelector("textarea").focus();
}

async function finish(event) {
  event.preventDefault();
  if (form.dataset.busy) return;
  if (track.length < 2) {
    document.getElementById("patrol-status").textContent = data.lShort;
    return;
  }
  form.dataset.busy = "1";
  if (watchId !== null) navigator.geolocation.clearWatch(watchId);
  watchId = null;
  const plan = form.querySelector("select[name=plan_id]").value;
  const unit = form.querySelector("select[name=unit_id]").value;
  const findings = [];
  const fields = [];
  for (const node of findingsBox.querySelectorAll(".patrol-finding")) {
    const note = node.querySelector("textarea").value.trim();
    if (!note) continue;
    const file = node.querySelector("input[type=file]").files[0];
    if (file) {
      fields.push({ name: "photos", blob: file, filename: file.name || "photo.jpg" });
      fields.push({ name: "photo_finding", value: String(findings.length) });
    }
    findings.push({ lon: +node.dataset.lon, lat: +node.dataset.lat, note });
  }
  const notes = form.querySelector("textarea[name=notes]").value.trim();
  const payload = {
    plan_id: plan ? +plan : null,
    unit_id: plan ? null : +unit,
    started_at: startedAt.toISOString(),
    ended_at: new Date().toISOString(),
    track: track.slice(),
    notes: notes || null,
    findings,
  };
  fields.unshift({ name: "payload", value: JSON.stringify(payload) });
  await queue(form.action, form.dataset.label, fields);
  track.length = 0;
  findingsBox.replaceChildren();
  form.classList.remove("recording");
  delete form.dataset.busy;
  document.getElementById("patrol-status").textContent = data.lQueued;
  showProgress();
  flush();
}

document.getElementById("patrol-start").addEventListener("click", start);
document.getElementById("patrol-finding").addEventListener("click", addFinding);
form.addEventListener("submit", finish);
