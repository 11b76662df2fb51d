import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/**
 * Renders a Vega-Lite spec to an SVG file. Vega's SVG renderer needs no canvas or browser, so
 * this runs in plain Node with no native module.
 */
export async function writeSvgChart (path: string, spec: TopLevelSpec): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    const svg = await view.toSVG()
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, svg)
  } finally {
    view.finalize()
  }
}
