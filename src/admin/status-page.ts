import { createHash } from 'node:crypto'
import { script } from './status-page-script.js'

/**
 * The live status page (/status): static HTML, one stylesheet and one script, all inline, no
 * build step, no external URL. The script polls /api/status every second and redraws: node
 * identity, traffic totals, throughput over the last minutes, each task with its pieces drawn
 * as a strip coloured by where they came from, and the peers (the script is in
 * status-page-script.ts).
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
