// The field app on every field page: installs the service worker, sends forms through the outbox,
// shows what is waiting, fills positions from the phone, and tries again when the network returns.
import { entries, flush, formFields, onChange, queue, remove } from "./outbox.js";

const panel = document.getElementById("outbox");
const labels = panel ? panel.dataset : {};
//: How often waiting entries are tried again while the page is open, ms.
const RETRY_MS = 20000;

function text(tag, content, className) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

async function render() {
  if (!panel) return;
  const list = panel.querySelector(".outbox-list");
  const all = await entries();
  const waiting = all.filter((e) => e.state === "waiting");
  panel.querySelector("[data-testid=outbox-count]").textContent = String(waiting.length);
  panel.classList.toggle("has-waiting", waiting.length > 0);
  list.replaceChildren();
  for (const entry of all.slice().reverse()) {
    const item = document.createElement("li");
    item.className = `outbox-item state-${entry.state}`;
    item.dataset.key = entry.key;
    item.append(text("span", entry.label, "what"));
    const when = new Date(entry.queuedAt).toLocaleString(document.documentElement.lang || undefined);
    item.append(text("span", when, "when"));
    let state = labels[`l${entry.state[0].toUpperCase()}${entry.state.slice(1)}`] || entry.state;
    if (entry.state === "waiting" && entry.message === "login") state = labels.lLogin;
    item.append(text("span", state, "state"));
    if (entry.message && entry.message !== "login" && entry.state !== "sent") {
      item.append(text("span", entry.message, "message"));
    }
    if (entry.state === "sent" && entry.resultUrl) {
      const link = text("a", labels.lOpen, "open");
      link.href = entry.resultUrl;
      item.append(link);
    }
    if (entry.state === "conflict" || entry.state === "refused" || entry.state === "sent") {
      const button = text("button", labels.lRemove, "remove");
      button.type = "button";
      button.addEventListener("click", () => remove(entry.key));
      item.append(button);
    }
    list.append(item);
  }
  const net = panel.querySelector(".net-state");
  net.textContent = navigator.onLine ? labels.lOnline : labels.lOffline;
  net.classList.toggle("offline", !navigator.onLine);
}

function fillNow(form) {
  for (const input of form.querySelectorAll("input[data-now]")) {
    if (!input.value) input.value = new Date().toISOString();
  }
}

function bindForms() {
  for (const form of document.querySelectorAll("form[data-outbox]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.busy) return;  // a double tap queues once
      form.dataset.busy = "1";
      try {
        fillNow(form);
        await queue(form.action, form.dataset.label || document.title, formFields(form));
        if (!form.dataset.keep) {
          form.reset();
          // The next report starts where the phone is now, not blank.
          for (const button of form.querySelectorAll("[data-geolocate][data-auto]")) {
            locate(button.closest("fieldset, form"));
          }
        }
        for (const input of form.querySelectorAll("input[data-now]")) input.value = "";
        const done = form.querySelector(".queued-note");
        if (done) done.hidden = false;
        form.dispatchEvent(new CustomEvent("outbox:queued"));
      } finally {
        delete form.dataset.busy;
      }
      flush();
    });
  }
}

/** Fill the lon/lat inputs of ``scope`` with the phone's position. */
export function locate(scope, onFix) {
  if (!navigator.geolocation) return;
  const status = scope.querySelector(".geo-status");
  if (status) status.textContent = labels.lLocating || "";
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      const lon = scope.querySelector("input[data-role=lon]");
      const lat = scope.querySelector("input[data-role=lat]");
      if (lon) lon.value = pos.coords.longitude.toFixed(6);
      if (lat) lat.value = pos.coords.latitude.toFixed(6);
      if (status) status.textContent = `± ${Math.round(pos.coords.accuracy)} m`;
      lon && lon.dispatchEvent(new Event("change", { bubbles: true }));
      if (onFix) onFix(pos);
    },
    (err) => {
      if (status) status.textContent = err.message;
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
  );
}

function bindGeolocation() {
  for (const button of document.querySelectorAll("[data-geolocate]")) {
    const scope = button.closest("fieldset, form") || document;
    button.addEventListener("click", () => locate(scope));
    if (button.dataset.auto !== undefined) {
      const lon = scope.querySelector("input[data-role=lon]");
      if (lon && !lon.value) locate(scope);
    }
  }
}

if (panel) {
  panel.querySelector(".outbox-send").addEventListener("click", () => flush());
  onChange(render);
  window.addEventListener("online", () => flush().then(render));
  window.addEventListener("offline", render);
  setInterval(() => navigator.onLine && flush(), RETRY_MS);
}

const swMeta = document.querySelector("meta[name=field-sw]");
if ("serviceWorker" in navigator && swMeta) {
  navigator.serviceWorker.register(swMeta.content, { scope: "/field" }).catch(() => {
    // Without a service worker the pages still queue forms; they only do not open offline.
  });
}

bindForms();
bindGeolocation();
render().then(() => flush());
