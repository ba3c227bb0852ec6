// Draws a Lakeview serialized dashboard from its own encodings and the rows of its datasets.
// Each widget ends with data-rendered="true" and data-points = the marks drawn (rows for tables);
// a failed query shows .query-error, a drawing failure .render-error. make dashboard-check reads these.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("data").textContent);
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf"];
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4))
                                         : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return String(v);
  }

  function counter(box, spec, rows) {
    const field = spec.encodings.value.fieldName;
    if (!rows.length) return 0;
    box.appendChild(el("div", {class: "counter"}, fmt(rows[0][field])));
    return 1;
  }

  function table(box, spec, rows) {
    const cols = spec.encodings.columns;
    const t = el("table");
    const head = el("tr");
    cols.forEach(c => head.appendChild(el("th", {}, c.displayName || c.fieldName)));
    t.appendChild(head);
    rows.forEach(r => {
      const tr = el("tr");
      cols.forEach(c => tr.appendChild(el("td", {}, fmt(r[c.fieldName]))));
      t.appendChild(tr);
    });
    box.appendChild(t);
    return rows.length;
  }

  // Series of (x, y) points: one per y field, or one per value of the color field.
  function series(spec, rows) {
    const enc = spec.encodings;
    const out = new Map();
    const ys = enc.y.fields || [{fieldName: enc.y.fieldName, displayName: enc.y.displayName}];
    rows.forEach(r => {
      ys.forEach(y => {
        const name = enc.color && enc.color.fieldName ? String(r[enc.color.fieldName]) : (y.displayName || y.fieldName);
        const value = r[y.fieldName];
        if (value === null || value === undefined) return;
        if (!out.has(name)) out.set(name, []);
        out.get(name).push([r[enc.x.fieldName], Number(value)]);
      });
    });
    return out;
  }

  // The drawing area in the widget's own pixels (its grid cell), below the title, above the legend.
  function frame(box) {
    const w = Math.max(300, box.clientWidth - 24), h = Math.max(120, box.clientHeight - 96);
    const svg = el("svg:svg", {width: w, height: h, viewBox: `0 0 ${w} ${h}`});
    box.appendChild(svg);
    return [svg, w, h];
  }

  function line(box, spec, rows) {
    const lines = series(spec, rows);
    const temporal = spec.encodings.x.scale && spec.encodings.x.scale.type === "temporal";
    const xs = [], ys = [];
    lines.forEach(points => points.forEach(([x, y]) => {
      xs.push(temporal ? Date.parse(x) : Number(x)); ys.push(y);
    }));
    if (!xs.length) return 0;
    const [svg, W, H] = frame(box);
    const [L, B] = [44, 20];
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const sx = v => L + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * (W - L - 8);
    const sy = v => H - B - (y1 === y0 ? 0.5 : (v - y0) / (y1 - y0)) * (H - B - 8);
    svg.appendChild(el("svg:text", {x: 2, y: sy(y1) + 4}, fmt(y1)));
    svg.appendChild(el("svg:text", {x: 2, y: sy(y0)}, fmt(y0)));
    const label = v => temporal ? new Date(v).toISOString().slice(0, 10) : fmt(v);
    svg.appendChild(el("svg:text", {x: L, y: H - 4}, label(x0)));
    svg.appendChild(el("svg:text", {x: W - 70, y: H - 4}, label(x1)));
    const legend = el("div", {class: "legend"});
    let drawn = 0, i = 0;
    lines.forEach((points, name) => {
      const color = COLORS[i++ % COLORS.length];
      const d = points.map(([x, y], k) => `${k ? "L" : "M"}${sx(temporal ? Date.parse(x) : Number(x)).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      svg.appendChild(el("svg:path", {d: d, fill: "none", stroke: color, "stroke-width": 1.5, class: "mark"}));
      drawn += points.length;
      legend.appendChild(el("span", {style: `--c:${color}`}, name));
    });
    box.appendChild(legend);
    return drawn;
  }

  function bar(box, spec, rows) {
    const enc = spec.encodings;
    const cats = [...new Set(rows.map(r => String(r[enc.x.fieldName])))];
    const groups = enc.color ? [...new Set(rows.map(r => String(r[enc.color.fieldName])))] : ["value"];
    const totals = {};
    rows.forEach(r => { const c = String(r[enc.x.fieldName]); totals[c] = (totals[c] || 0) + Number(r[enc.y.fieldName]); });
    const top = Math.max(0, ...Object.values(totals));
    if (!cats.length || top <= 0) return 0;
    const [svg, W, H] = frame(box);
    const B = 20;
    const bw = (W - 20) / cats.length;
    const base = {};
    let drawn = 0;
    rows.forEach(r => {
      const c = String(r[enc.x.fieldName]);
      const g = enc.color ? String(r[enc.color.fieldName]) : "value";
      const h = Number(r[enc.y.fieldName]) / top * (H - B - 10);
      const y = H - B - (base[c] || 0) - h;
      base[c] = (base[c] || 0) + h;
      svg.appendChild(el("svg:rect", {x: 10 + cats.indexOf(c) * bw + 4, y: y, width: bw - 8, height: h,
                                      fill: COLORS[groups.indexOf(g) % COLORS.length], class: "mark"}));
      drawn += 1;
    });
    cats.forEach((c, k) => svg.appendChild(el("svg:text", {x: 14 + k * bw, y: H - 4}, c)));
    const legend = el("div", {class: "legend"});
    groups.forEach((g, k) => legend.appendChild(el("span", {style: `--c:${COLORS[k % COLORS.length]}`}, g)));
    box.appendChild(legend);
    return drawn;
  }

  const DRAW = {counter: counter, table: table, line: line, bar: bar};
  const root = document.getElementById("pages");
  data.dashboard.pages.forEach(pg => {
    root.appendChild(el("h1", {}, pg.displayName));
    const grid = el("div", {class: "grid"});
    root.appendChild(grid);
    pg.layout.forEach(item => {
      const w = item.widget, pos = item.position, spec = w.spec;
      const box = el("section", {class: "widget", "data-widget": w.name, "data-type": spec.widgetType,
        style: `grid-column:${pos.x + 1} / span ${pos.width}; grid-row:${pos.y + 1} / span ${pos.height}`});
      const f = spec.frame || {};
      box.appendChild(el("h2", {}, f.title || w.name));
      if (f.description) box.appendChild(el("p", {class: "desc"}, f.description));
      grid.appendChild(box);
      const dataset = w.queries[0].query.datasetName;
      const result = data.results[dataset];
      box.setAttribute("data-dataset", dataset);
      if (!result || result.error) {
        box.appendChild(el("div", {class: "query-error"}, result ? result.error : `no result for dataset ${dataset}`));
        box.setAttribute("data-points", "0");
        box.setAttribute("data-rendered", "true");
        return;
      }
      try {
        const draw = DRAW[spec.widgetType];
        if (!draw) throw new Error(`no renderer for widget type ${spec.widgetType}`);
        box.setAttribute("data-points", String(draw(box, spec, result.rows)));
      } catch (err) {
        box.appendChild(el("div", {class: "render-error"}, String(err)));
        box.setAttribute("data-points", "0");
      }
      box.setAttribute("data-rendered", "true");
    });
  });
  document.body.setAttribute("data-dashboard-ready", "true");
})();
