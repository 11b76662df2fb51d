import { configHelp, loadConfig } from '../config/index.js'
import { createLogger } from '../logging/logger.js'
import { DamselflyNode } from '../node.js'

/** `damselfly start`: runs a node until SIGINT or SIGTERM, then stops it cleanly. */
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
  await node.start()
  await new Promise<void>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('second signal: exiting now', { signal })
        process.exit(130)
      }
      stopping = true
      logger.info('stopping', { signal })
      node.stop().then(resolve, (error: unknown) => {
        logger.error('stop failed', { error })
        resolve()
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  return 0
}
