// The campaign view: the lineage tree on a canvas, one program's details, the campaign's charts.
// No library: the page must open offline and from disk. Data arrives as window.VIEW_DATA (data.js)
// from disk, or from api/data when served (a same-origin fetch: no other origin may read it); a
// program's details come from api/node/ID when served, or nodes/K.js (window.viewNodes) when
// opened from disk. Everything the archive holds is untrusted text (programs, model answers):
// it reaches the page through textContent only, never as HTML.
"use strict";
// What a program with no parent was made from, by its edit kind (views.ORIGINS says the same).
const ORIGINS = {seed: "none (the task's seed)", restart: "none (the seed, restarted)",
                 baseline: "none (a baseline)",
                 archive: "none: made from the whole archive (ADAS), its inspirations"};
(() => {
  const $ = (id) => document.getElementById(id);
  const ISLANDS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
                   "#9c755f", "#e15759", "#bab0ac"];
  const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const SHAPES = {ok: "circle", pending: "ring", invalid: "triangle", crashed: "cross",
                  timeout: "square", rejected: "diamond"};
  const FAILED = "#7a4a4a";
  const BUCKETS = 24; // score colours drawn in one batch each
  const params = new URLSearchParams(location.search);
  const POLL_S = Number(params.get("poll") || 3);

  let data = null;   // the payload
  let m = null;      // the model: typed arrays over the programs, by index
  let lay = null;    // the layout: x, y per index, hidden flags, island bands
  const view = {sx: 1, sy: 1, tx: 0, ty: 0, fitted: false};
  const sel = {a: -1, b: -1};
  const collapsed = new Set();
  const cache = {node: new Map(), iteration: new Map()}; // program id / iteration -> details
  const chunks = new Map(); // static export: a chunk's file -> promise of its script

  const el = (tag, props = {}, ...kids) => {
    const node = Object.assign(document.createElement(tag), props);
    for (const kid of kids) node.append(kid);
    return node;
  };
  const cells = (tag, values) => el("tr", {}, ...values.map((v) => (
    v instanceof Node ? el(tag, {}, v) : el(tag, {textContent: String(v)}))));
  const hint = (text) => el("p", {className: "hint", textContent: text});
  const pre = (text, className = "wrap") => el("pre", {className, textContent: text});
  const fmt = (v) => (v === null || v === undefined ? "-"
    : typeof v === "number" ? (Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString())
    : String(v));
  const color = (rgb) => `rgb(${rgb.map(Math.round).join(",")})`;
  function ramp(f) {
    const p = Math.max(0, Math.min(1, f)) * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(p));
    return RAMP[i].map((c, k) => c + (RAMP[i + 1][k] - c) * (p - i));
  }
  const duration = (s) => (s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min`
    : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} d`);

  // ---- the model: arrays by index, built once per payload ----------------------------------
  function ingest(d) {
    const nd = d.nodes, n = nd.id.length, index = new Map();
    for (let i = 0; i < n; i++) index.set(nd.id[i], i);
    const parent = new Int32Array(n), depth = new Int32Array(n), kids = new Int32Array(n);
    const score = new Float64Array(n);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const p = nd.parent[i] < 0 ? -1 : index.get(nd.parent[i]);
      parent[i] = p === undefined ? -1 : p;
      if (parent[i] >= 0) { depth[i] = depth[parent[i]] + 1; kids[parent[i]]++; }
      score[i] = nd.score[i] === null ? NaN : nd.score[i];
      if (score[i] === score[i]) { lo = Math.min(lo, score[i]); hi = Math.max(hi, score[i]); }
    }
    // children in id order, as one flat list (CSR): first[i] .. first[i + 1]. A program on
    // another island than its parent (an island's first copy, a migrant) is laid out as a root
    // in its own island's band, joined to its parent across the bands: islands are drawn apart.
    const first = new Int32Array(n + 1), fill = new Int32Array(n), child = new Int32Array(n);
    const below = (i) => parent[i] >= 0 && nd.island[parent[i]] === nd.island[i];
    for (let i = 0; i < n; i++) if (parent[i] >= 0 && !below(i)) kids[parent[i]]--;
    for (let i = 0; i < n; i++) first[i + 1] = first[i] + kids[i];
    for (let i = 0; i < n; i++) if (below(i)) child[first[parent[i]] + fill[parent[i]]++] = i;
    const size = new Int32Array(n).fill(1); // programs in each subtree
    for (let i = n - 1; i >= 0; i--) if (parent[i] >= 0) size[parent[i]] += size[i];
    const crossovers = d.crossovers.filter(([c, p]) => index.has(c) && index.has(p))
      .map(([c, p]) => [index.get(c), index.get(p)]);
    return {n, index, id: nd.id, parent, depth, first, child, size, score, lo, hi,
            crossovers, status: nd.status.map((s) => d.statuses[s]), island: nd.island,
            t: nd.t, best: d.best === null ? -1 : index.get(d.best)};
  }

  // ---- layout: a tidy tree by depth, computed in O(n) --------------------------------------
  // Leaves take consecutive slots left to right (children in id order), a parent sits midway
  // over its first and last shown child; roots (seeds, restarts, and programs copied or
  // migrated from another island) are grouped by island with a wider gap between islands. x is
  // in slots, y in generations along primary parents.
  function layout() {
    const {n, parent, first, child, island, status} = m;
    const hide = $("hidefailed").checked;
    const hidden = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = parent[i];
      if (p >= 0 && (hidden[p] || collapsed.has(p))) hidden[i] = 1;
      else if (hide && m.size[i] === 1 && status[i] !== "ok" && status[i] !== "pending"
               && i !== sel.a && i !== sel.b) hidden[i] = 1;
    }
    const x = new Float64Array(n), roots = [];
    for (let i = 0; i < n; i++) {
      if (!hidden[i] && (parent[i] < 0 || island[parent[i]] !== island[i])) roots.push(i);
    }
    roots.sort((a, b) => island[a] - island[b] || a - b);
    let cursor = 0, shown = 0, maxDepth = 0;
    const bands = [];
    const stack = new Int32Array(n), at = new Int32Array(n);
    for (const root of roots) {
      const last = bands[bands.length - 1];
      if (!last || last.island !== island[root]) {
        if (last) { last.x1 = cursor - 0.5; cursor += 4; }
        bands.push({island: island[root], x0: cursor - 0.5, x1: cursor});
      }
      let top = 0;
      stack[0] = root; at[0] = first[root];
      while (top >= 0) { // iterative post-order: a deep lineage must not overflow the JS stack
        const v = stack[top];
        let next = -1;
        while (at[top] < first[v + 1] && !collapsed.has(v)) {
          const c = child[at[top]++];
          if (!hidden[c]) { next = c; break; }
        }
        if (next >= 0) { stack[++top] = next; at[top] = first[next]; continue; }
        let lo = -1, hi = -1;
        if (!collapsed.has(v)) {
          for (let k = first[v]; k < first[v + 1]; k++) {
            const c = child[k];
            if (!hidden[c]) { if (lo < 0) lo = c; hi = c; }
          }
        }
        x[v] = lo < 0 ? cursor++ : (x[lo] + x[hi]) / 2;
        shown++;
        maxDepth = Math.max(maxDepth, m.depth[v]);
        top--;
      }
      cursor += 1;
    }
    if (bands.length) bands[bands.length - 1].x1 = cursor - 1.5;
    lay = {x, hidden, width: Math.max(cursor - 1, 1), height: maxDepth, shown, bands};
    $("count").dataset.nodes = String(shown);
    $("count").textContent = `${shown.toLocaleString()} of ${n.toLocaleString()} programs shown`;
  }

  // ---- drawing ------------------------------------------------------------------------------
  const canvas = $("tree"), ctx = canvas.getContext("2d");
  let queued = false, firstDraw = 0, drawMs = 0;
  const redraw = () => { if (!queued) { queued = true; requestAnimationFrame(draw); } };
  const sx = (i) => lay.x[i] * view.sx + view.tx;
  const sy = (i) => m.depth[i] * view.sy + view.ty;

  function resize(c) {
    const r = window.devicePixelRatio || 1, w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * r) || c.height !== Math.round(h * r)) {
      c.width = Math.round(w * r); c.height = Math.round(h * r);
    }
    const g = c.getContext("2d");
    g.setTransform(r, 0, 0, r, 0, 0);
    return [w, h, g];
  }

  function fit() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    view.sx = (w - 40) / (lay.width + 1);
    view.sy = Math.min(60, (h - 130) / Math.max(lay.height, 1));
    view.tx = 20 + view.sx / 2; view.ty = 76;
    view.fitted = true;
    redraw();
  }

  function shapePath(g, shape, x, y, r) {
    if (shape === "circle" || shape === "ring") { g.moveTo(x + r, y); g.arc(x, y, r, 0, 6.2832); }
    else if (shape === "square") g.rect(x - r, y - r, 2 * r, 2 * r);
    else if (shape === "triangle") { g.moveTo(x, y - r); g.lineTo(x + r, y + r); g.lineTo(x - r, y + r); g.closePath(); }
    else if (shape === "diamond") { g.moveTo(x, y - r); g.lineTo(x + r, y); g.lineTo(x, y + r); g.lineTo(x - r, y); g.closePath(); }
    else { g.moveTo(x - r, y - r); g.lineTo(x + r, y + r); g.moveTo(x + r, y - r); g.lineTo(x - r, y + r); }
  }

  function draw() {
    queued = false;
    if (!m) return;
    const started = performance.now();
    const [w, h] = resize(canvas);
    ctx.clearRect(0, 0, w, h);
    const {n, parent, island, status, score} = m, {hidden} = lay;
    const r = Math.max(1, Math.min(7, Math.min(view.sx, view.sy) * 0.35));
    const inView = (x, y) => x > -10 && x < w + 10 && y > -10 && y < h + 10;
    // island bands
    ctx.font = "11px system-ui, sans-serif";
    for (const b of lay.bands) {
      const x0 = b.x0 * view.sx + view.tx, x1 = b.x1 * view.sx + view.tx;
      if (x1 < 0 || x0 > w) continue;
      ctx.fillStyle = ISLANDS[b.island % ISLANDS.length] + "14";
      ctx.fillRect(x0, 0, x1 - x0, h);
      ctx.fillStyle = ISLANDS[b.island % ISLANDS.length];
      ctx.fillText(`island ${b.island}`, Math.max(x0, 0) + 4, view.ty - 14);
    }
    // edges, one path per island (the child's island: a migrant's edge shows where it went)
    ctx.globalAlpha = r < 2 ? 0.35 : 0.6;
    ctx.lineWidth = 1;
    const paths = new Map();
    for (let i = 0; i < n; i++) {
      const p = parent[i];
      if (p < 0 || hidden[i]) continue;
      const x0 = sx(p), x1 = sx(i), y0 = sy(p), y1 = sy(i);
      if (Math.max(x0, x1) < 0 || Math.min(x0, x1) > w || y1 < 0 || y0 > h) continue;
      let path = paths.get(island[i]);
      if (!path) paths.set(island[i], path = new Path2D());
      path.moveTo(x0, y0); path.lineTo(x1, y1);
    }
    for (const [isl, path] of paths) { ctx.strokeStyle = ISLANDS[isl % ISLANDS.length]; ctx.stroke(path); }
    ctx.globalAlpha = 1;
    if (r >= 2) { // crossover's second parents, dashed
      ctx.setLineDash([3, 3]); ctx.strokeStyle = "#888"; ctx.beginPath();
      for (const [c, p] of m.crossovers) {
        if (hidden[c] || hidden[p]) continue;
        if (inView(sx(c), sy(c)) || inView(sx(p), sy(p))) { ctx.moveTo(sx(p), sy(p)); ctx.lineTo(sx(c), sy(c)); }
      }
      ctx.stroke(); ctx.setLineDash([]);
    }
    // the best lineage
    if (m.best >= 0 && !hidden[m.best]) {
      ctx.strokeStyle = "#d4a017"; ctx.lineWidth = Math.max(2, r * 0.8); ctx.beginPath();
      for (let i = m.best; parent[i] >= 0; i = parent[i]) { ctx.moveTo(sx(i), sy(i)); ctx.lineTo(sx(parent[i]), sy(parent[i])); }
      ctx.stroke(); ctx.lineWidth = 1;
    }
    // nodes, batched by colour and shape: a few fill calls, not one per program
    const batches = new Map();
    const span = m.hi - m.lo || 1;
    for (let i = 0; i < n; i++) {
      if (hidden[i]) continue;
      const x = sx(i), y = sy(i);
      if (!inView(x, y)) continue;
      const ok = score[i] === score[i];
      const key = ok ? Math.round(((score[i] - m.lo) / span) * (BUCKETS - 1)) : status[i];
      let list = batches.get(key);
      if (!list) batches.set(key, list = []);
      list.push(x, y);
    }
    for (const [key, xy] of batches) {
      const shape = typeof key === "number" ? "circle" : SHAPES[key] || "cross";
      const fill = typeof key === "number" ? color(ramp(key / (BUCKETS - 1))) : FAILED;
      ctx.beginPath();
      for (let k = 0; k < xy.length; k += 2) {
        if (r < 1.6) ctx.rect(xy[k] - 1, xy[k + 1] - 1, 2, 2);
        else shapePath(ctx, shape, xy[k], xy[k + 1], r);
      }
      if (r >= 1.6 && (shape === "cross" || shape === "ring")) {
        ctx.strokeStyle = shape === "ring" ? "#888" : fill; ctx.lineWidth = 1.5; ctx.stroke(); ctx.lineWidth = 1;
      } else { ctx.fillStyle = fill; ctx.fill(); }
    }
    // rings: on the best lineage, the best, the selection; labels and collapse marks up close
    ctx.strokeStyle = "#d4a017"; ctx.lineWidth = 2; ctx.beginPath();
    for (let i = m.best; i >= 0; i = parent[i]) if (!hidden[i]) shapePath(ctx, "circle", sx(i), sy(i), r + 2);
    ctx.stroke();
    for (const [i, c] of [[sel.a, "#1f5fbf"], [sel.b, "#c2185b"]]) {
      if (i < 0 || hidden[i]) continue;
      ctx.strokeStyle = c; ctx.lineWidth = 3; ctx.beginPath(); shapePath(ctx, "circle", sx(i), sy(i), r + 5); ctx.stroke();
    }
    ctx.lineWidth = 1; ctx.fillStyle = "#1d2330";
    for (const i of collapsed) if (!hidden[i] && inView(sx(i), sy(i))) ctx.fillText(`+${m.size[i] - 1}`, sx(i) + r + 3, sy(i) + 12);
    if (view.sx > 34 && view.sy > 24) {
      for (let i = 0; i < n; i++) if (!hidden[i] && inView(sx(i), sy(i))) ctx.fillText(`#${m.id[i]}`, sx(i) + r + 2, sy(i) - r);
    }
    drawMs = performance.now() - started;
    if (!firstDraw) {
      firstDraw = performance.now();
      document.body.dataset.ready = "1";
    }
  }

  // ---- pan, zoom, pick ----------------------------------------------------------------------
  function pick(px, py) {
    let best = -1, bestD = 100; // within 10 px
    for (let i = 0; i < m.n; i++) {
      if (lay.hidden[i]) continue;
      const dx = sx(i) - px, dy = sy(i) - py, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = {x: e.clientX, y: e.clientY, moved: false}; });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved && e.target === canvas) {
      const b = canvas.getBoundingClientRect(), i = pick(e.clientX - b.left, e.clientY - b.top);
      if (i >= 0) select(i, e.shiftKey);
    }
    drag = null;
  });
  window.addEventListener("mousemove", (e) => {
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) { view.tx += dx; view.ty += dy; drag.x = e.clientX; drag.y = e.clientY; redraw(); }
      return;
    }
    if (e.target !== canvas || !m) { $("tip").hidden = true; return; }
    const b = canvas.getBoundingClientRect(), i = pick(e.clientX - b.left, e.clientY - b.top);
    const tip = $("tip");
    tip.hidden = i < 0;
    if (i >= 0) {
      tip.textContent = `#${m.id[i]}  ${m.status[i] === "ok" ? fmt(m.score[i]) : m.status[i]}  island ${m.island[i]}`
        + (m.size[i] > 1 ? `  ${m.size[i] - 1} below` : "");
      tip.style.left = `${e.clientX - b.left + 12}px`; tip.style.top = `${e.clientY - b.top + 12}px`;
    }
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const b = canvas.getBoundingClientRect(), px = e.clientX - b.left, py = e.clientY - b.top;
    const f = Math.exp(-Math.max(-300, Math.min(300, e.deltaY || e.deltaX)) * 0.0015);
    view.tx = px - (px - view.tx) * f; view.sx *= f;
    if (!e.shiftKey) { view.ty = py - (py - view.ty) * f; view.sy *= f; }
    redraw();
  }, {passive: false});
  window.addEventListener("resize", redraw);

  function centre(i) {
    if (lay.hidden[i]) { for (let p = m.parent[i]; p >= 0; p = m.parent[p]) collapsed.delete(p); layout(); }
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const x = sx(i), y = sy(i);
    if (x < 40 || x > w - 40 || y < 40 || y > h - 40) { view.tx += w / 2 - x; view.ty += h / 2 - y; }
    redraw();
  }

  // ---- one program's details ----------------------------------------------------------------
  // A program's details (kind "node") or an iteration's ("iteration"), fetched once each.
  function load1(kind, key) {
    const store = cache[kind];
    if (store.has(key)) return Promise.resolve(store.get(key));
    if (!data.static) {
      return fetch(`api/${kind}/${key}`).then((r) => r.json().then((body) => {
        if (!r.ok) throw new Error(body.error || r.statusText);
        store.set(key, body); return body;
      }));
    }
    const file = `${kind === "node" ? "nodes" : "iterations"}/${Math.floor(key / data.node_chunk)}.js`;
    if (!chunks.has(file)) {
      chunks.set(file, new Promise((resolve, reject) => {
        const s = el("script", {src: file});
        s.onload = resolve;
        s.onerror = () => { chunks.delete(file); reject(new Error(`cannot load ${file}`)); };
        document.head.append(s);
      }));
    }
    return chunks.get(file).then(() => store.get(key));
  }
  const filed = (store) => (items) => { for (const [key, item] of Object.entries(items)) store.set(Number(key), item); };
  window.viewNodes = filed(cache.node);
  window.viewIterations = filed(cache.iteration);

  const nodeLink = (id) => {
    const a = el("a", {className: "node", textContent: `#${id}`, href: "#"});
    a.onclick = (e) => { e.preventDefault(); if (m.index.has(id)) select(m.index.get(id), e.shiftKey); };
    return a;
  };
  function diffBlock(text, id) { // a line a block: the page's lines are the diff's lines
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    const kind = (line) => (line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : "");
    return el("pre", {id, className: "diff"}, ...lines.map((line) => el("span", {className: kind(line), textContent: line})));
  }
  const metricTable = (metrics, cls) => {
    const t = el("table", {className: cls});
    for (const [k, v] of Object.entries(metrics)) t.append(el("tr", {}, el("td", {textContent: k}), el("td", {textContent: fmt(v)})));
    return t;
  };

  const iterationLink = (n) => {
    const a = el("a", {className: "node", textContent: `iteration ${n}`, href: "#"});
    a.onclick = (e) => { e.preventDefault(); showIteration(n); };
    return a;
  };

  // An iteration in the details panel: one that made a program is that program; one that made
  // none (a refused edit, a failed model call) has only its plan, its reason and its calls.
  function showIteration(n) {
    for (const x of document.querySelectorAll("nav button, .tab")) x.classList.toggle("on", x.dataset.tab === "lineage" || x.id === "lineage");
    redraw();
    load1("iteration", n).then((it) => {
      if (it.program_id !== null && m.index.has(it.program_id)) { select(m.index.get(it.program_id), false); return; }
      sel.a = sel.b = -1; redraw();
      renderIteration(it);
    }).catch((err) => $("detail").replaceChildren(el("p", {className: "err", textContent: String(err)})));
  }

  function renderIteration(it) {
    const facts = el("table");
    const row = (k, ...v) => facts.append(el("tr", {}, el("th", {textContent: k}), el("td", {}, ...v)));
    row("outcome", it.status === "unfinished" ? "unfinished: its calls were recorded, then a model or task problem stopped the campaign (resume redoes it)" : it.status);
    if (it.reason) row("reason", pre(it.reason, "err"));
    row("operator", `${it.op || "-"}${it.edit_format ? ` (${it.edit_format})` : ""}`);
    if (it.parent_id !== null) row("parent", nodeLink(it.parent_id));
    if (it.inspirations.length) row("inspirations", ...it.inspirations.map(nodeLink));
    row("island", it.island === null ? "-" : String(it.island));
    row("model", it.model || "-");
    if (it.valid_edit !== null) row("valid edit", it.valid_edit ? "yes" : "no");
    row("model turns", String(it.turns));
    row("evaluations", String(it.evaluations));
    row("tokens / cost", `${it.tokens.toLocaleString()} / $${fmt(it.cost)}`);
    if (it.created_at !== null) row("committed", `${new Date(it.created_at * 1000).toLocaleString()} (${duration(it.created_at - data.campaign.created_at)} in)`);
    $("detail").replaceChildren(el("h2", {id: "detail-iteration", textContent: `iteration ${it.n} · no program`}), facts,
                                ...callList(it.calls, "none recorded"));
  }

  function callList(calls, none) {
    const parts = [el("h3", {textContent: `model calls (${calls.length})`})];
    if (!calls.length) parts.push(hint(none));
    for (const c of calls) {
      const what = [c.purpose, c.model, `${c.tokens_in} in / ${c.tokens_out} out`, `$${fmt(c.cost)}`,
                    `${fmt(c.latency_s)} s`, ...(c.error ? ["failed"] : [])].join(" · ");
      const d = el("details", {className: "call"}, el("summary", {textContent: what}));
      if (c.error) d.append(pre(c.error, "err"));
      for (const msg of c.prompt || []) d.append(el("h3", {textContent: `prompt: ${msg.role}`}), pre(String(msg.content), "wrap prompt"));
      if (!c.prompt) {
        d.append(hint(c.call_id ? "prompt not in the transcript (its record left the prompt out, or the transcript is gone)"
          : "prompt not recorded (a failed attempt, the campaign's transcript off, or a call recorded before calls named their transcript record)"));
      }
      if (c.answer) d.append(el("h3", {textContent: "answer"}), pre(c.answer, "wrap answer"));
      parts.push(d);
    }
    return parts;
  }

  const heldOutText = (h) => (h.score === null ? `${h.status}${h.reason ? `: ${h.reason}` : ""}`
    : `${fmt(h.score)} (search ${fmt(h.search)}, gap ${h.gap === null ? "-" : (h.gap >= 0 ? "+" : "") + fmt(h.gap)})`);

  function select(i, second) {
    if (second && sel.a >= 0 && i !== sel.a) sel.b = i; else { sel.a = i; sel.b = -1; }
    centre(i);
    const idA = m.id[sel.a], idB = sel.b >= 0 ? m.id[sel.b] : null;
    Promise.all([load1("node", idA), idB === null ? null : load1("node", idB)])
      .then(([a, b]) => { if (m.id[sel.a] === idA) renderDetail(a, b); })
      .catch((err) => $("detail").replaceChildren(el("p", {className: "err", textContent: String(err)})));
  }

  function renderDetail(p, other) {
    const box = $("detail"), i = m.index.get(p.id);
    const head = el("h2", {textContent: `#${p.id}${p.name ? ` · ${p.name}` : ""}${p.id === data.best ? " ★ best" : ""}`});
    const facts = el("table");
    const row = (k, ...v) => facts.append(el("tr", {}, el("th", {textContent: k}), el("td", {}, ...v)));
    row("status", p.status);
    row("score", fmt(p.score));
    if (data.campaign.test_doubles) row("caveat", el("span", {id: "detail-doubles", textContent: data.campaign.test_doubles}));
    row("parents", ...(p.parents.length ? p.parents.map(nodeLink) : [ORIGINS[p.edit_kind] || ORIGINS.archive]));
    if (p.inspirations.length) row("inspirations", ...p.inspirations.map(nodeLink));
    row("children", ...(p.children.length ? p.children.slice(0, 30).map(nodeLink) : ["none"]),
        p.children.length > 30 ? `… ${p.children.length - 30} more` : "");
    row("island / generation", `${p.island} / ${p.generation}`);
    row("model", p.model || "-");
    row("edit", `${p.edit_kind || "-"}${p.prompt_template ? ` (${p.prompt_template})` : ""}`);
    if (p.prompt_variant != null) row("prompt variant", `#${p.prompt_variant} (Prompts tab)`);
    row("evaluator", p.evaluator_version || "-");
    if (p.iteration !== null) row("iteration", iterationLink(p.iteration));
    const idle = data.no_program, tried = idle.n.filter((n, k) => idle.parent[k] === p.id);
    if (tried.length) {
      row("made no program from it", ...tried.slice(-20).map(iterationLink),
          tried.length > 20 ? `… and ${tried.length - 20} earlier` : "");
    }
    const held = data.held_out && data.held_out.program === p.id ? data.held_out : null;
    if (held) row("held-out score", el("span", {id: "detail-held-out", textContent: `${heldOutText(held)}, measured when the campaign stopped`}));
    const since = duration(p.created_at - data.campaign.created_at);
    row("created", `${new Date(p.created_at * 1000).toLocaleString()} (${since} in)`);
    const parts = [head, facts];
    if (m.size[i] > 1) {
      const what = `${collapsed.has(i) ? "expand" : "collapse"} ${m.size[i] - 1} descendants`;
      const b = el("button", {textContent: what});
      b.onclick = () => {
        if (collapsed.has(i)) collapsed.delete(i); else collapsed.add(i);
        layout(); redraw(); renderDetail(p, other);
      };
      parts.push(b);
    }
    if (p.thought) parts.push(el("h3", {textContent: "thought"}), el("p", {textContent: p.thought}));
    if (other) {
      parts.push(el("h3", {textContent: `diff #${p.id} → #${other.id}`}));
      const text = unifiedDiff(p.code, other.code, `program ${p.id}`, `program ${other.id}`);
      parts.push(text ? diffBlock(text, "detail-compare")
        : el("p", {id: "detail-compare", textContent: "same code"}));
    }
    const evals = el("table", {}, cells("th", ["stage", "status", "score", "public metrics",
                                               "private metrics (held out)", "reason", "s"]));
    for (const e of p.evaluations) {
      evals.append(cells("td", [e.stage + (e.final ? "" : " ·"), e.status, fmt(e.score),
        metricTable(e.public, ""), metricTable(e.private, "private"), e.reason || "",
        fmt(e.duration_s)]));
    }
    if (held) {
      evals.append(cells("td", ["held-out (at the stop)", held.status, fmt(held.score), metricTable({}, ""),
        metricTable(held.metrics, "private"), held.reason || "", "-"]));
    }
    parts.push(el("h3", {}, "evaluations ",
                  el("span", {className: "tag private", textContent: "private: never shown to models"})), evals);
    const tail = p.evaluations.map((e) => e.error_tail).filter(Boolean).at(-1);
    if (tail) parts.push(el("h3", {textContent: "error tail"}), pre(tail, "err"));
    parts.push(el("h3", {textContent: p.parents.length ? `diff against parent #${p.parents[0]}` : "diff"}));
    const same = p.parents.length ? "same code as the parent" : "a seed: no parent to diff against";
    parts.push(p.diff ? diffBlock(p.diff, "detail-diff")
      : el("p", {id: "detail-diff", textContent: same}));
    parts.push(el("h3", {textContent: "code"}), el("pre", {id: "detail-code", textContent: p.code}));
    parts.push(...callList(p.calls, "none recorded (a seed, a copy, or a tuning step)"));
    if (p.edit_text) parts.push(el("details", {}, el("summary", {textContent: "the edit as written"}), pre(p.edit_text)));
    box.replaceChildren(...parts);
  }

  // ---- line diff: for two programs chosen on the page ----------------------------------------
  // Python's difflib.unified_diff (SequenceMatcher, no junk function, autojunk on), line for line:
  // the diff of two programs chosen here reads exactly as the diff against the parent that the
  // archive stored, and as `discover diff` prints it.
  const LINE = /[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]|$)/g;
  const splitLines = (text) => text.match(LINE).filter((line) => line !== ""); // str.splitlines(keepends=True)

  function matchingBlocks(a, b) {
    const b2j = new Map();
    b.forEach((line, j) => { if (!b2j.has(line)) b2j.set(line, []); b2j.get(line).push(j); });
    if (b.length >= 200) { // autojunk: lines in more than 1% of b are never match anchors
      const most = Math.floor(b.length / 100) + 1;
      for (const [line, js] of b2j) if (js.length > most) b2j.delete(line);
    }
    const longest = (alo, ahi, blo, bhi) => {
      let bi = alo, bj = blo, size = 0, j2len = new Map();
      for (let i = alo; i < ahi; i++) {
        const next = new Map();
        for (const j of b2j.get(a[i]) || []) {
          if (j < blo) continue;
          if (j >= bhi) break;
          const k = (j2len.get(j - 1) || 0) + 1;
          next.set(j, k);
          if (k > size) { bi = i - k + 1; bj = j - k + 1; size = k; }
        }
        j2len = next;
      }
      while (bi > alo && bj > blo && a[bi - 1] === b[bj - 1]) { bi--; bj--; size++; }
      while (bi + size < ahi && bj + size < bhi && a[bi + size] === b[bj + size]) size++;
      return [bi, bj, size];
    };
    const queue = [[0, a.length, 0, b.length]], blocks = [];
    while (queue.length) {
      const [alo, ahi, blo, bhi] = queue.pop(), [i, j, k] = longest(alo, ahi, blo, bhi);
      if (!k) continue;
      blocks.push([i, j, k]);
      if (alo < i && blo < j) queue.push([alo, i, blo, j]);
      if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
    }
    blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    const joined = [];
    let [i1, j1, k1] = [0, 0, 0];
    for (const [i2, j2, k2] of blocks) {
      if (i1 + k1 === i2 && j1 + k1 === j2) k1 += k2;
      else { if (k1) joined.push([i1, j1, k1]); [i1, j1, k1] = [i2, j2, k2]; }
    }
    if (k1) joined.push([i1, j1, k1]);
    joined.push([a.length, b.length, 0]);
    return joined;
  }

  function groupedOpcodes(a, b, n = 3) {
    let codes = [], i = 0, j = 0;
    for (const [ai, bj, size] of matchingBlocks(a, b)) {
      const tag = i < ai && j < bj ? "replace" : i < ai ? "delete" : j < bj ? "insert" : "";
      if (tag) codes.push([tag, i, ai, j, bj]);
      i = ai + size; j = bj + size;
      if (size) codes.push(["equal", ai, i, bj, j]);
    }
    if (!codes.length) codes = [["equal", 0, 1, 0, 1]];
    const [t0, a0, a1, b0, b1] = codes[0];
    if (t0 === "equal") codes[0] = [t0, Math.max(a0, a1 - n), a1, Math.max(b0, b1 - n), b1];
    const [tl, c0, c1, d0, d1] = codes.at(-1);
    if (tl === "equal") codes[codes.length - 1] = [tl, c0, Math.min(c1, c0 + n), d0, Math.min(d1, d0 + n)];
    const groups = [];
    let group = [];
    for (let [tag, x1, x2, y1, y2] of codes) {
      if (tag === "equal" && x2 - x1 > 2 * n) {
        group.push([tag, x1, Math.min(x2, x1 + n), y1, Math.min(y2, y1 + n)]);
        groups.push(group); group = [];
        x1 = Math.max(x1, x2 - n); y1 = Math.max(y1, y2 - n);
      }
      group.push([tag, x1, x2, y1, y2]);
    }
    if (group.length && !(group.length === 1 && group[0][0] === "equal")) groups.push(group);
    return groups;
  }

  function unifiedDiff(textA, textB, nameA, nameB) {
    const a = splitLines(textA), b = splitLines(textB), out = [];
    const range = (start, stop) => {
      const length = stop - start;
      return length === 1 ? `${start + 1}` : `${length ? start + 1 : start},${length}`;
    };
    for (const group of groupedOpcodes(a, b)) {
      if (!out.length) out.push(`--- ${nameA}\n`, `+++ ${nameB}\n`);
      const first = group[0], last = group.at(-1);
      out.push(`@@ -${range(first[1], last[2])} +${range(first[3], last[4])} @@\n`);
      for (const [tag, i1, i2, j1, j2] of group) {
        if (tag === "equal") { for (const line of a.slice(i1, i2)) out.push(` ${line}`); continue; }
        if (tag !== "insert") for (const line of a.slice(i1, i2)) out.push(`-${line}`);
        if (tag !== "delete") for (const line of b.slice(j1, j2)) out.push(`+${line}`);
      }
    }
    return out.join("");
  }

  // ---- the campaign's charts ----------------------------------------------------------------
  // One small plotter: axes with a few round ticks, dots and lines; time on x in the unit the
  // campaign's span suits.
  function plot(c, series, ylabel) {
    const [w, h, g] = resize(c);
    g.clearRect(0, 0, w, h);
    const pts = series.flatMap((s) => s.points);
    if (!pts.length) { g.fillStyle = "#555d6b"; g.fillText("nothing yet", 50, h / 2); return; }
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [x, y] of pts) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 += Math.abs(y1) * 0.05 || 1; y0 -= Math.abs(y0) * 0.05 || 1; }
    const L = 60, R = 34, T = 20, B = 30;
    const X = (x) => L + ((x - x0) / (x1 - x0)) * (w - L - R), Y = (y) => h - B - ((y - y0) / (y1 - y0)) * (h - T - B);
    const unit = x1 < 7200 ? [60, "min"] : x1 < 172800 ? [3600, "h"] : [86400, "d"];
    g.strokeStyle = "#c9ced6"; g.fillStyle = "#555d6b"; g.font = "11px system-ui, sans-serif";
    g.beginPath(); g.moveTo(L, T); g.lineTo(L, h - B); g.lineTo(w - R, h - B); g.stroke();
    for (let k = 0; k <= 4; k++) {
      const xv = x0 + ((x1 - x0) * k) / 4, yv = y0 + ((y1 - y0) * k) / 4;
      g.fillText(`${(xv / unit[0]).toFixed(1)} ${unit[1]}`, X(xv) - 14, h - B + 14);
      g.fillText(fmt(Number(yv.toPrecision(4))), 4, Y(yv) + 4);
    }
    g.fillText(ylabel, L + 6, T - 6);
    for (const s of series) {
      g.fillStyle = g.strokeStyle = s.color;
      if (s.kind === "dots") { for (const [x, y] of s.points) g.fillRect(X(x) - 1, Y(y) - 1, 2, 2); continue; }
      if (s.kind === "mark") {
        for (const [x, y] of s.points) { g.beginPath(); shapePath(g, "diamond", X(x), Y(y), 6); g.fill(); }
        const [x, y] = s.points[0]; g.fillText(s.label, Math.min(X(x) + 8, w - 170), Math.min(Y(y) + 14, h - B - 4));
        continue;
      }
      g.lineWidth = 2; g.beginPath();
      s.points.forEach(([x, y], k) => {
        if (!k) { g.moveTo(X(x), Y(y)); return; }
        if (s.kind === "step") g.lineTo(X(x), Y(s.points[k - 1][1]));
        g.lineTo(X(x), Y(y));
      });
      g.stroke(); g.lineWidth = 1;
      if (s.label) { const [x, y] = s.points.at(-1); g.fillText(s.label, Math.min(X(x), w - 170), Math.max(Y(y) - 4, T + 10)); }
    }
  }

  function renderCampaign() {
    const islands = new Map(), best = [];
    let top = -Infinity;
    for (let i = 0; i < m.n; i++) {
      if (m.score[i] !== m.score[i]) continue;
      const isl = m.island[i];
      if (!islands.has(isl)) islands.set(isl, []);
      islands.get(isl).push([m.t[i], m.score[i]]);
      if (m.score[i] > top) { top = m.score[i]; best.push([m.t[i], top]); }
    }
    if (best.length) best.push([m.t[m.n - 1], top]);
    const dots = [...islands].map(([isl, points]) => ({points, kind: "dots", color: ISLANDS[isl % ISLANDS.length]}));
    const h = data.held_out, held = h && h.score !== null
      ? [{points: [[h.t, h.score]], kind: "mark", color: "#c2185b", label: `held-out ${fmt(h.score)} (#${h.program})`}] : [];
    plot($("scores"), [...dots, {points: best, kind: "step", color: "#d4a017", label: `best ${fmt(top)}`}, ...held], "score");
    const free = data.usage.every((u) => !u.cost);
    plot($("spending"), Object.entries(data.spending).map(([model, pts], k) => ({
      points: pts.map(([t, tokens, cost]) => [t, free ? tokens : cost]), kind: "line",
      color: ISLANDS[(k + 3) % ISLANDS.length], label: model})), free ? "tokens (all models are free)" : "cost $");
    $("usage").replaceChildren(
      cells("th", ["model", "calls", "errors", "tokens in", "tokens out", "cost $", "mean latency s"]),
      ...data.usage.map((u) => cells("td", [u.model, u.calls, u.errors, u.tokens_in.toLocaleString(),
        u.tokens_out.toLocaleString(), u.cost.toFixed(4), fmt(u.mean_latency_s)])));
    const most = Math.max(1, ...data.failures.map((f) => f[2]));
    const bar = ([status, reason, count]) => el("div", {className: "bar"},
      el("b", {style: `width:${(200 * count) / most}px`}), el("span", {textContent: `${count} ${status}: ${reason}`}));
    $("failures").replaceChildren(...(data.failures.length ? data.failures.map(bar) : [hint("no failures")]));
    renderIdle();
    const insight = (s, k) => el("details", {open: k === 0},
      el("summary", {textContent: `after iteration ${s.after ?? "?"} · ${duration(s.t)} in`}), pre(s.insights));
    $("insights").replaceChildren(...(data.insights.length ? data.insights.slice().reverse().map(insight)
      : [hint("no scratchpad insights recorded (the scratchpad is off, or has not run yet)")]));
    $("reports").replaceChildren(...(data.reports.length ? data.reports.map((src) => el("img", {src, alt: src}))
      : [hint(`no report plots yet: \`discover report ${data.campaign.name}\` draws them, and they show here after a reload`)]));
  }

  // The prompt archive (prompt co-evolution): a tree a kind of answer, each variant under its
  // parent; a click shows its system prompt and instruction (text only: a model wrote them).
  let promptShown = -1;
  function renderPrompts() {
    const variants = data.prompts.variants, kids = new Map();
    if (!variants.length) {
      $("prompttree").replaceChildren(hint("no prompt variants: this campaign ran without [prompt_evolution] enabled = true"));
      $("promptdetail").replaceChildren(); $("mutations").replaceChildren();
      return;
    }
    for (const v of variants) {
      const key = v.parent_id ?? v.kind;
      if (!kids.has(key)) kids.set(key, []);
      kids.get(key).push(v);
    }
    const best = new Map();
    for (const v of variants) {
      const b = best.get(v.kind);
      if (v.uses && (!b || v.mean > b.mean)) best.set(v.kind, v);
    }
    const item = (v) => {
      const mean = v.uses ? `${v.mean >= 0 ? "+" : ""}${v.mean.toFixed(3)}` : "-";
      const made = v.iteration === null ? "shipped" : `made at iteration ${v.iteration}`;
      const button = el("button", {className: "variant" + (best.get(v.kind) === v ? " best" : ""),
        textContent: `#${v.id} ${v.name || "-"} · uses ${v.uses} · mean ${mean} · ${made}`});
      button.dataset.variant = v.id;
      button.onclick = () => { promptShown = v.id; renderPrompts(); };
      return el("li", {}, button, list(kids.get(v.id) || []));
    };
    const list = (vs) => el("ul", {className: "ptree"}, ...vs.map(item));
    const kinds = [...new Set(variants.map((v) => v.kind))];
    $("prompttree").replaceChildren(...kinds.map((k) => el("div", {className: "pkind"},
      el("h3", {textContent: `${k} prompts`}), list(kids.get(k) || []))));
    const shown = variants.find((v) => v.id === promptShown);
    $("promptdetail").replaceChildren(...(shown ? [
      el("h3", {textContent: `#${shown.id} ${shown.name || ""} (${shown.kind}${shown.parent_id ? `, from #${shown.parent_id}` : ""})`}),
      el("h4", {textContent: "system prompt"}), pre(shown.system),
      el("h4", {textContent: "edit instruction"}),
      shown.instruction ? pre(shown.instruction) : hint("none: the task's ideas or the shipped list, drawn per iteration")]
      : [hint("click a variant to see its texts")]));
    const tried = data.prompts.mutations.slice().reverse();
    $("mutations").replaceChildren(...(tried.length ? tried.map((d) => el("div", {className: "idle"},
      iterationLink(d.n), el("span", {textContent: ` ${d.kind}, from #${d.parent}: ` +
        (d.variant !== null ? `made #${d.variant}` : `refused: ${d.refused}`)}))) : [hint("no mutation tried yet")]));
  }

  // The iterations that made no program, newest first, a page at a time: each opens its plan,
  // reason and model calls in the lineage tab's panel.
  let idleShown = 100;
  function renderIdle() {
    const idle = data.no_program, rows = [];
    for (let k = idle.n.length - 1; k >= Math.max(0, idle.n.length - idleShown); k--) {
      const model = idle.model[k] < 0 ? "" : ` · ${data.models[idle.model[k]]}`;
      const reason = idle.reason[k] < 0 ? "" : `: ${idle.reasons[idle.reason[k]]}`;
      rows.push(el("div", {className: "idle"}, iterationLink(idle.n[k]),
        el("span", {textContent: `island ${idle.island[k] < 0 ? "-" : idle.island[k]}${model} · ${idle.calls[k]} calls · ${data.statuses[idle.status[k]]}${reason}`})));
    }
    if (idle.n.length > idleShown) {
      const more = el("button", {textContent: `show ${Math.min(100, idle.n.length - idleShown)} more of ${idle.n.length}`});
      more.onclick = () => { idleShown += 100; renderIdle(); };
      rows.push(more);
    }
    $("idle").replaceChildren(...(rows.length ? rows : [hint("none: every iteration made a program")]));
  }

  // Is it running? The state word, why, and what is in flight; a static export says when it
  // was taken, since the campaign may have moved on.
  function renderState(st) {
    const box = $("state");
    box.className = st.state;
    box.textContent = st.state;
    const why = [st.reason, st.in_flight.length ? `in flight: ${st.in_flight.join(", ")}` : ""].filter(Boolean).join(" · ");
    const when = st.since ? ` since ${new Date(st.since * 1000).toLocaleString()}` : "";
    $("statewhy").textContent = `${when}${why ? ` · ${why}` : ""}${data.static ? " (when this export was written)" : ""}`;
  }

  function renderHead() {
    const c = data.campaign, counts = data.counts;
    const failed = Object.entries(counts).filter(([k]) => k !== "ok" && k !== "pending").reduce((a, [, v]) => a + v, 0);
    $("title").textContent = `${c.name} · ${c.task}`;
    // a test double's scores (double_label.py) are said beside the campaign's name
    $("doubles").hidden = !c.test_doubles;
    $("doubles").textContent = c.test_doubles ? `caveat: ${c.test_doubles}` : "";
    document.title = `${c.name} · discovery view`;
    renderState(data.state);
    const best = data.best === null ? "-" : `#${data.best} ${fmt(m.score[m.best])}`;
    const idle = data.no_program.n.length;
    $("summary").textContent = `${m.n.toLocaleString()} programs: ${counts.ok} ok, ${failed} failed, `
      + `${counts.pending} pending${idle ? ` · ${idle.toLocaleString()} iterations made no program` : ""} · best ${best}`;
    const h = data.held_out;
    $("heldout").textContent = !h ? "held-out: not measured yet (the best is scored on the held-out stage when the campaign stops)"
      : `held-out${h.program === data.best ? "" : ` of #${h.program} (the best when the campaign stopped)`}: ${heldOutText(h)}`;
    const chip = (background, text) => el("span", {}, el("i", {style: `background:${background}`}), text);
    const gradient = [0, 0.25, 0.5, 0.75, 1].map((f) => color(ramp(f))).join(",");
    const marks = {ring: "○", triangle: "▲", cross: "✕", square: "■", diamond: "◆"};
    $("legend").replaceChildren(
      chip(`linear-gradient(90deg,${gradient});width:40px`, `score ${fmt(m.lo)} … ${fmt(m.hi)} (●)`),
      ...Object.entries(SHAPES).filter(([s]) => s !== "ok").map(([s, shape]) => el("span", {textContent: `${marks[shape]} ${s}`})),
      chip("#d4a017", "best lineage"),
      ...[...new Set(m.island)].sort((a, b) => a - b).map((k) => chip(ISLANDS[k % ISLANDS.length], `island ${k}`)));
  }

  // ---- loading, and following a running campaign ---------------------------------------------
  // The archive only appends programs, in id order, so an index (a selection, a collapsed
  // subtree) means the same program after a reload.
  function load(d) {
    data = d; m = ingest(d);
    layout(); renderHead();
    if (!view.fitted) fit(); else redraw();
    if ($("campaign").classList.contains("on")) renderCampaign();
    if ($("prompts").classList.contains("on")) renderPrompts();
    window.discoveryView.count = lay.shown;
    window.discoveryView.total = m.n;
    window.discoveryView.best = d.best;
  }

  function poll() {
    if (document.hidden) return;
    const say = (what) => { $("live").textContent = `live · ${what} ${new Date().toLocaleTimeString()}`; };
    fetch("api/stamp").then((r) => r.json()).then((s) => {
      data.state = s.state; renderState(s.state);
      if (s.stamp === data.stamp) { say("checked"); return null; }
      return fetch("api/data").then((r) => r.json()).then((d) => { load(d); say("updated"); });
    }).catch(() => { $("live").textContent = "the server stopped: this page no longer updates"; });
  }

  for (const b of document.querySelectorAll("nav button")) {
    b.onclick = () => {
      for (const x of document.querySelectorAll("nav button, .tab")) x.classList.remove("on");
      b.classList.add("on"); $(b.dataset.tab).classList.add("on");
      if (b.dataset.tab === "campaign") renderCampaign();
      else if (b.dataset.tab === "prompts") renderPrompts(); else redraw();
    };
  }
  $("fit").onclick = fit;
  $("tobest").onclick = () => { if (m.best >= 0) select(m.best, false); };
  $("hidefailed").onchange = () => { layout(); fit(); };
  $("goto").onchange = (e) => {
    const text = e.target.value.trim(), n = Number(text.replace(/^(#|i|iteration)\s*/i, ""));
    if (/^i/i.test(text)) showIteration(n);
    else if (m.index.has(n)) select(m.index.get(n), false);
  };

  // for tests and benches: where a program is drawn (canvas pixels), the islands' bands left to
  // right, when the tree first drew (ms from navigation), how long the last drawing took
  window.discoveryView = {at: (id) => [sx(m.index.get(id)), sy(m.index.get(id))],
                          bands: () => lay.bands.map((b) => b.island),
                          firstDrawMs: () => firstDraw, drawMs: () => drawMs};
  function start(d) {
    load(d);
    if (!data.static) { $("live").textContent = "live"; setInterval(poll, POLL_S * 1000); }
    else $("live").textContent = `static export · ${new Date(data.campaign.updated_at * 1000).toLocaleString()}`;
  }
  if (window.VIEW_DATA) start(window.VIEW_DATA);
  else {
    fetch("api/data").then((r) => { if (!r.ok) throw new Error(r.statusText); return r.json(); }).then(start)
      .catch(() => $("detail").replaceChildren(el("p", {className: "err",
        textContent: "no data: open index.html from its folder, or the URL that `discover view` printed"})));
  }
})();
