import type { StatusReport } from '../admin/status-report.js'
import { formatBytes } from './units.js'

/** `damselfly status` as a person reads it: the node, its traffic, its peers, its tasks. */
export function formatStatus (status: StatusReport): string {
  const { node, totals } = status
  const lines: string[] = []
  lines.push(`Node     ${node.peerId}  ${node.role}  v${node.version}  up ${formatDuration(node.uptimeSeconds)}`)
  lines.push(`         proxy ${node.proxy}  admin ${node.admin}`)
  const taken = totals.origin + totals.peer + totals.local
  const offload = taken > 0 ? `${(100 * (1 - totals.origin / taken)).toFixed(1)} %` : '-'
  lines.push(`Traffic  from origin ${formatBytes(totals.origin)} · from peers ${formatBytes(totals.peer)} · from cache ${formatBytes(totals.local)} · to clients ${formatBytes(totals.clients)} · to peers ${formatBytes(totals.upload)} · origin offload ${offload}`)
  lines.push('')
  const banned = status.peerDetails.filter(peer => peer.banned).length
  lines.push(`Peers (${status.peerDetails.length} connected${banned > 0 ? `, ${banned} banned` : ''})`)
  if (status.peerDetails.length > 0) {
    lines.push(...table(['PEER', 'ADDRESSES', ''], status.peerDetails.map(peer => [peer.id, peer.addresses.join(' '), peer.banned ? 'banned' : '']), new Set()))
  }
  lines.push('')
  const order: Record<string, number> = { downloading: 0, paused: 1, complete: 2 }
  const tasks = [...status.tasks].sort((a, b) => (order[a.status] ?? 0) - (order[b.status] ?? 0))
  const byStatus = new Map<string, number>()
  for (const task of tasks) byStatus.set(task.status, (byStatus.get(task.status) ?? 0) + 1)
  lines.push(`Tasks (${tasks.length === 0 ? 'none' : [...byStatus].map(([name, count]) => `${count} ${name}`).join(', ')})`)
  if (tasks.length > 0) {
    lines.push(...table(
      ['NAME', 'SIZE', 'PROGRESS', 'RATE', 'ORIGIN', 'PEERS', 'LOCAL', 'STATUS', 'TASK'],
      tasks.map(task => [
        truncate(task.name, 40),
        formatBytes(task.length),
        `${(task.length > 0 ? 100 * Math.max(task.heldBytes, task.receivedBytes) / task.length : 100).toFixed(1)} %`,
        task.status === 'downloading' ? `${formatBytes(task.rate)}/s` : '',
        formatBytes(task.bytesFromOrigin),
        formatBytes(task.bytesFromPeers),
        formatBytes(task.bytesLocal),
        task.status,
        task.id.slice(0, 12)
      ]),
      new Set([1, 2, 3, 4, 5, 6])
    ))
    for (const task of tasks) if (task.error !== undefined) lines.push(`  ${task.id.slice(0, 12)} stopped: ${task.error}`)
  }
  return lines.join('\n') + '\n'
}

/** Columns padded to their widest cell; `right` holds the columns aligned right (numbers). */
function table (header: string[], rows: string[][], right: Set<number>): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map(row => (row[column] ?? '').length)))
  const line = (cells: string[]): string => '  ' + cells.map((cell, column) => right.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)]
}


function formatDuration (seconds: number): string {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`
}

function truncate (text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`
}
