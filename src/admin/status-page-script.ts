/**
 * The status page's script: plain browser JavaScript in a string, served inline (no build
 * step). It polls /api/status every second and redraws the page from it. It avoids backticks
 * and `${` so that it survives this template literal; `\\u` escapes stand for symbols.
 */
export const script = `
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
