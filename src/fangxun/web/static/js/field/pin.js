// A map to put a pin on (hazard points, incidents): tap to move the pin, drag it, or take the
// phone's position. Keeps the form's lon/lat inputs (WGS 84, degrees) and the pin in step.
import { locate } from "./app.js";

const DEFAULT_VIEW = { lat: 34.81, lon: 113.55, zoom: 14 };

async function addContext(map) {
  try {
    const shade = await fetch("/web/basemap/hillshade.json", { credentials: "same-origin" });
    if (shade.ok) {
      const { bounds } = await shade.json();
      L.imageOverlay("/web/basemap/hillshade.png", bounds, { opacity: 0.8 }).addTo(map);
    }
  } catch {
    // Offline without a cached basemap: the pin still works on a plain background.
  }
  try {
    const points = await fetch("/hazards/points.geojson", { credentials: "same-origin" });
    if (points.ok) {
      L.geoJSON(await points.json(), {
        pointToLayer: (_f, latlng) =>
          L.circleMarker(latlng, { radius: 5, color: "#d7301f", weight: 1, fillOpacity: 0.7 }),
      }).addTo(map);
    }
  } catch {
    // As above.
  }
}

for (const el of document.querySelectorAll(".pin-map")) {
  const scope = el.closest("fieldset, form");
  const lonInput = scope.querySelector("input[data-role=lon]");
  const latInput = scope.querySelector("input[data-role=lat]");
  const start = {
    lat: parseFloat(latInput.value) || DEFAULT_VIEW.lat,
    lon: parseFloat(lonInput.value) || DEFAULT_VIEW.lon,
  };
  const map = L.map(el, { zoomControl: true, attributionControl: false }).setView(
    [start.lat, start.lon],
    DEFAULT_VIEW.zoom,
  );
  const marker = L.marker([start.lat, start.lon], { draggable: true });
  if (lonInput.value && latInput.value) marker.addTo(map);
  const setInputs = (latlng) => {
    lonInput.value = latlng.lng.toFixed(6);
    latInput.value = latlng.lat.toFixed(6);
  };
  marker.on("dragend", () => setInputs(marker.getLatLng()));
  map.on("click", (event) => {
    marker.setLatLng(event.latlng).addTo(map);
    setInputs(event.latlng);
  });
  const follow = () => {
    const lat = parseFloat(latInput.value);
    const lon = parseFloat(lonInput.value);
    if (Number.isFinite(lat) && Number.isFinite(lon)) {
      marker.setLatLng([lat, lon]).addTo(map);
      map.setView([lat, lon]);
    }
  };
  lonInput.addEventListener("change", follow);
  latInput.addEventListener("change", follow);
  addContext(map);
  if (el.dataset.locate !== undefined && !lonInput.value) locate(scope);
}
