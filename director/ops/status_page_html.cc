// The status page's markup, style and script, kept apart from the C++ that fills them. Every
// name the script shows goes through textContent or setAttribute, never through HTML parsing,
// so a node or agent name such as "<img onerror=...>" is displayed, not run; the CSP header
// (status_page.cc) only allows this exact script to run.
#include "director/ops/status_page.h"

namespace tsd::director {

std::string_view statusPageHtml() {
  return R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>tsdirector status</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#f6f7f9;--fg:#1d2330;--muted:#667085;--card:#fff;--line:#d8dce3;
--down:#c62828;--idle:#2e7d32;--busy:#ef6c00;--swapped:#6a1b9a;--slow:#b38600;--drain:#1565c0;
--maint:#546e7a}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e4e7ec;--muted:#98a2b3;
--card:#1e232b;--line:#323a46}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.3em 1.2em;align-items:baseline;padding:.8em 1em;
border-bottom:1px solid var(--line);background:var(--card)}
h1{font-size:1.2em;margin:0}
h2{font-size:1em;margin:1.2em 1em .4em}
.muted{color:var(--muted)}
#stale{display:none;padding:.5em 1em;background:var(--down);color:#fff}
#stale.on{display:block}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:.6em;
margin:.6em 1em}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6em .8em}
.card h3{font-size:.8em;text-transform:uppercase;letter-spacing:.05em;margin:0 0 .3em;
color:var(--muted)}
.card dl{display:grid;grid-template-columns:auto auto;gap:.1em 1em;margin:0}
.card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.wrap{overflow-x:auto;margin:0 1em 1em}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{padding:.35em .6em;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
th{font-size:.8em;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.sub{display:block;font-size:.85em;color:var(--muted);overflow-wrap:anywhere}
.err{display:block;font-size:.85em;color:var(--down);overflow-wrap:anywhere}
.st{display:inline-block;min-width:5.5em;text-align:center;padding:.1em .5em;border-radius:1em;
color:#fff;font-weight:600;background:var(--muted)}
.st-down{background:var(--down)}.st-idle{background:var(--idle)}.st-busy{background:var(--busy)}
.st-swapped{background:var(--swapped)}.st-slow{background:var(--slow)}
.st-drain{background:var(--drain)}.st-maint{background:var(--maint)}
.rt{font-size:.8em;color:var(--drain)}
@media (max-width:720px){
table,tbody,tr,td{display:block;width:100%}thead{display:none}
tr{border-bottom:2px solid var(--line);padding:.3em 0}
td{border:0;display:flex;justify-content:space-between;gap:1em;text-align:right}
td.num{text-align:right}
td::before{content:attr(data-label);color:var(--muted);text-align:left;white-space:nowrap}
td>span.cell{min-width:0}
}
</style>
</head>
<body>
<header>
<h1>tsdirector</h1>
<span>configuration generation <b id="generation">-</b></span>
<span class="muted">version <span id="version">-</span></span>
<span class="muted">updated <span id="updated">-</span></span>
</header>
<div id="stale" role="alert">Cannot reach the director: showing figures from
<span id="stale-since">-</span>. Retrying.</div>
<noscript><p style="margin:1em">This page needs JavaScript to show its figures; the same data
is at <a href="status.json">status.json</a>, <a href="nodes">nodes</a> and
<a href="metrics">metrics</a>.</p></noscript>
<h2>Director</h2>
<div class="cards" id="cards"></div>
<h2>Nodes <span class="muted" id="node-count"></span></h2>
<div class="wrap"><table id="nodes">
<thead><tr><th>Node</th><th>Status</th><th>Load/CPU</th><th>Memory free</th>
<th>Sessions run / susp</th><th>Connections</th><th>Weight</th><th>Effective</th>
<th>Check latency</th><th>Manual</th></tr></thead>
<tbody></tbody>
</table></div>
<h2>Services</h2>
<div class="wrap"><table id="services">
<thead><tr><th>Service</th><th>Listen</th><th>Algorithm</th><th>Check</th><th>Active</th>
<th>Accepted</th></tr></thead>
<tbody></tbody>
</table></div>
<script type="application/json" id="tsd-status">/*TSD_STATUS_JSON*/null</script>
)HTML";
}

std::string_view statusPageScript() {
  return R"JS(
(function () {
  'use strict';
  var REFRESH_MS = 2000;
  var STATES = ['Down', 'Idle', 'Busy', 'Swapped', 'Slow', 'Drain', 'Maint'];
  var NODE_COLS = ['Node', 'Status', 'Load/CPU', 'Memory free', 'Sessions run / susp',
                   'Connections', 'Weight', 'Effective', 'Check latency', 'Manual'];
  var SVC_COLS = ['Service', 'Listen', 'Algorithm', 'Check', 'Active', 'Accepted'];
  var rows = new Map();
  var svcRows = new Map();
  var lastGood = null;

  function $(id) { return document.getElementById(id); }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function dash(v) { return v === null || v === undefined ? '\u2013' : v; }
  function num(v) { return v === null || v === undefined ? '\u2013' : Number(v).toLocaleString(); }
  function fixed(v, d) { return v === null || v === undefined ? '\u2013' : Number(v).toFixed(d); }
  function mem(kib) {
    if (kib === null || kib === undefined) return '\u2013';
    if (kib >= 1048576) return (kib / 1048576).toFixed(1) + ' GiB';
    return (kib / 1024).toFixed(0) + ' MiB';
  }
  function ms(s) {
    if (s >= 1) return s.toFixed(2) + ' s';
    return (s * 1000).toFixed(s < 0.01 ? 2 : 1) + ' ms';
  }
  // Replaces the children of `e` with the given nodes or strings (strings become text).
  function fill(e, parts) {
    var frag = document.createDocumentFragment();
    parts.forEach(function (p) {
      frag.appendChild(typeof p === 'string' ? document.createTextNode(p) : p);
    });
    e.replaceChildren(frag);
  }

  function card(title, pairs) {
    var c = node('div', 'card');
    c.appendChild(node('h3', null, title));
    var dl = node('dl');
    pairs.forEach(function (p) {
      dl.appendChild(node('dt', null, p[0]));
      var dd = node('dd', null, p[1]);
      if (p[2]) dd.id = p[2];
      dl.appendChild(dd);
    });
    c.appendChild(dl);
    return c;
  }

  function renderCards(doc) {
    var c = doc.connections, dp = doc.data_path, dec = doc.decisions, r = c.refused;
    var refused = r.limit + r.no_node + r.manual_down + r.bad_hello + r.hello_timeout;
    // In the order the rules are tried; any reason a newer daemon adds comes last.
    var order = ['manual', 'user', 'session', 'sticky', 'scheduler', 'fallback'];
    var keys = order.filter(function (k) { return k in dec; }).concat(
        Object.keys(dec).filter(function (k) { return order.indexOf(k) < 0; }));
    var decisions = keys.map(function (k) { return [k, num(dec[k]), 'dec-' + k]; });
    fill($('cards'), [
      card('Connections', [['active', num(c.active) + ' / ' + num(c.max), 'conn-active'],
                           ['accepted', num(c.accepted)], ['failed (no node answered)', num(c.failed)],
                           ['refused', num(refused), 'conn-refused'],
                           ['\u2003at the limit', num(r.limit), 'conn-limit'],
                           ['\u2003no usable node', num(r.no_node)],
                           ['\u2003manual node down', num(r.manual_down)],
                           ['connect retries', num(c.retries)]]),
      card('Decisions', decisions),
      card('Data path', [['fast_path', dp.mode], ['eBPF', dp.fast_path, 'fast-path'],
                         ['on eBPF', num(dp.ebpf)], ['user space', num(dp.userspace)],
                         ['promoted to the kernel', num(dp.promoted)],
                         ['directions handed back', num(dp.handed_back)]]),
      card('Configuration', [['generation', num(doc.generation), 'card-generation'],
                             ['reloads ok', num(doc.reloads.ok)],
                             ['reloads failed', num(doc.reloads.failed), 'reloads-failed'],
                             ['sticky entries', num(doc.sticky_entries)]])
    ]);
    if (dp.fast_path_error) $('fast-path').title = dp.fast_path_error;
  }

  function newRow(cols, key, tbody) {
    var tr = node('tr');
    tr.dataset.key = key;
    cols.forEach(function (label) {
      var td = node('td');
      td.setAttribute('data-label', label);
      td.appendChild(node('span', 'cell'));
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }
  function cell(tr, i) { return tr.children[i].firstChild; }

  function nodeCells(tr, n) {
    var status = STATES.indexOf(n.status) >= 0 ? n.status : 'Down';
    tr.dataset.node = n.name;
    tr.dataset.status = status;
    var name = [node('b', null, n.name), node('span', 'sub', n.address)];
    if (n.agent_node !== null && n.agent_node !== n.name) {
      name.push(node('span', 'sub agent-name', 'agent says: ' + n.agent_node));
    }
    if (n.removed) name.push(node('span', 'sub', 'removed from the configuration'));
    fill(cell(tr, 0), name);
    var badge = node('span', 'st st-' + status.toLowerCase(), status);
    var st = [badge];
    if (n.state_runtime) st.push(node('span', 'sub rt', n.state + ' (runtime)'));
    fill(cell(tr, 1), st);
    cell(tr, 2).textContent = fixed(n.load, 2);
    cell(tr, 3).textContent = mem(n.mem_available_kib);
    cell(tr, 4).textContent = n.sessions_running === null ? '\u2013'
        : num(n.sessions_running) + ' / ' + num(n.sessions_suspended);
    cell(tr, 5).textContent = num(n.active);
    var w = [String(n.weight)];
    if (n.weight_runtime) w.push(node('span', 'sub rt', 'runtime; file ' + n.file_weight));
    fill(cell(tr, 6), w);
    cell(tr, 7).textContent = fixed(n.effective_weight, 2);
    var checks = [];
    n.checks.forEach(function (c) {
      var t = c.service + ': ' + (!c.known ? 'pending' : c.up ? ms(c.latency_seconds) : 'failing');
      checks.push(node('span', null, t));
      if (c.last_error) checks.push(node('span', 'err', c.last_error));
    });
    fill(cell(tr, 8), checks.length ? checks : ['\u2013']);
    cell(tr, 9).textContent = dash(n.manual_listen);
    [2, 3, 4, 5, 6, 7].forEach(function (i) { tr.children[i].className = 'num'; });
  }

  // Updates rows in place (keyed by name in a Map, never by a selector built from a name), so
  // a refresh changes text, not the page.
  function renderTable(tbody, map, items, cols, keyOf, fillRow) {
    var seen = new Set();
    items.forEach(function (it, i) {
      var key = keyOf(it);
      seen.add(key);
      var tr = map.get(key);
      if (!tr) { tr = newRow(cols, key, tbody); map.set(key, tr); }
      fillRow(tr, it);
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    map.forEach(function (tr, key) {
      if (!seen.has(key)) { tr.remove(); map.delete(key); }
    });
  }

  function svcCells(tr, s) {
    tr.dataset.service = s.name;
    cell(tr, 0).textContent = s.name;
    cell(tr, 1).textContent = s.listen.join(', ');
    cell(tr, 2).textContent = s.algorithm;
    cell(tr, 3).textContent = s.check;
    cell(tr, 4).textContent = num(s.active);
    cell(tr, 5).textContent = num(s.accepted);
  }

  function render(doc) {
    if (!doc || !doc.nodes) return;
    $('generation').textContent = doc.generation;
    $('version').textContent = doc.version;
    $('updated').textContent = new Date(doc.time_unix * 1000).toLocaleTimeString();
    var counts = {};
    doc.nodes.forEach(function (n) { counts[n.status] = (counts[n.status] || 0) + 1; });
    $('node-count').textContent = '(' + doc.nodes.length + ': ' + Object.keys(counts).map(
        function (k) { return counts[k] + ' ' + k; }).join(', ') + ')';
    renderCards(doc);
    renderTable($('nodes').tBodies[0], rows, doc.nodes, NODE_COLS,
                function (n) { return n.name; }, nodeCells);
    renderTable($('services').tBodies[0], svcRows, doc.services, SVC_COLS,
                function (s) { return s.name; }, svcCells);
    document.title = 'tsdirector: ' + (counts.Down || 0) + ' down of ' + doc.nodes.length;
    document.body.dataset.generation = doc.generation;
  }

  function refresh() {
    fetch('status.json', {cache: 'no-store'}).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (doc) {
      lastGood = doc;
      $('stale').classList.remove('on');
      render(doc);
    }).catch(function () {
      $('stale').classList.add('on');
      $('stale-since').textContent = lastGood
          ? new Date(lastGood.time_unix * 1000).toLocaleTimeString() : 'never';
    }).finally(function () {
      window.tsdRefreshes = (window.tsdRefreshes || 0) + 1;
      setTimeout(refresh, REFRESH_MS);
    });
  }

  window.tsdRender = render;  // for the page's browser test: render any document
  try {
    lastGood = JSON.parse($('tsd-status').textContent);
    render(lastGood);
  } catch (e) { /* the first fetch fills the page */ }
  setTimeout(refresh, REFRESH_MS);
})();
)JS";
}

}  // namespace tsd::director
