import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Prints rows as a fixed-width table, the first row being the header. */
export function printTable (rows: Array<Array<string | number>>): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map(row => String(row[column] ?? '').length))) ?? []
  for (const row of rows) console.log(row.map((cell, column) => String(cell).padEnd(widths[column] ?? 0)).join('  ').trimEnd())
}

/** Writes pretty JSON, making the folder first. */
export async function writeJson (path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, JSON.stringify(value, null, 2) + '\n')
}
