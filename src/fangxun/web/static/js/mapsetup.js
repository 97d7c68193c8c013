// One map set-up for the four map pages (一张图, hazards, monitoring, forecast): a Leaflet map from
// the project's own files with fractional zoom, the offline hillshade, and one way to choose the
// first view (the features, else the terrain, else the fallback centre).

// The view when there is nothing to fit (no features, no terrain): all of China. The district's own
// data (its points, its hillshade) set the view on every map page.
export const FALLBACK_VIEW = Object.freeze({ center: [35.0, 105.0], zoom: 4 });

// A map in the element `id`; the hillshade is a single image, so zoom well past its native cells,
// fractionally, so that fitting the district's bounds fills the window.
export function createMap(id, options = {}) {
  const map = L.map(id, { zoomSnap: 0.25, maxZoom: 19, ...options });
  map.attributionControl.setPrefix(false);
  return map;
}

// The offline hillshade ({url, bounds}) as a non-interactive image layer.
export function hillshadeLayer(hillshade, attribution, options = {}) {
  return L.imageOverlay(hillshade.url, hillshade.bounds, { attribution, interactive: false, ...options });
}

// The first view: one point close up (unless `closeUp` is false), several fitted, else the
// terrain, else `fallback`.
export function fitView(map, { layer = null, hillshade = null, fallback = FALLBACK_VIEW, closeUp = true } = {}) {
  const count = layer ? layer.getLayers().length : 0;
  if (count === 1 && closeUp) {
    map.setView(layer.getLayers()[0].getLatLng(), 16);
  } else if (count >= 1) {
    map.fitBounds(layer.getBounds().pad(0.05));
  } else if (hillshade) {
    map.fitBounds(hillshade.bounds);
  } else {
    map.setView(fallback.center, fallback.zoom);
  }
}

// Import a sibling module with this module's own query string (the page's `?v=` version), so a
// module the page also loads by <script> is the same instance, not a second one.
// `base`: the importing module's import.meta.url.
export function sibling(name, base) {
  return import(`./${name}${new URL(base).search}`);
}
