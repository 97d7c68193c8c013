// The field app's outbox: forms wait in IndexedDB (photos included, as Blobs) until they are sent.
//
// Each entry carries a client key (a UUID made here) that goes with every try: the server applies
// a key once, so a retry after a lost answer or a double tap never makes two records. An entry is
// "waiting" until the server answers; then "sent" (with the link to what it made), "conflict"
// (the world changed meanwhile: the message says how) or "refused" (the form was wrong). Network
// errors and server errors (5xx) leave it waiting for the next try.

const DB_NAME = "fangxun-field";
const STORE = "outbox";
//: How long sent entries stay listed, ms (one day).
const KEEP_SENT_MS = 24 * 3600 * 1000;

let dbPromise = null;
let flushing = null;
const listeners = new Set();

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE, { keyPath: "key" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return dbPromise;
}

async function withStore(mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** A new client key: a random UUID (version 4). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Every entry, oldest first. */
export async function entries() {
  const all = await withStore("readonly", (store) => store.getAll());
  return all.sort((a, b) => a.queuedAt - b.queuedAt);
}

async function put(entry) {
  await withStore("readwrite", (store) => store.put(entry));
  notify();
}

/** Forget an entry (a refused or conflicting one the person has read). */
export async function remove(key) {
  await withStore("readwrite", (store) => store.delete(key));
  notify();
}

/** Call ``listener`` whenever the outbox changes. */
export function onChange(listener) {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener();
}

/**
 * Queue a submission: ``fields`` is a list of {name, value} or {name, blob, filename}.
 * Returns the entry (with its client key) once it is safely stored.
 */
export async function queue(url, label, fields) {
  const entry = {
    key: newKey(),
    url,
    label,
    fields,
    queuedAt: Date.now(),
    state: "waiting",
    message: "",
    resultUrl: null,
    tries: 0,
  };
  await put(entry);
  return entry;
}

/** The fields of a form as the outbox keeps them (empty file inputs and the CSRF token left out). */
export function formFields(form) {
  const fields = [];
  for (const [name, value] of new FormData(form)) {
    if (name === "csrf_token") continue;
    if (value instanceof Blob) {
      if (value.size > 0) fields.push({ name, blob: value, filename: value.name || "photo.jpg" });
    } else {
      fields.push({ name, value });
    }
  }
  return fields;
}

function csrfToken() {
  const meta = document.querySelector("meta[name=csrf-token]");
  return meta ? meta.content : "";
}

async function send(entry) {
  const body = new FormData();
  body.append("client_key", entry.key);
  for (const field of entry.fields) {
    if (field.blob) body.append(field.name, field.blob, field.filename);
    else body.append(field.name, field.value);
  }
  const response = await fetch(entry.url, {
    method: "POST",
    body,
    credentials: "same-origin",
    redirect: "manual",
    headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
  });
  const isJson = (response.headers.get("content-type") || "").includes("application/json");
  const answer = isJson ? await response.json() : {};
  return { status: response.status, redirected: response.type === "opaqueredirect", isJson, answer };
}

/**
 * Send every waiting entry, oldest first. Stops at the first network error (offline) or when the
 * session needs a new login; returns how many were answered.
 */
export function flush() {
  if (!flushing) {
    flushing = doFlush().finally(() => {
      flushing = null;
    });
  }
  return flushing;
}

async function doFlush() {
  let answered = 0;
  const now = Date.now();
  for (const entry of await entries()) {
    if (entry.state === "sent" && now - entry.queuedAt > KEEP_SENT_MS) {
      await remove(entry.key);
      continue;
    }
    if (entry.state !== "waiting") continue;
    let reply;
    try {
      entry.tries += 1;
      reply = await send(entry);
    } catch {
      // Offline or the server unreachable: keep it for the next try.
      await put(entry);
      break;
    }
    if (reply.redirected || reply.status === 401 || (reply.status === 403 && !reply.isJson)) {
      entry.message = "login";
      await put(entry);
      break;
    }
    if (reply.status >= 500 || !reply.isJson) {
      entry.message = `HTTP ${reply.status}`;
      await put(entry);
      break;
    }
    answered += 1;
    entry.message = reply.answer.message || "";
    if (reply.status === 200 || reply.status === 201) {
      entry.state = "sent";
      entry.resultUrl = reply.answer.result_url || null;
      entry.fields = [];  // the photos are on the server now; free the phone's storage
    } else if (reply.status === 409) {
      entry.state = "conflict";
    } else {
      entry.state = "refused";
    }
    await put(entry);
  }
  return answered;
}
