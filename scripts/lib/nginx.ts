import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/helpers/ports.js'
import { tool } from '../../test/helpers/system-tools.js'

export interface StaticServer {
  /** `http://127.0.0.1:PORT`; a file under `root` is at `${url}/<relative path>`. */
  url: string
  stop: () => Promise<void>
}

/**
 * nginx (Debian's nginx-light) on loopback serving `root`, from a throw-away config: one
 * process (no master, so it never changes user), sendfile, no access log, everything it writes
 * in a temp folder. It runs in the foreground as our child; stopped with SIGQUIT, then SIGKILL.
 */
export async function startNginx (root: string): Promise<StaticServer> {
  // The port is free when probed but may be taken before nginx binds it (other programs on
  // the machine take ephemeral ports too): then try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNginxOn(root, await freePort())
    } catch (err) {
      if (attempt >= 5) throw err
    }
  }
}

async function startNginxOn (root: string, port: number): Promise<StaticServer> {
  const folder = await mkdtemp(join(tmpdir(), 'damselfly-nginx-'))
  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${folder}/nginx.pid;
error_log ${folder}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${folder}/body;
  proxy_temp_path ${folder}/proxy;
  fastcgi_temp_path ${folder}/fastcgi;
  uwsgi_temp_path ${folder}/uwsgi;
  scgi_temp_path ${folder}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`
  await writeFile(join(folder, 'nginx.conf'), config)
  const child = spawn(tool('nginx'), ['-p', folder, '-c', join(folder, 'nginx.conf'), '-e', join(folder, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<void>(resolve => child.on('close', () => { resolve() }))
  const killOnExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    process.off('exit', killOnExit)
    await rm(folder, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  for (let waited = 0; ; waited += 50) {
    if (child.exitCode !== null || child.signalCode !== null || waited > 10_000) {
      await stop()
      throw new Error(`nginx did not start: ${stderr.trim()}`)
    }
    // Whoever answers must be our nginx, not a program that took the port first.
    const up = await fetch(url, { method: 'HEAD' }).then(response => response.headers.get('server')?.startsWith('nginx') === true, () => false)
    if (up) return { url, stop }
    await sleep(50)
  }
}
