// The one clock of every page (top bar): Beijing time (the district's zone, from the server), or
// during a storm replay the replay's clock with a "回放" badge, held at the replay's end once it
// ended (#clock-config, see fangxun.replay_clock). The live panel's snapshots carry the replay's
// state too ("fangxun:situation" events), so the map and the wall follow a replay that starts or
// ends while they are open.
const node = document.getElementById("clock-config");
const config = node ? JSON.parse(node.textContent) : null;

export function replayTime(replay, wallNow = Date.now()) {
  if (!replay) return new Date(wallNow);
  if (replay.state !== "playing") return new Date(replay.time);
  const played = Date.parse(replay.time) + (wallNow - Date.parse(replay.wall)) * replay.speed;
  return new Date(Math.min(played, Date.parse(replay.end)));
}

if (config) {
  const format = new Intl.DateTimeFormat("zh-CN", {
    timeZone: config.timezone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const time = document.querySelector("[data-testid=clock-time]");
  const badge = document.querySelector("[data-testid=replay-badge]");
  let replay = config.replay;
  let offset = 0; // server's wall clock minus this browser's, ms
  if (replay) offset = Date.parse(replay.wall) - Date.now();
  const tick = () => {
    time.textContent = format.format(replayTime(replay, Date.now() + offset));
    badge.hidden = !replay;
    if (replay) {
      badge.textContent = replay.state === "playing" ? config.labels.replay : config.labels.replay_ended;
      badge.dataset.state = replay.state;
    }
  };
  tick();
  setInterval(tick, 1000);
  document.addEventListener("fangxun:situation", (event) => {
    if (event.detail.replay === undefined) return;
    replay = event.detail.replay;
    if (replay) offset = Date.parse(replay.wall) - Date.now();
    tick();
  });
}
