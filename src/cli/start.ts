import { configHelp, loadConfig } from '../config/index.js'
import { createLogger } from '../logging/logger.js'
import { DamselflyNode } from '../node.js'
import { stopOnSignals } from './stop-signals.js'

/** `damselfly start`: runs a node until SIGINT or SIGTERM, then stops it and exits (stop-signals.ts). */
export async function runStart (argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`Usage: damselfly start [options]\n\n${configHelp()}\n`)
    return 0
  }
  const config = await loadConfig({ argv, env: process.env })
  const logger = createLogger(config.log)
  // A daemon on every host must not die of one forgotten promise (a peer's stream reset, a
  // late timer): log it loudly and keep serving.
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { error: reason instanceof Error ? reason.stack ?? reason.message : String(reason) })
  })
  const node = new DamselflyNode({ logger }, config)
  // Before the start: a signal during it stops what has started so far.
  stopOnSignals(async () => { await node.stop() }, { logger })
  await node.start()
  // Runs until a signal: stopOnSignals exits the process.
  return await new Promise<number>(() => {})
}
