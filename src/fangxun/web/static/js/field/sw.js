// The field app's service worker (scope /field/): the field pages and their assets open without a
// network. Pages: network first, the last copy when offline. Assets: cache first (their URLs carry
// the version). Form POSTs are never touched: the outbox in the page queues them itself.
const CACHE = "fangxun-field-v1";
const PAGES = [
  "/field",
  "/field/incidents/new",
  "/field/inspections/new",
  "/field/patrols/new",
  "/field/points/new",
  "/field/rectifications",
  "/field/stocktakes",
  "/field/transfers/new",
  "/field/drills/new",
  "/field/duty",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.allSettled(PAGES.map((url) => cache.add(new Request(url, { credentials: "same-origin" })))),
    ),
  );
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (
    url.pathname.startsWith("/field") ||
    url.pathname === "/hazards/points.geojson" ||
    url.pathname.startsWith("/web/basemap/")
  ) {
    event.respondWith(networkFirst(request));
  }
});
