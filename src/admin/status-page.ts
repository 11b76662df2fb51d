import { createHash } from 'node:crypto'

/**
 * The live status page (/status): static HTML, one stylesheet and one script, all inline, no
 * build step, no external URL. The script polls /api/status every second and redraws: node
 * identity, traffic totals, throughput over the last minutes, each task with its pieces drawn
 * as a strip coloured by where they came from, and the peers. The script is plain browser
 * JavaScript in a string; it avoids backticks and `${` so that it survives this template.
 */

const style = `
:root { color-scheme: dark; --bg: #12151c; --panel: #1a1f29; --line: #2a303d; --text: #e6e9ef; --dim: #8b93a5;
  --origin: #f0a030; --peer: #4c8dff; --local: #2bb6a3; --arriving: #6b7385; --missing: #262c38; --clients: #e8eaf0; --upload: #b07cff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 18px; padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0; font-size: 18px; letter-spacing: .02em; }
header .id { font-family: ui-monospace, monospace; color: var(--dim); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; background: var(--line); color: var(--text); }
.pill.seed { background: #3d2f14; color: var(--origin); }
.pill.downloading { background: #16304f; color: var(--peer); }
.pill.complete { background: #123a35; color: var(--local); }
.pill.paused { background: #3a1d22; color: #ff7b86; }
.pill.banned { background: #3a1d22; color: #ff7b86; }
#live { margin-left: auto; color: var(--dim); font-size: 12px; }
#live.stale { color: #ff7b86; }
main { padding: 18px 24px 40px; display: grid; gap: 18px; max-width: 1400px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
section h2 { margin: 0 0 10px; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--dim); font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(125px, 1fr)); gap: 12px; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--dim); font-size: 12px; }
.card .value { font-size: 20px; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--dim); font-size: 12px; margin-top: 8px; }
.legend b { color: var(--text); font-weight: 500; font-variant-numeric: tabular-nums; }
#chart { width: 100%; height: 180px; display: block; }
.task { padding: 10px 0; border-top: 1px solid var(--line); }
.task:first-of-type { border-top: 0; }
.task .top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; }
.task .name { font-weight: 600; overflow-wrap: anywhere; }
.task .num { font-variant-numeric: tabular-nums; color: var(--dim); }
.task .num b { color: var(--text); font-weight: 500; }
.task .error { color: #ff7b86; font-size: 12px; }
.strip { display: block; width: 100%; height: 18px; margin: 6px 0 4px; }
.split { display: flex; height: 4px; border-radius: 2px; overflow: hidden; background: var(--missing); margin: 2px 0 4px; }
.detail { color: var(--dim); font-size: 12px; display: flex; flex-wrap: wrap; gap: 2px 14px; }
.mono { font-family: ui-monospace, monospace; font-size: 12px; }
table { width: 100%; border-collapse: collapse; }
td, th { text-align: left; padding: 4px 8px 4px 0; border-top: 1px solid var(--line); vertical-align: top; }
th { color: var(--dim); font-weight: 500; font-size: 12px; border-top: 0; }
.empty { color: var(--dim); }
`

const script = `
'use strict'
var NS = 'http://www.w3.org/2000/svg'
var colors = { origin: '#f0a030', peer: '#4c8dff', local: '#2bb6a3', arriving: '#6b7385', missing: '#262c38', clients: '#e8eaf0', upload: '#b07cff' }
var pieceStates = { L: 'local', O: 'origin', P: 'peer', '~': 'arriving', '.': 'missing' }
var chartSeries = [
  { key: 'origin', label: 'from origin' },
  { key: 'peer', label: 'from peers' },
  { key: 'clients', label: 'to clients' },
  { key: 'upload', label: 'to peers' }
]
var statusOrder = { downloading: 0, paused: 1, complete: 2 }
var latest = null

function byId (id) { return document.getElementById(id) }

function formatBytes (n) {
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  var i = 0
  while (n >= 1024 && i < units.length - 1) { n = n / 1024; i++ }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i]
}
function formatRate (n) { return formatBytes(n) + '/s' }
function formatDuration (s) {
  if (s < 60) return s + 's'
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's'
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm'
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h'
}
function shortId (id) { return id.length > 20 ? id.slice(0, 10) + '\\u2026' + id.slice(-6) : id }
function percent (part, whole) { return whole > 0 ? (100 * part / whole) : 100 }

function make (tag, className, text) {
  var node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}
function setText (node, text) { if (node.textContent !== text) node.textContent = text }

function renderHeader (status) {
  var node = status.node
  setText(byId('peer-id'), node.peerId)
  var role = byId('role')
  setText(role, node.role)
  role.className = 'pill ' + node.role
  setText(byId('addresses'), 'proxy ' + node.proxy + ' \\u00b7 admin ' + node.admin + ' \\u00b7 v' + node.version + ' \\u00b7 up ' + formatDuration(node.uptimeSeconds))
  document.title = 'Damselfly \\u00b7 ' + shortId(node.peerId)
}

function renderCards (status) {
  var t = status.totals
  var taken = t.origin + t.peer + t.local
  var active = status.tasks.filter(function (task) { return task.status === 'downloading' }).length
  var cards = [
    ['peers', 'Peers connected', String(status.peers.length)],
    ['active', 'Active downloads', String(active)],
    ['origin', 'From origin', formatBytes(t.origin)],
    ['peer', 'From peers', formatBytes(t.peer)],
    ['local', 'From cache', formatBytes(t.local)],
    ['clients', 'Sent to clients', formatBytes(t.clients)],
    ['upload', 'Sent to peers', formatBytes(t.upload)],
    ['offload', 'Origin offload', taken > 0 ? (100 * (1 - t.origin / taken)).toFixed(1) + ' %' : '\\u2014']
  ]
  var box = byId('cards')
  cards.forEach(function (card) {
    var existing = box.querySelector('[data-card="' + card[0] + '"]')
    if (!existing) {
      existing = make('div', 'card')
      existing.dataset.card = card[0]
      var label = make('div', 'label')
      if (colors[card[0]]) {
        var swatch = make('span', 'swatch')
        swatch.style.background = colors[card[0]]
        label.appendChild(swatch)
      }
      label.appendChild(document.createTextNode(card[1]))
      existing.appendChild(label)
      existing.appendChild(make('div', 'value'))
      box.appendChild(existing)
    }
    setText(existing.querySelector('.value'), card[2])
  })
}

function movingAverage (values, width) {
  var out = []
  var sum = 0
  for (var i = 0; i < values.length; i++) {
    sum += values[i]
    if (i >= width) sum -= values[i - width]
    out.push(sum / Math.min(i + 1, width))
  }
  return out
}

function niceCeiling (value) {
  if (value <= 0) return 1024
  var power = Math.pow(1024, Math.floor(Math.log(value) / Math.log(1024)))
  var scaled = value / power
  var steps = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
  for (var i = 0; i < steps.length; i++) if (steps[i] >= scaled) return steps[i] * power
  return 1024 * power
}

function renderChart (throughput) {
  var canvas = byId('chart')
  var ratio = window.devicePixelRatio || 1
  var width = canvas.clientWidth
  var height = canvas.clientHeight
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio)
    canvas.height = Math.round(height * ratio)
  }
  var g = canvas.getContext('2d')
  g.setTransform(ratio, 0, 0, ratio, 0, 0)
  g.clearRect(0, 0, width, height)
  var perSecond = 1000 / throughput.intervalMs
  var series = chartSeries.map(function (s) {
    return { key: s.key, label: s.label, values: movingAverage(throughput[s.key].map(function (v) { return v * perSecond }), 3) }
  })
  var samples = throughput.origin.length
  var span = Math.max(60, samples)
  var highest = 1
  series.forEach(function (s) { s.values.forEach(function (v) { if (v > highest) highest = v }) })
  var top = niceCeiling(highest)
  var left = 78
  var right = width - 8
  var bottom = height - 20
  var plotTop = 8
  g.font = '11px system-ui, sans-serif'
  g.strokeStyle = '#2a303d'
  g.fillStyle = '#8b93a5'
  g.lineWidth = 1
  for (var i = 0; i <= 4; i++) {
    var y = Math.round(bottom - (bottom - plotTop) * i / 4) + 0.5
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke()
    g.textAlign = 'right'; g.textBaseline = 'middle'
    g.fillText(formatRate(top * i / 4), left - 8, y)
  }
  g.textAlign = 'center'; g.textBaseline = 'top'
  var minutes = span / 60
  var step = minutes > 5 ? 2 : 1
  for (var m = 0; m <= minutes; m += step) {
    var x = right - (right - left) * (m * 60) / span
    g.textAlign = m === 0 ? 'right' : x - left < 20 ? 'left' : 'center'
    g.fillText(m === 0 ? 'now' : '-' + m + 'm', x, bottom + 5)
  }
  series.forEach(function (s) {
    g.strokeStyle = colors[s.key]
    g.lineWidth = 1.6
    g.beginPath()
    s.values.forEach(function (value, index) {
      var x = right - (right - left) * (samples - 1 - index) / span
      var y = bottom - (bottom - plotTop) * value / top
      if (index === 0) g.moveTo(x, y); else g.lineTo(x, y)
    })
    g.stroke()
  })
  var legend = byId('legend')
  legend.replaceChildren()
  series.forEach(function (s) {
    var item = make('span')
    var swatch = make('span', 'swatch')
    swatch.style.background = colors[s.key]
    item.appendChild(swatch)
    item.appendChild(document.createTextNode(s.label + ' '))
    item.appendChild(make('b', '', formatRate(s.values.length ? s.values[s.values.length - 1] : 0)))
    legend.appendChild(item)
  })
}

/**
 * One rect per run of pieces in the same state; with few pieces, one per piece with a gap
 * between them, so that a person can count them.
 */
function drawStrip (svg, map) {
  if (svg.dataset.map === map) return
  svg.dataset.map = map
  svg.setAttribute('viewBox', '0 0 ' + Math.max(1, map.length) + ' 1')
  svg.replaceChildren()
  var separate = map.length <= 160
  // About one screen pixel between pieces.
  var gap = Math.min(0.15, map.length / (svg.clientWidth || 1000))
  var start = 0
  for (var i = 1; i <= map.length; i++) {
    if (!separate && i < map.length && map[i] === map[start]) continue
    var state = pieceStates[map[start]] || 'missing'
    var rect = document.createElementNS(NS, 'rect')
    rect.setAttribute('x', String(start))
    rect.setAttribute('y', '0')
    rect.setAttribute('width', String(separate ? 1 - gap : i - start))
    rect.setAttribute('height', '1')
    rect.setAttribute('fill', colors[state])
    rect.setAttribute('data-source', state)
    var title = document.createElementNS(NS, 'title')
    title.textContent = (i - start === 1 ? 'piece ' + start : 'pieces ' + start + '\\u2013' + (i - 1)) + ': ' + state
    rect.appendChild(title)
    svg.appendChild(rect)
    start = i
  }
}

function taskRow (task) {
  var row = make('div', 'task')
  row.dataset.taskId = task.id
  var top = make('div', 'top')
  top.appendChild(make('span', 'name'))
  top.appendChild(make('span', 'pill'))
  top.appendChild(make('span', 'num size'))
  top.appendChild(make('span', 'num progress'))
  top.appendChild(make('span', 'num rate'))
  row.appendChild(top)
  var svg = document.createElementNS(NS, 'svg')
  svg.setAttribute('class', 'strip')
  svg.setAttribute('preserveAspectRatio', 'none')
  svg.setAttribute('shape-rendering', 'crispEdges')
  svg.setAttribute('role', 'img')
  row.appendChild(svg)
  var split = make('div', 'split')
  ;['origin', 'peer', 'local'].forEach(function (key) {
    var part = make('span')
    part.dataset.part = key
    part.style.background = colors[key]
    split.appendChild(part)
  })
  row.appendChild(split)
  row.appendChild(make('div', 'detail'))
  row.appendChild(make('div', 'error'))
  return row
}

function updateTaskRow (row, task) {
  setText(row.querySelector('.name'), task.name)
  row.querySelector('.name').title = task.url
  var pill = row.querySelector('.pill')
  setText(pill, task.status)
  pill.className = 'pill ' + task.status
  setText(row.querySelector('.size'), formatBytes(task.length))
  var done = Math.max(task.heldBytes, task.receivedBytes)
  setText(row.querySelector('.progress'), percent(done, task.length).toFixed(1) + ' %')
  setText(row.querySelector('.rate'), task.status === 'downloading' ? formatRate(task.rate) : '')
  var svg = row.querySelector('svg')
  svg.setAttribute('aria-label', task.held + ' of ' + task.pieces + ' pieces')
  drawStrip(svg, task.pieceMap)
  var sum = task.bytesFromOrigin + task.bytesFromPeers + task.bytesLocal
  var parts = { origin: task.bytesFromOrigin, peer: task.bytesFromPeers, local: task.bytesLocal }
  Object.keys(parts).forEach(function (key) {
    row.querySelector('[data-part="' + key + '"]').style.width = (task.length > 0 ? 100 * parts[key] / task.length : (sum > 0 ? 100 * parts[key] / sum : 0)) + '%'
  })
  var detail = row.querySelector('.detail')
  detail.replaceChildren(
    make('span', '', 'origin ' + formatBytes(task.bytesFromOrigin)),
    make('span', '', 'peers ' + formatBytes(task.bytesFromPeers)),
    make('span', '', 'local ' + formatBytes(task.bytesLocal)),
    make('span', '', task.held + '/' + task.pieces + ' pieces of ' + formatBytes(task.pieceSize)),
    make('span', 'mono', task.id.slice(0, 12))
  )
  setText(row.querySelector('.error'), task.error || '')
}

function renderTasks (tasks) {
  var box = byId('tasks')
  var sorted = tasks.slice().sort(function (a, b) { return (statusOrder[a.status] || 0) - (statusOrder[b.status] || 0) })
  var rows = {}
  box.querySelectorAll('.task').forEach(function (row) { rows[row.dataset.taskId] = row })
  var seen = {}
  sorted.forEach(function (task) {
    seen[task.id] = true
    var row = rows[task.id] || taskRow(task)
    box.appendChild(row)
    updateTaskRow(row, task)
  })
  Object.keys(rows).forEach(function (id) { if (!seen[id]) rows[id].remove() })
  byId('no-tasks').hidden = tasks.length > 0
}

function renderPeers (status) {
  var body = byId('peers')
  body.replaceChildren()
  status.peerDetails.forEach(function (peer) {
    var row = make('tr')
    row.dataset.peerId = peer.id
    var id = make('td', 'mono', peer.id)
    if (peer.banned) { id.appendChild(document.createTextNode(' ')); id.appendChild(make('span', 'pill banned', 'banned')) }
    row.appendChild(id)
    row.appendChild(make('td', 'mono', peer.addresses.join(' ')))
    body.appendChild(row)
  })
  byId('no-peers').hidden = status.peerDetails.length > 0
  byId('peer-table').hidden = status.peerDetails.length === 0
}

function render (status) {
  latest = status
  renderHeader(status)
  renderCards(status)
  renderChart(status.throughput)
  renderTasks(status.tasks)
  renderPeers(status)
}

function poll () {
  fetch('/api/status', { cache: 'no-store' }).then(function (response) {
    if (!response.ok) throw new Error('HTTP ' + response.status)
    return response.json()
  }).then(function (status) {
    render(status)
    var live = byId('live')
    live.className = ''
    setText(live, 'live \\u00b7 ' + new Date().toLocaleTimeString())
  }).catch(function (error) {
    var live = byId('live')
    live.className = 'stale'
    setText(live, 'cannot reach the node: ' + error.message)
  }).finally(function () { setTimeout(poll, 1000) })
}

window.addEventListener('resize', function () { if (latest) renderChart(latest.throughput) })
poll()
`

const body = `
<header>
  <h1>Damselfly</h1>
  <span class="id" id="peer-id">connecting\u2026</span>
  <span class="pill" id="role"></span>
  <span class="id" id="addresses"></span>
  <span id="live"></span>
</header>
<main>
  <section><h2>Traffic since start</h2><div class="cards" id="cards"></div></section>
  <section>
    <h2>Throughput</h2>
    <canvas id="chart" aria-label="bytes per second over the last minutes"></canvas>
    <div class="legend" id="legend"></div>
  </section>
  <section>
    <h2>Tasks</h2>
    <div class="legend">
      <span><span class="swatch" style="background: var(--origin)"></span>from origin</span>
      <span><span class="swatch" style="background: var(--peer)"></span>from peers</span>
      <span><span class="swatch" style="background: var(--local)"></span>on disk at start</span>
      <span><span class="swatch" style="background: var(--arriving)"></span>arriving</span>
      <span><span class="swatch" style="background: var(--missing); outline: 1px solid var(--line)"></span>missing</span>
    </div>
    <div id="tasks"></div>
    <p class="empty" id="no-tasks">No tasks yet: send a download through the proxy.</p>
  </section>
  <section>
    <h2>Peers</h2>
    <table id="peer-table"><thead><tr><th>peer</th><th>addresses</th></tr></thead><tbody id="peers"></tbody></table>
    <p class="empty" id="no-peers">No peer connected.</p>
  </section>
</main>
<noscript><p>This page needs JavaScript; <code>/api/status</code> has the same facts as JSON.</p></noscript>
`

export const statusPageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Damselfly</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='1' y='6' width='4' height='4' fill='%23f0a030'/%3E%3Crect x='6' y='6' width='4' height='4' fill='%234c8dff'/%3E%3Crect x='11' y='6' width='4' height='4' fill='%232bb6a3'/%3E%3C/svg%3E">
<style>${style}</style>
</head>
<body>${body}<script>${script}</script>
</body>
</html>
`

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * Only this page's own script may run, and it may talk only to this server. Styles stay
 * 'unsafe-inline': the markup sets a few colours through style attributes.
 */
export const statusPageCsp = `default-src 'none'; script-src ${hash(script)}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'`
