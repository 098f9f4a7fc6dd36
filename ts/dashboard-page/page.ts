/**
 * The dashboard's page (ts/dashboard.ts serves it): one HTML file, one
 * script, one stylesheet, kept as strings so they ship inside dist/ with no
 * build step. The script is plain browser JavaScript (no framework): it
 * keeps one WebSocket, turns each node's cumulative counters into rates,
 * and draws them with uPlot (served from the uplot package at /uplot.js).
 * @internal
 * @module
 */

/** The HTML shell. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ironwood observer</title>
<link rel="stylesheet" href="/uplot.css">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>ironwood <span>observer</span></h1>
  <div id="meta">connecting…</div>
  <div id="mode"></div>
</header>
<main>
  <section class="wide"><h2>Nodes <small id="node-count"></small></h2><div id="nodes"></div></section>
  <section><h2>Links</h2><table id="links"><thead><tr><th>from</th><th>to</th><th>state</th><th>RTT</th><th>sent</th><th>received</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Shared table</h2><div id="table"></div></section>
  <section class="wide charts"><div><h3>messages / s</h3><div id="chart-messages"></div></div><div><h3>RPC calls / s</h3><div id="chart-rpc"></div></div><div><h3>pub/sub deliveries / s</h3><div id="chart-deliveries"></div></div></section>
  <section><h2>Pub/sub topics <small id="topic-count"></small></h2><table id="topics"><thead><tr><th>topic</th><th>members</th><th>deliveries / s</th></tr></thead><tbody></tbody></table></section>
  <section class="wide" id="hub-section" hidden><h2>Process hubs</h2><div id="hubs"></div></section>
  <section><h2>Supervision tree <select id="tree-node"></select></h2><div id="tree-summary"></div><div id="tree"></div></section>
</main>
<div id="toast"></div>
<script src="/uplot.js"></script>
<script src="/app.js"></script>
</body>
</html>
`

/** The stylesheet. */
export const PAGE_CSS = `
:root { --bg: #0f1419; --panel: #182029; --line: #2a3642; --text: #d8dee4; --dim: #8b98a5; --up: #3fb950; --down: #f85149; --accent: #58a6ff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 13px/1.4 system-ui, -apple-system, Segoe UI, sans-serif; }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; } header h1 span { color: var(--accent); font-weight: 400; }
#meta { color: var(--dim); flex: 1; } #mode { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: var(--line); }
#mode.control { background: #6e3b00; }
main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; padding: 12px 16px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 8px; font-size: 14px; } h2 small { color: var(--dim); font-weight: 400; } h3 { margin: 0 0 4px; font-size: 12px; color: var(--dim); font-weight: 500; }
#nodes { display: flex; flex-wrap: wrap; gap: 10px; }
.node { border: 1px solid var(--line); border-left: 4px solid var(--up); border-radius: 4px; padding: 8px 10px; min-width: 230px; }
.node[data-state="down"] { border-left-color: var(--down); opacity: 0.75; }
.node .name { font-weight: 600; } .node .state { float: right; font-size: 11px; text-transform: uppercase; color: var(--up); }
.node[data-state="down"] .state { color: var(--down); }
.node dl { display: grid; grid-template-columns: auto auto; gap: 0 12px; margin: 6px 0 0; } .node dt { color: var(--dim); } .node dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); } th { color: var(--dim); font-weight: 500; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; }
.up { color: var(--up); } .down { color: var(--down); }
#tree { max-height: 420px; overflow: auto; }
#tree ul { list-style: none; margin: 0; padding-left: 16px; } #tree > ul { padding-left: 0; }
#tree li { padding: 1px 0; } #tree .kind { color: var(--dim); font-size: 11px; } #tree .mb { color: var(--accent); } #tree .rs { color: #d29922; }
button { background: var(--line); color: var(--text); border: 1px solid #3d4b59; border-radius: 3px; font-size: 11px; padding: 0 6px; cursor: pointer; margin-left: 6px; }
button:hover { background: #3d4b59; }
select { background: var(--line); color: var(--text); border: 1px solid #3d4b59; font-size: 12px; }
ul.moves { color: var(--dim); margin: 6px 0 0; padding-left: 18px; }
#toast { position: fixed; bottom: 12px; right: 12px; background: #30363d; padding: 6px 12px; border-radius: 4px; display: none; }
`

/** The page's script (plain ES2020 for the browser). */
export const PAGE_JS = `'use strict';
(function () {
  var SERIES = 120; // points kept per chart (two minutes at 1/s)
  var state = { nodes: [], self: '', control: false, selected: null, prev: {}, rates: {}, history: { t: [], byNode: {} } };
  var charts = {};
  var ws;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function fmt(n) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return Math.abs(n) < 10 && n % 1 !== 0 ? n.toFixed(2) : String(Math.round(n));
  }
  function bytes(n) { return n === null || n === undefined ? '–' : fmt(n) + 'B'; }
  function toast(text) {
    var t = $('toast'); t.textContent = text; t.style.display = 'block';
    clearTimeout(toast.timer); toast.timer = setTimeout(function () { t.style.display = 'none'; }, 3000);
  }
  function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }

  // Rates from cumulative counters: (now - before) / seconds between the two overviews.
  function rates(o) {
    var p = state.prev[o.node];
    state.prev[o.node] = o;
    if (!p || o.time <= p.time) return state.rates[o.node] || null;
    var dt = (o.time - p.time) / 1000, c = o.counters, q = p.counters;
    var r = {
      messages: Math.max(0, c.received - q.received) / dt,
      rpc: Math.max(0, c.rpcCalls - q.rpcCalls) / dt,
      served: Math.max(0, c.rpcServed - q.rpcServed) / dt,
      deliveries: Math.max(0, c.delivered - q.delivered) / dt,
      topics: {}
    };
    var before = {};
    (p.topics || []).forEach(function (t) { before[t.name] = t.delivered; });
    (o.topics || []).forEach(function (t) { if (t.name in before) r.topics[t.name] = Math.max(0, t.delivered - before[t.name]) / dt; });
    state.rates[o.node] = r;
    return r;
  }

  function renderNodes() {
    var box = $('nodes'); box.textContent = '';
    var up = 0;
    state.nodes.forEach(function (n) {
      if (n.state === 'up') up++;
      var card = el('div', { 'class': 'node', 'data-node': n.node, 'data-state': n.state });
      var head = el('div'); head.appendChild(el('span', { 'class': 'name' }, n.node)); head.appendChild(el('span', { 'class': 'state' }, n.state));
      card.appendChild(head);
      var o = n.overview, r = state.rates[n.node];
      var dl = el('dl');
      function row(k, v) { dl.appendChild(el('dt', null, k)); dl.appendChild(el('dd', null, v)); }
      if (o) {
        row('processes', fmt(o.processes.count));
        row('mailboxes (total / max)', fmt(o.processes.mailboxTotal) + ' / ' + fmt(o.processes.mailboxMax));
        row('messages / s', r ? fmt(r.messages) : '–');
        row('RPC calls / s (served)', r ? fmt(r.rpc) + ' (' + fmt(r.served) + ')' : '–');
        row('RPC p50 / p99', o.rpcLatency.count ? fmt(o.rpcLatency.p50Ms) + ' / ' + fmt(o.rpcLatency.p99Ms) + ' ms' : '–');
        row('deliveries / s', r ? fmt(r.deliveries) : '–');
        row('drops · restarts', fmt(o.counters.dropped) + ' · ' + fmt(o.counters.restarts));
        row('table keys (memory)', fmt(o.table.size) + ' (' + bytes(o.table.memory) + ')');
        (o.hubs || []).forEach(function (h) { row('hub ' + h.id + ' children', fmt(h.localChildren) + ' (↻ ' + fmt(h.restarts) + ', ⇄ ' + fmt(h.migrations) + ')'); });
        row('memory (rss)', bytes(o.memory.rss));
      } else {
        row('status', n.error || 'no data');
      }
      card.appendChild(dl);
      if (state.control && n.state === 'up') {
        var stop = el('button', { 'data-action': 'stop' }, 'stop node');
        stop.onclick = function () { if (confirm('Stop node ' + n.node + '?')) send({ type: 'stop', node: n.node }); };
        card.appendChild(stop);
      }
      box.appendChild(card);
    });
    $('node-count').textContent = up + ' up / ' + state.nodes.length;
  }

  function renderLinks() {
    var body = $('links').tBodies[0]; body.textContent = '';
    state.nodes.forEach(function (n) {
      if (!n.overview) return;
      n.overview.peers.forEach(function (p) {
        var tr = el('tr');
        tr.appendChild(el('td', null, n.node)); tr.appendChild(el('td', null, p.node));
        tr.appendChild(el('td', { 'class': p.state }, p.state + (p.reason ? ' (' + p.reason + ')' : '')));
        tr.appendChild(el('td', { 'class': 'num' }, p.rttMs === null ? '–' : p.rttMs.toFixed(2) + ' ms'));
        tr.appendChild(el('td', { 'class': 'num' }, bytes(p.bytesSent)));
        tr.appendChild(el('td', { 'class': 'num' }, bytes(p.bytesReceived)));
        body.appendChild(tr);
      });
    });
  }

  function renderTopics() {
    var merged = {}, count = 0;
    state.nodes.forEach(function (n) {
      if (!n.overview) return;
      count = Math.max(count, n.overview.topicCount);
      var r = state.rates[n.node];
      n.overview.topics.forEach(function (t) {
        var m = merged[t.name] || (merged[t.name] = { members: 0, rate: 0 });
        m.members = Math.max(m.members, t.members);
        if (r && r.topics[t.name] !== undefined) m.rate += r.topics[t.name];
      });
    });
    var body = $('topics').tBodies[0]; body.textContent = '';
    Object.keys(merged).sort(function (a, b) { return merged[b].members - merged[a].members; }).forEach(function (name) {
      var tr = el('tr', { 'data-topic': name });
      tr.appendChild(el('td', null, name));
      tr.appendChild(el('td', { 'class': 'num' }, fmt(merged[name].members)));
      tr.appendChild(el('td', { 'class': 'num' }, fmt(merged[name].rate)));
      body.appendChild(tr);
    });
    $('topic-count').textContent = count ? '(' + count + ')' : '';
  }

  function renderTable() {
    var box = $('table'); box.textContent = '';
    var self = state.nodes.filter(function (n) { return n.node === state.self; })[0];
    if (!self || !self.overview) return;
    var t = self.overview.table;
    box.appendChild(el('p', null, 'The table is per node (this node: ' + state.self + '): ' + fmt(t.size) + ' keys in state; ' +
      Object.keys(t.tables).map(function (k) { return k + ' ' + fmt(t.tables[k]); }).join(', ')));
    if (t.prefixes === null) { box.appendChild(el('p', null, 'too many keys to list prefixes')); return; }
    var table = el('table'); var head = el('tr'); head.appendChild(el('th', null, 'key prefix')); head.appendChild(el('th', null, 'keys')); table.appendChild(head);
    t.prefixes.forEach(function (p) { var tr = el('tr'); tr.appendChild(el('td', null, p[0])); tr.appendChild(el('td', { 'class': 'num' }, fmt(p[1]))); table.appendChild(tr); });
    box.appendChild(table);
  }

  // Each hub: children per node (the serving node's registry view, else any
  // node's), and the recent moves every node reported, newest first.
  function renderHubs() {
    var hubs = {};
    state.nodes.forEach(function (n) {
      if (!n.overview) return;
      (n.overview.hubs || []).forEach(function (h) {
        var e = hubs[h.id] || (hubs[h.id] = { byNode: null, moves: [] });
        if (!e.byNode || n.node === state.self) e.byNode = h.childrenByNode;
        h.recentMoves.forEach(function (m) { e.moves.push({ at: n.node, m: m }); });
      });
    });
    var ids = Object.keys(hubs);
    $('hub-section').hidden = ids.length === 0;
    var box = $('hubs'); box.textContent = '';
    ids.sort().forEach(function (id) {
      var e = hubs[id], total = 0;
      var table = el('table', { 'data-hub': id });
      var head = el('tr'); ['hub ' + id + ': node', 'children', 'state'].forEach(function (h) { head.appendChild(el('th', null, h)); }); table.appendChild(head);
      state.nodes.forEach(function (n) {
        var c = (e.byNode && e.byNode[n.node]) || 0; total += c;
        var tr = el('tr', { 'data-hub-node': n.node, 'data-children': String(c) });
        tr.appendChild(el('td', null, n.node)); tr.appendChild(el('td', { 'class': 'num' }, fmt(c))); tr.appendChild(el('td', { 'class': n.state }, n.state));
        table.appendChild(tr);
      });
      var foot = el('tr', { 'data-hub-total': String(total) }); foot.appendChild(el('td', null, 'total')); foot.appendChild(el('td', { 'class': 'num' }, fmt(total))); table.appendChild(foot);
      box.appendChild(table);
      e.moves.sort(function (a, b) { return b.m.time - a.m.time; });
      if (e.moves.length) {
        var ul = el('ul', { 'class': 'moves' });
        e.moves.slice(0, 8).forEach(function (x) {
          var m = x.m, what = m.kind === 'migrated_in' ? m.count + ' children migrated from ' + m.node + ' to ' + x.at
            : m.kind === 'forwarded' ? m.count + ' children handed from ' + x.at + ' to ' + m.node
            : 'redistribution on ' + x.at + ' after ' + m.node + (m.kind === 'nodeup' ? ' joined' : ' left');
          ul.appendChild(el('li', null, new Date(m.time).toLocaleTimeString() + ' ' + what));
        });
        box.appendChild(ul);
      }
    });
  }

  function renderSelect() {
    var sel = $('tree-node'), want = state.selected || state.self;
    var names = state.nodes.filter(function (n) { return n.state === 'up'; }).map(function (n) { return n.node; });
    if (sel.options.length === names.length && names.every(function (n, i) { return sel.options[i].value === n; })) { sel.value = want; return; }
    sel.textContent = '';
    names.forEach(function (n) { sel.appendChild(el('option', { value: n }, n)); });
    sel.value = want;
  }

  function renderTree(msg) {
    var box = $('tree'); box.textContent = '';
    var t = msg.tree;
    if (!t) { $('tree-summary').textContent = 'no answer from ' + msg.node; return; }
    $('tree-summary').textContent = fmt(t.processCount) + ' processes on ' + t.node + (t.omitted ? ' (' + fmt(t.omitted) + ' not shown)' : '');
    function item(e) {
      var li = el('li', { 'data-pid': e.pid });
      li.appendChild(el('span', null, (e.name ? e.name + ' ' : '') + e.pid + ' '));
      li.appendChild(el('span', { 'class': 'kind' }, e.kind + (e.status && e.status !== 'running' ? ' · ' + e.status : '')));
      li.appendChild(el('span', { 'class': 'mb' }, ' ✉ ' + e.mailbox));
      if (e.restarts !== undefined) li.appendChild(el('span', { 'class': 'rs' }, ' ↻ ' + e.restarts));
      if (state.control) {
        var b = el('button', { 'data-action': 'kill' }, 'kill');
        b.onclick = function () { send({ type: 'kill', node: t.node, id: e.id }); };
        li.appendChild(b);
      }
      if (e.children && e.children.length) { var ul = el('ul'); e.children.forEach(function (c) { ul.appendChild(item(c)); }); li.appendChild(ul); }
      if (e.more) li.appendChild(el('div', { 'class': 'kind' }, '… ' + e.more + ' more'));
      return li;
    }
    var root = el('ul');
    t.supervisors.forEach(function (s) { root.appendChild(item(s)); });
    if (t.others.length) {
      var o = el('li'); o.appendChild(el('span', { 'class': 'kind' }, 'not supervised'));
      var ul = el('ul'); t.others.forEach(function (e) { ul.appendChild(item(e)); }); o.appendChild(ul); root.appendChild(o);
    }
    box.appendChild(root);
  }

  function chart(id, key) {
    var names = Object.keys(state.history.byNode).sort();
    var data = [state.history.t].concat(names.map(function (n) { return state.history.byNode[n][key]; }));
    var c = charts[id];
    if (c && c.names.join() === names.join()) { c.plot.setData(data); return; }
    if (c) c.plot.destroy();
    var colors = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#79c0ff'];
    var opts = {
      width: Math.max(200, $(id).clientWidth || 300), height: 160,
      series: [{}].concat(names.map(function (n, i) { return { label: n.split('@')[0], stroke: colors[i % colors.length], width: 1.5 }; })),
      axes: [{ stroke: '#8b98a5', grid: { stroke: '#2a3642' } }, { stroke: '#8b98a5', grid: { stroke: '#2a3642' } }],
      legend: { show: true }
    };
    charts[id] = { names: names, plot: new uPlot(opts, data, $(id)) };
  }

  function record(time) {
    var h = state.history;
    h.t.push(time / 1000);
    state.nodes.forEach(function (n) {
      if (!h.byNode[n.node]) h.byNode[n.node] = { messages: h.t.map(function () { return null; }).slice(1), rpc: h.t.map(function () { return null; }).slice(1), deliveries: h.t.map(function () { return null; }).slice(1) };
    });
    Object.keys(h.byNode).forEach(function (name) {
      var r = state.rates[name], n = state.nodes.filter(function (x) { return x.node === name && x.state === 'up'; })[0];
      var s = h.byNode[name];
      s.messages.push(n && r ? r.messages : null); s.rpc.push(n && r ? r.rpc : null); s.deliveries.push(n && r ? r.deliveries : null);
    });
    if (h.t.length > SERIES) {
      h.t.shift();
      Object.keys(h.byNode).forEach(function (name) { var s = h.byNode[name]; s.messages.shift(); s.rpc.shift(); s.deliveries.shift(); });
    }
    if (typeof uPlot === 'function') { chart('chart-messages', 'messages'); chart('chart-rpc', 'rpc'); chart('chart-deliveries', 'deliveries'); }
  }

  function onOverview(msg) {
    state.self = msg.self; state.control = msg.control; state.nodes = msg.nodes;
    msg.nodes.forEach(function (n) { if (n.overview) rates(n.overview); });
    $('meta').textContent = 'served by ' + msg.self + ' · updated ' + new Date(msg.time).toLocaleTimeString() + ' · every ' + msg.interval + ' ms';
    var mode = $('mode'); mode.textContent = msg.control ? 'control' : 'read-only'; mode.className = msg.control ? 'control' : '';
    document.body.setAttribute('data-updated', String(msg.time));
    renderNodes(); renderLinks(); renderTopics(); renderTable(); renderHubs(); renderSelect(); record(msg.time);
  }

  function connect() {
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    ws.onopen = function () { $('meta').textContent = 'connected'; if (state.selected) send({ type: 'select', node: state.selected }); };
    ws.onmessage = function (ev) {
      var msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === 'overview') onOverview(msg);
      else if (msg.type === 'tree') renderTree(msg);
      else if (msg.type === 'error') toast(msg.message);
      else if (msg.type === 'done') toast(msg.action + ' on ' + msg.node + (msg.ok ? ': done' : ': nothing to do'));
    };
    ws.onclose = function () { $('meta').textContent = 'disconnected; retrying…'; setTimeout(connect, 1000); };
  }

  $('tree-node').onchange = function (ev) { state.selected = ev.target.value; send({ type: 'select', node: state.selected }); };
  connect();
})();
`
