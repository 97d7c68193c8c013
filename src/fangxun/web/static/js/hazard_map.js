// The hazard-point map (templates/hazards/_map.html): data from #hazard-map-data.
// Kept out of the template: the Content-Security-Policy allows no inline scripts.
import { createMap, fitView, hillshadeLayer } from "./mapsetup.js";

const data = JSON.parse(document.getElementById("hazard-map-data").textContent);
const map = createMap("hazard-map");
if (data.hillshade) hillshadeLayer(data.hillshade, data.labels.terrain).addTo(map);
const layer = L.featureGroup().addTo(map);
for (const p of data.points) {
  const marker = L.circleMarker([p.lat, p.lon], { radius: 7, color: "#333", weight: 1, fillColor: p.colour, fillOpacity: 0.9 });
  const box = document.createElement("div");
  const link = document.createElement("a");
  link.href = p.url;
  link.textContent = `${p.code} ${p.name}`;
  box.appendChild(link);
  if (p.open) {
    const note = document.createElement("div");
    note.textContent = `${p.open} ${data.labels.open}` + (p.overdue ? `, ${p.overdue} ${data.labels.overdue}` : "");
    box.appendChild(note);
  }
  marker.bindPopup(box);
  marker.addTo(layer);
}
fitView(map, { layer, hillshade: data.hillshade });
document.getElementById("hazard-map").dataset.ready = "true";
