// memkv memory console: fetches the endpoint's JSON every few seconds and draws it.
// No libraries, no inline code (the page runs under a strict Content-Security-Policy).
'use strict';

const REFRESH_MS = 3000;
const FLAME_EVERY = 5; // refreshes between two profile loads while profiling is on
const TOKEN_KEY = 'memkv-console-token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fde', '#e07b39', '#3aa776', '#c94f7c', '#8a63d2', '#d4a72c', '#4fb3c9',
  '#9c6644', '#6b7a8f', '#b5c23a', '#e0533d', '#5a9bd5', '#7fbf7f', '#c98fd1', '#a0a0a0',
  '#444c5c'];

const state = {
  token: '',
  updates: 0,
  memory: null,
  console: null,
  history: { fields: [], points: [], interval: 0, capacity: 0 },
  flame: null,
  flameZoom: [],
  flameAge: 0,
  busy: false,
};

// ---- small helpers ----

function $(id) { return document.getElementById(id); }

function el(tag, props, children) {
  const e = document.createElement(tag);
  if (props) {
    for (const k of Object.keys(props)) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'cls') e.className = props[k];
      else if (k === 'data') Object.assign(e.dataset, props[k]);
      else e.setAttribute(k, props[k]);
    }
  }
  for (const c of children || []) e.appendChild(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
  return e;
}

function fmtBytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return (n < 0 ? '−' : '') + v.toFixed(digits) + ' ' + units[u];
}

function fmtNum(n) { return Number(n || 0).toLocaleString('en-US'); }
function fmtPct(x) { return isFinite(x) ? (100 * x).toFixed(1) + '%' : '–'; }
function fmtTime(ms) { return new Date(ms).toTimeString().slice(0, 8); }

function colorOf(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length];
}

// A figure: the short text, the exact number in data-bytes (tests read it) and the title.
function setBytes(id, n) {
  const e = $(id);
  e.textContent = fmtBytes(n);
  e.dataset.bytes = String(n);
  e.title = fmtNum(n) + ' bytes';
}

// Replace a table body only when its rows changed (no flicker, selection kept).
// rows: arrays of cells; a cell is a string or {text, cls, title}; row.data → tr dataset.
function setRows(tableId, rows, empty) {
  const tbody = $(tableId).tBodies[0];
  const key = JSON.stringify(rows);
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  const ncols = $(tableId).tHead.rows[0].cells.length;
  const out = [];
  if (!rows.length) {
    out.push(el('tr', null, [el('td', { text: empty || 'none', cls: 'empty', colspan: ncols })]));
  }
  for (const r of rows) {
    const tr = el('tr', r.data ? { data: r.data } : null);
    for (const c of r.cells || r) {
      const cell = typeof c === 'object' && c !== null ? c : { text: String(c) };
      const td = el('td', { text: cell.text === undefined ? '' : String(cell.text) });
      if (cell.cls) td.className = cell.cls;
      if (cell.title) td.title = cell.title;
      if (cell.node) td.appendChild(cell.node);
      tr.appendChild(td);
    }
    out.push(tr);
  }
  tbody.replaceChildren(...out);
}

function bytesCell(n) { return { text: fmtBytes(n), title: fmtNum(n) + ' bytes' }; }

// A stacked bar: spans reused by position so the widths animate instead of flashing.
function setBar(barId, legendId, segments) {
  const bar = $(barId);
  const total = segments.reduce((s, x) => s + Math.max(0, x.bytes), 0) || 1;
  while (bar.children.length > segments.length) bar.lastChild.remove();
  while (bar.children.length < segments.length) bar.appendChild(el('span'));
  segments.forEach((s, i) => {
    const span = bar.children[i];
    span.style.width = (100 * Math.max(0, s.bytes) / total) + '%';
    span.style.background = s.color;
    span.title = s.name + ': ' + fmtBytes(s.bytes) + ' (' + fmtPct(s.bytes / total) + ')';
    span.dataset.name = s.name;
    span.dataset.bytes = String(s.bytes);
  });
  if (legendId) {
    const items = segments.map((s) => el('li', { title: fmtNum(s.bytes) + ' bytes' }, [
      svgless(s.color), document.createTextNode(s.name + ' ' + fmtBytes(s.bytes))]));
    const key = JSON.stringify(segments.map((s) => [s.name, s.bytes]));
    const legend = $(legendId);
    if (legend.dataset.key !== key) {
      legend.dataset.key = key;
      legend.replaceChildren(...items);
    }
  }
}

function svgless(color) {
  const i = el('i');
  i.style.background = color;
  return i;
}

// ---- fetching ----

function authHeaders() {
  return state.token ? { Authorization: 'Bearer ' + state.token } : {};
}

async function api(path, options) {
  const opts = Object.assign({ headers: authHeaders(), cache: 'no-store' }, options || {});
  const resp = await fetch(path, opts);
  if (resp.status === 401) {
    $('token-form').hidden = false;
    throw new Error(state.token ? 'the token was refused' : 'this endpoint needs a token');
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok && !(body && body.ok === false)) throw new Error(path + ': HTTP ' + resp.status);
  return { status: resp.status, body };
}

function takeToken() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    // Kept for this tab only, and taken out of the address bar (and so out of history).
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  state.token = sessionStorage.getItem(TOKEN_KEY) || '';
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const since = state.history.points.length
      ? state.history.points[state.history.points.length - 1][0] : 0;
    const [mem, con, hist] = await Promise.all([
      api('/debug/memory'), api('/debug/console'), api('/debug/history?since=' + since)]);
    state.memory = mem.body;
    state.console = con.body;
    mergeHistory(hist.body);
    render();
    const prof = state.memory.profiler || {};
    if (prof.available && prof.active) {
      if (!state.flame || state.flameAge++ >= FLAME_EVERY) await loadFlame();
    } else if (state.flame) {
      state.flame = null;
      renderFlame();
    } else {
      renderFlame();
    }
    state.updates++;
    document.body.dataset.updates = String(state.updates);
    const s = $('status');
    s.textContent = 'memkv ' + (state.console.version || '') + ' · updated ' + fmtTime(Date.now());
    s.className = 'status';
    $('token-form').hidden = true;
  } catch (e) {
    const s = $('status');
    s.textContent = e.message;
    s.className = 'status error';
  } finally {
    state.busy = false;
  }
}

function mergeHistory(h) {
  const H = state.history;
  if (H.interval !== h.interval_ms || H.capacity !== h.capacity ||
      JSON.stringify(H.fields) !== JSON.stringify(h.fields)) {
    H.points = [];
  }
  H.fields = h.fields;
  H.interval = h.interval_ms;
  H.capacity = h.capacity;
  const last = H.points.length ? H.points[H.points.length - 1][0] : 0;
  for (const p of h.points) if (p[0] > last) H.points.push(p);
  if (H.points.length > H.capacity) H.points.splice(0, H.points.length - H.capacity);
}

// ---- drawing ----

function render() {
  renderHeadline();
  renderBytes();
  renderHistory();
  renderKeyspace();
  renderClients();
  renderProfiler();
}

function renderHeadline() {
  const m = state.memory;
  setBytes('used-memory', m.memory.used);
  setBytes('rss', m.process.rss);
  if (m.memory.max > 0) setBytes('maxmemory', m.memory.max);
  else { $('maxmemory').textContent = 'no limit'; $('maxmemory').dataset.bytes = '0'; }
  $('policy').textContent = m.memory.policy || '–';
  setBytes('peak', m.memory.peak);
  const fr = m.ratios.mem_fragmentation_ratio;
  $('frag').textContent = fr === null ? '–' : fr.toFixed(2);
  $('frag').title = 'RSS / used memory';
  const doc = m.doctor || { findings: [] };
  const list = $('findings');
  const key = JSON.stringify(doc.findings);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  const items = doc.findings.map((f) => el('li', { cls: f.severity, data: { code: f.code } }, [
    el('span', { cls: 'code', text: f.code }),
    document.createTextNode(f.text + (f.bytes ? ' [' + fmtBytes(f.bytes) + ' at stake]' : '')),
  ]));
  if (!items.length) {
    const first = (doc.report || 'Nothing to report.').split('\n').filter((l) => l.trim())[0];
    items.push(el('li', { text: first || 'Nothing to report.' }));
  }
  list.replaceChildren(...items);
}

function renderBytes() {
  const m = state.memory;
  const a = m.allocator;
  const rss = m.process.rss;
  const used = m.memory.used;
  const pos = (x) => Math.max(0, x);
  const segs = [];
  if (a.available) {
    segs.push({ name: 'outside the allocator', bytes: pos(rss - a.resident), color: '#9aa3b2' });
    segs.push({ name: 'freed pages not returned', bytes: pos(a.resident - a.active - a.metadata), color: '#d4a72c' });
    segs.push({ name: 'allocator metadata', bytes: pos(a.metadata), color: '#8a63d2' });
    segs.push({ name: 'slab holes', bytes: pos(a.active - a.allocated), color: '#e0533d' });
    segs.push({ name: 'allocated, not counted by memkv', bytes: pos(a.allocated - used), color: '#4fb3c9' });
    segs.push({ name: 'used memory', bytes: used, color: '#2f6fde' });
  } else {
    segs.push({ name: 'RSS beyond used memory', bytes: pos(rss - used), color: '#9aa3b2' });
    segs.push({ name: 'used memory', bytes: used, color: '#2f6fde' });
  }
  setBar('rss-bar', 'rss-legend', segs);

  const subs = Object.entries(m.subsystems).map(([name, bytes]) => ({ name, bytes, color: colorOf(name) }));
  subs.sort((x, y) => y.bytes - x.bytes);
  const total = subs.reduce((s, x) => s + x.bytes, 0) || 1;
  setBar('sub-bar', null, subs.filter((s) => s.bytes > 0));
  const zero = subs.filter((s) => s.bytes === 0).map((s) => s.name);
  $('sub-zero').textContent = zero.length ? 'Empty: ' + zero.join(', ') + '.' : '';
  setRows('subsystems', subs.filter((s) => s.bytes > 0).map((s) => ({
    data: { sub: s.name, bytes: String(s.bytes) },
    cells: [{ text: s.name, node: null }, bytesCell(s.bytes), fmtPct(s.bytes / total)],
  })));

  const bins = (m.size_classes || []).filter((b) => b.free_bytes > 0);
  bins.sort((x, y) => y.free_bytes - x.free_bytes);
  const maxFree = bins.length ? bins[0].free_bytes : 1;
  setRows('size-classes', bins.slice(0, 12).map((b) => {
    const meter = el('span', { cls: 'meter' });
    meter.style.width = Math.max(2, Math.round(60 * b.free_bytes / maxFree)) + 'px';
    const regs = b.slabs * b.regions_per_slab || 1;
    return [fmtBytes(b.size), fmtNum(b.slabs), fmtPct(b.regions_used / regs), bytesCell(b.free_bytes),
      { text: '', node: meter }];
  }), 'no holes in any slab');
}

function renderKeyspace() {
  const k = state.console.keyspace;
  $('keyspace-off').hidden = k.enabled;
  const types = k.types.slice().sort((x, y) => y.bytes - x.bytes);
  setBar('type-bar', null, types.map((t) => ({ name: t.type, bytes: t.bytes, color: colorOf(t.type + 's') })));
  setRows('types', types.map((t) => [t.type, fmtNum(t.keys), bytesCell(t.bytes)]));
  const ttlNames = { none: 'no TTL', lt_1h: '< 1 hour', lt_1d: '< 1 day', lt_1w: '< 1 week', longer: 'longer' };
  setRows('ttl', k.ttl.map((t) => [ttlNames[t.bucket] || t.bucket, fmtNum(t.keys), bytesCell(t.bytes)]));
  const pref = k.prefixes.slice(0, 15).map((p) => [{ text: p.prefix, cls: 'name', title: p.prefix },
    fmtNum(p.keys), bytesCell(p.bytes)]);
  if (k.prefix_other.keys) pref.push([{ text: '(other)', cls: 'name' }, fmtNum(k.prefix_other.keys), bytesCell(k.prefix_other.bytes)]);
  setRows('prefixes', pref, k.prefixes_enabled ? 'no keys' : 'prefixes are off (keyspace-prefix-max 0)');
  setRows('top-keys', k.top_keys.map((t) => [{ text: t.key, cls: 'name', title: 'db ' + t.db + ', ' + t.key +
    (t.ttl_ms >= 0 ? ', TTL ' + Math.round(t.ttl_ms / 1000) + ' s' : '') }, t.type, fmtNum(t.length), bytesCell(t.bytes)]),
  'no keys');
}

function renderClients() {
  const c = state.console.clients;
  setRows('clients', c.largest.map((x) => [String(x.id), { text: x.addr, cls: 'name' }, { text: x.name, cls: 'name' },
    x.cmd, bytesCell(x.query_buffer), bytesCell(x.output_buffer)]), 'no clients connected');
}

// ---- history chart ----

function renderHistory() {
  const H = state.history;
  const box = $('history-chart');
  const W = Math.max(300, box.clientWidth || 600);
  const Hh = 220;
  const pad = { l: 70, r: 10, t: 10, b: 22 };
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + Hh, width: W, height: Hh, role: 'img' });
  const pts = H.points;
  $('history-hint').textContent = pts.length
    ? pts.length + ' points, one every ' + (H.interval / 1000) + ' s (memory-history-interval-ms)'
    : 'No point yet: the first comes after memory-history-interval-ms.';
  const series = [];
  if (pts.length) {
    const idx = (name) => H.fields.indexOf(name);
    series.push({ name: 'RSS', i: idx('rss'), color: '#9aa3b2', width: 2 });
    series.push({ name: 'used memory', i: idx('used'), color: '#2f6fde', width: 2 });
    const last = pts[pts.length - 1];
    const subs = H.fields.map((f, i) => ({ f, i })).filter((x) => x.i >= 4);
    subs.sort((x, y) => last[y.i] - last[x.i]);
    for (const x of subs.slice(0, 5)) {
      if (last[x.i] > 0) series.push({ name: x.f, i: x.i, color: colorOf(x.f), width: 1.2 });
    }
    const t0 = pts[0][0];
    const t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
    let ymax = 1;
    for (const p of pts) for (const se of series) ymax = Math.max(ymax, p[se.i]);
    ymax *= 1.1;
    const X = (t) => pad.l + (W - pad.l - pad.r) * (t - t0) / (t1 - t0);
    const Y = (v) => Hh - pad.b - (Hh - pad.t - pad.b) * v / ymax;
    for (let g = 0; g <= 4; g++) {
      const v = ymax * g / 4;
      s.appendChild(svg('line', { x1: pad.l, x2: W - pad.r, y1: Y(v), y2: Y(v), class: g ? 'grid' : 'axis' }));
      const t = svg('text', { x: pad.l - 6, y: Y(v) + 4, 'text-anchor': 'end' });
      t.textContent = fmtBytes(v);
      s.appendChild(t);
    }
    const tl = svg('text', { x: pad.l, y: Hh - 6 });
    tl.textContent = fmtTime(t0);
    const tr = svg('text', { x: W - pad.r, y: Hh - 6, 'text-anchor': 'end' });
    tr.textContent = fmtTime(t1);
    s.append(tl, tr);
    for (const se of series) {
      const d = pts.map((p) => X(p[0]).toFixed(1) + ',' + Y(p[se.i]).toFixed(1)).join(' ');
      s.appendChild(svg('polyline', { points: d, fill: 'none', stroke: se.color, 'stroke-width': se.width }));
    }
    const cursor = svg('line', { y1: pad.t, y2: Hh - pad.b, class: 'cursor', visibility: 'hidden' });
    s.appendChild(cursor);
    s.addEventListener('mousemove', (ev) => {
      const r = s.getBoundingClientRect();
      const x = (ev.clientX - r.left) * W / r.width;
      const t = t0 + (x - pad.l) * (t1 - t0) / (W - pad.l - pad.r);
      let best = pts[0];
      for (const p of pts) if (Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
      cursor.setAttribute('x1', X(best[0]));
      cursor.setAttribute('x2', X(best[0]));
      cursor.setAttribute('visibility', 'visible');
      showTip(ev, fmtTime(best[0]) + '\n' + series.map((se) => se.name + ': ' + fmtBytes(best[se.i])).join('\n'));
    });
    s.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); hideTip(); });
  }
  box.replaceChildren(s);
  const legend = $('history-legend');
  const key = series.map((x) => x.name).join(',');
  if (legend.dataset.key !== key) {
    legend.dataset.key = key;
    legend.replaceChildren(...series.map((x) => el('li', null, [svgless(x.color), document.createTextNode(x.name)])));
  }
}

// ---- tooltip ----

function showTip(ev, text) {
  const tip = $('tip');
  tip.textContent = '';
  text.split('\n').forEach((line, i) => {
    if (i) tip.appendChild(el('br'));
    tip.appendChild(document.createTextNode(line));
  });
  tip.hidden = false;
  const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
  tip.style.left = Math.max(4, x) + 'px';
  tip.style.top = Math.max(4, y) + 'px';
}

function hideTip() { $('tip').hidden = true; }

// ---- profiler, actions ----

function renderProfiler() {
  const p = state.memory.profiler;
  const st = $('prof-state');
  st.textContent = !p.available ? 'unavailable' : p.active ? 'sampling' : 'off';
  st.title = p.available ? '' : p.why_unavailable;
  st.dataset.active = p.active ? '1' : '0';
  setBytes('prof-rate', p.sample_bytes);
  setBytes('prof-own', p.own_memory);
  $('prof-snaps').textContent = fmtNum(p.snapshots) + ' (' + fmtNum(p.snapshots_held) + ' kept)';
  const sites = state.memory.top_sites || [];
  setRows('top-sites', sites.slice(0, 10).map((x) => [{ text: x.func, cls: 'name', title: x.func }, x.subsystem,
    bytesCell(x.live_bytes), fmtPct(x.share)]), p.available ? (p.active ? 'nothing sampled yet' : 'start profiling to see them') : p.why_unavailable);
  const leaks = state.memory.leak_suspects || [];
  setRows('leaks', leaks.slice(0, 10).map((x) => [{ text: x.func, cls: 'name', title: x.func }, bytesCell(x.live_bytes),
    bytesCell(x.growth_bytes), fmtBytes(x.bytes_per_sec) + '/s']),
  state.memory.leak_suspects_error || 'none (they need a few snapshots: memory-profiling-snapshot-interval)');
  renderActions(p);
}

function renderActions(p) {
  const a = state.console.actions;
  let why = '';
  if (!a.enabled || !a.token) why = a.why_disabled;
  else if (!state.token) why = 'actions need the token: open the page with #token=… or enter it above';
  const setBtn = (id, off, reason) => {
    const b = $(id);
    b.disabled = Boolean(why || off);
    b.title = why || reason || '';
  };
  setBtn('act-profile-start', !p.available || p.active, !p.available ? p.why_unavailable : 'profiling is on');
  setBtn('act-profile-stop', !p.available || !p.active, !p.available ? p.why_unavailable : 'profiling is off');
  setBtn('act-snapshot', !p.available || !p.active, 'snapshots need profiling on');
  setBtn('act-purge', false, '');
  const w = $('actions-why');
  if (!w.dataset.result) w.textContent = why;
}

async function runAction(ev) {
  const name = ev.currentTarget.dataset.action;
  const w = $('actions-why');
  try {
    const r = await api('/debug/actions/' + name, { method: 'POST' });
    w.textContent = r.body && r.body.ok ? name + ': ' + (r.body.done ? 'done' : 'queued') : name + ': ' + (r.body && r.body.error);
  } catch (e) {
    w.textContent = name + ': ' + e.message;
  }
  w.dataset.result = '1';
  setTimeout(() => { delete w.dataset.result; }, 8000);
  state.flameAge = FLAME_EVERY; // a fresh profile with the next refresh
  setTimeout(refresh, 300);
}

// ---- flame graph ----

async function loadFlame() {
  state.flameAge = 0;
  try {
    const r = await api('/debug/pprof/heap?format=json');
    state.flame = buildTree(r.body.root, null, 0);
    state.flame.total = r.body.total_bytes;
    state.flame.period = r.body.sample_period;
  } catch (e) {
    $('flame-info').textContent = 'profile: ' + e.message;
  }
  renderFlame();
}

function buildTree(a, parent, depth) {
  const n = { name: a[0], bytes: a[1], parent, depth, kids: [] };
  n.kids = a[2].map((c) => buildTree(c, n, depth + 1));
  return n;
}

function zoomNode() {
  let n = state.flame;
  for (const name of state.flameZoom) {
    const k = n.kids.find((c) => c.name === name);
    if (!k) break;
    n = k;
  }
  return n;
}

function pathOf(n) {
  const p = [];
  for (let x = n; x && x.parent; x = x.parent) p.unshift(x.name);
  return p;
}

function renderFlame() {
  const box = $('flame');
  const info = $('flame-info');
  const p = state.memory ? state.memory.profiler : {};
  if (!state.flame) {
    box.replaceChildren(el('p', { cls: 'hint', text: p.available
      ? 'Start profiling (CONFIG SET memory-profiling-enabled yes) to see which code holds the live bytes.'
      : 'Heap profiling is unavailable: ' + (p.why_unavailable || '') }));
    box.dataset.nodes = '0';
    return;
  }
  const root = state.flame;
  const zoom = zoomNode();
  const query = $('flame-search').value.trim().toLowerCase();
  const W = Math.max(300, box.clientWidth || 800);
  const rowH = 18;
  let maxDepth = 0;
  const items = [];
  // ancestors of the zoomed node: full width
  for (let a = zoom; a; a = a.parent) items.push({ n: a, x: 0, w: W, ancestor: a !== zoom });
  const walk = (n, x, scale) => {
    let cx = x;
    for (const k of n.kids) {
      const w = k.bytes * scale;
      if (w >= 0.5) {
        items.push({ n: k, x: cx, w });
        walk(k, cx, scale);
      }
      cx += w;
    }
  };
  walk(zoom, 0, zoom.bytes > 0 ? W / zoom.bytes : 0);
  for (const it of items) maxDepth = Math.max(maxDepth, it.n.depth);
  const Hh = (maxDepth + 1) * rowH;
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + Hh, width: W, height: Hh, role: 'img' });
  let matched = 0;
  const countMatches = (n) => {
    if (n.name.toLowerCase().includes(query)) { matched += n.bytes; return; }
    n.kids.forEach(countMatches);
  };
  if (query) countMatches(zoom);
  items.forEach((it, i) => {
    const g = svg('g', { 'data-i': i });
    if (it.ancestor) g.setAttribute('class', 'ancestor');
    const r = svg('rect', { x: it.x.toFixed(2), y: it.n.depth * rowH, width: Math.max(0.5, it.w - 0.5).toFixed(2),
      height: rowH - 1, fill: flameColor(it.n.name), rx: 2 });
    if (query && it.n.name.toLowerCase().includes(query)) r.setAttribute('class', 'match');
    g.appendChild(r);
    const chars = Math.floor((it.w - 6) / 7);
    if (chars >= 3) {
      const t = svg('text', { x: (it.x + 3).toFixed(2), y: it.n.depth * rowH + 13 });
      t.textContent = it.n.name.length <= chars ? it.n.name : it.n.name.slice(0, chars - 2) + '..';
      g.appendChild(t);
    }
    s.appendChild(g);
  });
  s.addEventListener('mousemove', (ev) => {
    const g = ev.target.closest('g[data-i]');
    if (!g) { hideTip(); return; }
    const n = items[Number(g.dataset.i)].n;
    showTip(ev, n.name + '\n' + fmtBytes(n.bytes) + ' (' + fmtNum(Math.round(n.bytes)) + ' bytes), ' +
      fmtPct(n.bytes / (root.bytes || 1)) + ' of all, ' + fmtPct(n.bytes / (zoom.bytes || 1)) + ' of the view');
  });
  s.addEventListener('mouseleave', hideTip);
  s.addEventListener('click', (ev) => {
    const g = ev.target.closest('g[data-i]');
    if (!g) return;
    state.flameZoom = pathOf(items[Number(g.dataset.i)].n);
    renderFlame();
  });
  box.replaceChildren(s);
  box.dataset.nodes = String(items.length);
  box.dataset.zoom = state.flameZoom.join(';');
  info.textContent = fmtBytes(root.bytes) + ' live (sampled every ' + fmtBytes(root.period) + ')' +
    (zoom !== root ? ' · view: ' + zoom.name + ' ' + fmtBytes(zoom.bytes) : '') +
    (query ? ' · matched: ' + fmtBytes(matched) + ' (' + fmtPct(matched / (root.bytes || 1)) + ')' : '');
}

function flameColor(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 33 + name.charCodeAt(i)) >>> 0;
  return 'hsl(' + (10 + h % 40) + ',' + (70 + (h >> 8) % 20) + '%,' + (55 + (h >> 16) % 15) + '%)';
}

// ---- start ----

function start() {
  takeToken();
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token-input').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('token-input').value = '';
    refresh();
  });
  for (const b of document.querySelectorAll('button[data-action]')) b.addEventListener('click', runAction);
  $('flame-search').addEventListener('input', renderFlame);
  $('flame-reset').addEventListener('click', () => { state.flameZoom = []; renderFlame(); });
  $('flame-reload').addEventListener('click', loadFlame);
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (state.memory) { renderHistory(); renderFlame(); } }, 150);
  });
  const loop = async () => {
    await refresh();
    setTimeout(loop, REFRESH_MS);
  };
  loop();
}

start();
