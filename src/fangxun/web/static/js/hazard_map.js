// The hazard-point map (templates/hazards/_map.html): data from #hazard-map-data.
// Kept out of the template: the Content-Security-Policy allows no inline scripts.
const data = JSON.parse(document.getElementById("hazard-map-data").textContent);
const map = L.map("hazard-map", { zoomSnap: 0.25, maxZoom: 19 });
map.attributionControl.setPrefix(false);
if (data.hillshade) {
  L.imageOverlay(data.hillshade.url, data.hillshade.bounds, { attribution: data.labels.terrain, interactive: false }).addTo(map);
}
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
if (data.points.length === 1) {
  map.setView([data.points[0].lat, data.points[0].lon], 16);
} else if (data.points.length > 1) {
  map.fitBounds(layer.getBounds().pad(0.05));
} else if (data.hillshade) {
  map.fitBounds(data.hillshade.bounds);
} else {
  map.setView([34.8, 113.55], 13);
}
document.getElementById("hazard-map").dataset.ready = "true";
