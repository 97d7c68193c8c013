// The forecast map and time slider (templates/forecast/index.html): data from #fc-data.
// Kept out of the template: the Content-Security-Policy allows no inline scripts.
import { createMap } from "./mapsetup.js";

const data = JSON.parse(document.getElementById("fc-data").textContent);

function show() {
  const [s, w, n, e] = data.bounds;
  const map = createMap("fc-map").fitBounds([[s, w], [n, e]]);
  const overlay = L.imageOverlay(data.overlay, [[s, w], [n, e]], { opacity: 0.85 }).addTo(map);
  for (const p of data.points) {
    // A node with text, never a string: Leaflet inserts a string tooltip as HTML, and the point's
    // name comes from people (issue 20, item 9).
    const tip = document.createElement("span");
    tip.textContent = `${p.code} ${p.name}: ${p.peak.toFixed(1)} cm`;
    L.circleMarker([p.lat, p.lon], { radius: 5, color: "#e31a1c" }).bindTooltip(tip).addTo(map);
  }
  const slider = document.getElementById("fc-frame");
  const label = document.getElementById("fc-frame-label");
  // The rain layer: the radar at the issue time beside the maximum depth, and on each frame the
  // rain the run used over the 5 min before it (the nowcast), drawn under the water.
  const toggle = document.getElementById("fc-rain");
  const rainUrl = (f) => (f ? f.rain : data.radar_now);
  let rain = null;
  const showRain = () => {
    const url = rainUrl(data.frames[Number(slider.value)]);
    if (!toggle || !toggle.checked || !url) {
      if (rain) { map.removeLayer(rain); rain = null; }
      return;
    }
    if (rain) rain.setUrl(url);
    else rain = L.imageOverlay(url, [[s, w], [n, e]], { opacity: 0.7 }).addTo(map).bringToBack();
  };
  if (toggle) toggle.addEventListener("change", showRain);
  showRain();
  slider.addEventListener("input", () => {
    const f = data.frames[Number(slider.value)];
    overlay.setUrl(f ? f.url : data.overlay);
    label.textContent = f ? f.label : data.max_label;
    showRain();
  });
}

if (data.run && data.bounds && window.L) show();
