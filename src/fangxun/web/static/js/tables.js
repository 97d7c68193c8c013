// Long tables on every page: a filter box and pages of rows, so that no page grows taller than a
// few screens. Applies to any table with more body rows than a page (PAGE_ROWS, or the table's
// data-page-size); data-paged="off" keeps a table whole. Tables swapped in by HTMX are handled
// too. The texts come from base.html (#table-labels), in the page's language.

const PAGE_ROWS = 20;
const labelsNode = document.getElementById("table-labels");
const LABELS = labelsNode ? JSON.parse(labelsNode.textContent) : {};

function text(key, values = {}) {
  return (LABELS[key] || key).replace(/\{(\w+)\}/g, (_m, name) => String(values[name] ?? ""));
}

// The rows that hold data: those of <tbody>, less a first row made of header cells only.
function bodyRows(table) {
  const rows = [...table.querySelectorAll(":scope > tbody > tr, :scope > tr")];
  if (rows.length && [...rows[0].children].every((cell) => cell.tagName === "TH")) rows.shift();
  return rows;
}

function button(label) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  return b;
}

function enhance(table) {
  if (table.dataset.paged) return;
  const size = Number(table.dataset.pageSize || PAGE_ROWS);
  const rows = bodyRows(table);
  if (rows.length <= size) return;
  table.dataset.paged = "on";
  const tools = document.createElement("div");
  tools.className = "table-tools";
  const filter = document.createElement("input");
  filter.type = "search";
  filter.placeholder = text("filter");
  filter.setAttribute("aria-label", text("filter"));
  const prev = button(text("prev"));
  const next = button(text("next"));
  const info = document.createElement("span");
  info.className = "table-info";
  info.setAttribute("aria-live", "polite");
  tools.append(filter, prev, info, next);
  table.before(tools);
  let page = 0;

  function render() {
    const query = filter.value.trim().toLowerCase();
    const shown = rows.filter((row) => !query || row.textContent.toLowerCase().includes(query));
    const pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.max(0, Math.min(page, pages - 1));
    for (const row of rows) row.hidden = true;
    for (const row of shown.slice(page * size, (page + 1) * size)) row.hidden = false;
    info.textContent = text("page", { page: page + 1, pages, rows: shown.length });
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  filter.addEventListener("input", () => { page = 0; render(); });
  prev.addEventListener("click", () => { page -= 1; render(); });
  next.addEventListener("click", () => { page += 1; render(); });
  render();
}

function enhanceAll(root) {
  for (const table of root.querySelectorAll("table")) enhance(table);
}

enhanceAll(document);
// htmx:load fires on every element HTMX inserts (a swapped-in board, a fragment).
document.body.addEventListener("htmx:load", (event) => enhanceAll(event.target.parentNode || event.target));
