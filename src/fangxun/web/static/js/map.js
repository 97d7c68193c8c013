// Map page (一张图): Leaflet from the project's own static files, an offline hillshade basemap,
// an optional online tile layer, and the layer switcher and legend that later layers plug into.
// Every text comes from the server (#map-config), already translated.
import { createMap, hillshadeLayer } from "./mapsetup.js";

const config = JSON.parse(document.getElementById("map-config").textContent);
const labels = config.labels;

export const map = createMap("map", { zoomControl: true, attributionControl: true });
L.control.scale({ metric: true, imperial: false, position: "bottomleft" }).addTo(map);

export const baseLayers = {};
// The office's own tiles first (MBTiles, offline), then its hillshade, then online tiles.
if (config.mbtiles) {
  baseLayers[labels.mbtiles] = L.tileLayer(config.mbtiles.url, {
    minZoom: 0,
    maxZoom: 19,
    minNativeZoom: config.mbtiles.min_zoom,
    maxNativeZoom: config.mbtiles.max_zoom,
    attribution: config.mbtiles.attribution,
    ...(config.mbtiles.bounds ? { bounds: config.mbtiles.bounds } : {}),
  });
}
if (config.hillshade) {
  baseLayers[labels.hillshade] = hillshadeLayer(config.hillshade, labels.terrain, {
    className: "fangxun-hillshade",
  });
}
if (config.tiles) {
  baseLayers[labels.tiles] = L.tileLayer(config.tiles.url, {
    maxZoom: 19,
    attribution: config.tiles.attribution,
  });
}
// "Plain" is an empty layer: the map container's own background shows.
baseLayers[labels.plain] = L.layerGroup();
const firstBase = Object.values(baseLayers)[0];
firstBase.addTo(map);

// Overlays of the domains to come: empty groups now, filled by their own modules later
// through window.fangxun.overlays[key].
const overlays = {};
export const overlayByKey = {};
for (const item of config.overlays) {
  const group = L.layerGroup();
  overlayByKey[item.key] = group;
  const name = item.pending ? `${item.label} <span class="pending">(${labels.pending})</span>` : item.label;
  overlays[name] = group;
}
L.control.layers(baseLayers, overlays, { collapsed: false, position: "topright" }).addTo(map);

// Marker radius (px) by a feature's `kind`: the network's many manholes stay small.
const POINT_RADIUS = { manhole: 2.5, storage: 4, outfall: 5, pump_station: 7 };
// Symbols that cannot be confused (the legend shows each): a hazard point is a white disc with a
// dark ring (its risk colour fills it, see situation.js); a warning is a coloured ring around its
// point; an incident a small dark-purple disc; gauges, teams and warehouses are not discs at all.
const POINT_RING = "#0b4f8a";
function symbolOf(key, feature) {
  const colour = feature.properties.colour;
  if (key === "hazards") return { radius: 6, weight: 2, color: POINT_RING, fillColor: "#ffffff", fillOpacity: 1 };
  if (key === "warnings") return { radius: 12, weight: 3, color: colour || "#e31a1c", fill: false, interactive: false };
  if (key === "incidents") return { radius: 5, weight: 2, color: "#ffffff", fillColor: "#6a1b9a", fillOpacity: 1 };
  return { radius: POINT_RADIUS[feature.properties.kind] || 6, weight: 1, color: "#333", fillColor: colour || "#666", fillOpacity: 0.9 };
}

// Built overlays load their GeoJSON (cookie-authenticated, the user's jurisdiction only); each
// feature may carry a `colour` and a `url` to its own page.
async function loadOverlay(item) {
  const group = overlayByKey[item.key];
  const response = await fetch(item.source, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${item.source}: HTTP ${response.status}`);
  const data = await response.json();
  L.geoJSON(data, {
    // Points keep the marker style they are made with; lines (drainage pipes) take their
    // feature's colour, thicker for larger pipes; areas (unit boundaries) are outlines, so the
    // points and the terrain under them stay visible.
    style: (feature) => {
      const type = feature.geometry.type;
      if (type === "Point") return {};
      if (type === "LineString" || type === "MultiLineString") {
        return {
          color: feature.properties.colour || "#3b6fb6",
          weight: feature.properties.diameter_m ? 1 + feature.properties.diameter_m : 2,
          opacity: 0.8,
        };
      }
      return { color: "#6a3d9a", weight: 2, dashArray: "6 4", fill: false };
    },
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, symbolOf(item.key, feature)),
    onEachFeature: (feature, layer) => {
      const props = feature.properties;
      const box = document.createElement("div");
      const link = document.createElement(props.url ? "a" : "span");
      link.textContent = props.name || props.code || "";
      if (props.url) link.href = props.url;
      box.appendChild(link);
      if (props.detail) {
        const detail = document.createElement("div");
        detail.textContent = props.detail;
        box.appendChild(detail);
      }
      layer.bindPopup(box);
    },
  }).addTo(group);
  group.addTo(map);
  group.featureCount = data.features.length;
}
const overlaysLoaded = Promise.all(
  config.overlays.filter((item) => item.source).map((item) => loadOverlay(item)),
);

function panel(position, className, build) {
  const control = L.control({ position });
  control.onAdd = () => {
    const div = L.DomUtil.create("div", `map-panel ${className}`);
    build(div);
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  return control.addTo(map);
}

if (config.hillshade && config.hillshade.synthetic) {
  // The terrain is synthetic: say so wherever it is shown.
  panel("bottomleft", "terrain-label", (div) => {
    div.textContent = labels.terrain;
    div.dataset.testid = "terrain-label";
  });
}

panel("bottomright", "legend", (div) => {
  div.dataset.testid = "legend";
  const title = document.createElement("h2");
  title.textContent = labels.legend;
  div.appendChild(title);
  const list = document.createElement("ul");
  for (const entry of config.legend) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch${entry.ramp ? " ramp" : ""}${entry.shape ? ` shape-${entry.shape}` : ""}`;
    swatch.style.background = entry.swatch;
    const text = document.createElement("span");
    text.textContent = entry.label;
    li.append(swatch, text);
    if (entry.pending) {
      const note = document.createElement("span");
      note.className = "pending";
      note.textContent = `(${labels.pending})`;
      li.appendChild(note);
    }
    list.appendChild(li);
  }
  div.appendChild(list);
});

// The first view: the district's boundary, else its terrain, else the fallback.
if (config.view.bounds) {
  map.fitBounds(config.view.bounds);
} else if (config.hillshade) {
  map.fitBounds(config.hillshade.bounds);
} else {
  map.setView(config.view.center, config.view.zoom);
}

// Hooks for the browser tests; modules import `map`, `overlayByKey` and `ready` instead.
window.fangxun = Object.assign(window.fangxun || {}, { map, overlays: overlayByKey, baseLayers });
// Settles once the built overlays have loaded (or failed): the map is ready for more layers.
export const ready = overlaysLoaded
  .catch((error) => console.error(`map overlay failed to load: ${error.message}`))
  .finally(() => {
    document.getElementById("map").dataset.ready = "true";
  });
