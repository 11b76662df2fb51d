import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import type { Preheater } from '../preheat/preheater.js'
import { parseRepoRef, type RepoRef } from '../preheat/repo-ref.js'

const bodyLimit = 64 * 1024

const preheatBody = z.object({
  /** `hf://[datasets/|spaces/]owner/repo[@revision]` */
  repo: z.string().max(1024),
  include: z.array(z.string().min(1).max(1024)).max(256).optional()
}).strict()

/** The header that carries the Hub credential of a preheat (`Bearer hf_…`). */
export const hubAuthorizationHeader = 'x-hub-authorization'

/**
 * `POST /api/preheat` starts warming a repo (202 with the job's status); `GET
 * /api/preheat/<id>` reports how far it is. Answers true when the request was one of these.
 *
 * The Hub credential comes in `X-Hub-Authorization` and goes to the Hub as its `Authorization`,
 * never to peers. The request's own `Authorization` is the admin token's (checked before any
 * route, admin-server.ts) and goes nowhere.
 */
export function handlePreheatRoute (preheater: Preheater | undefined, request: IncomingMessage, response: ServerResponse, path: string): boolean {
  if (path !== '/api/preheat' && !path.startsWith('/api/preheat/')) return false
  if (preheater === undefined) {
    sendJson(response, 404, { error: 'preheat is not available on this node' })
    return true
  }
  if (path === '/api/preheat') {
    if (request.method !== 'POST') {
      sendJson(response, 405, { error: 'use POST' }, { allow: 'POST' })
      return true
    }
    void readBody(request).then((text) => {
      let repo: RepoRef
      let include: string[]
      try {
        const body = preheatBody.parse(JSON.parse(text))
        repo = parseRepoRef(body.repo)
        include = body.include ?? []
      } catch (error) {
        sendJson(response, 400, { error: describeBodyError(error) })
        return
      }
      const hubAuthorization = request.headers[hubAuthorizationHeader]
      const status = preheater.start({ repo, include, headers: typeof hubAuthorization === 'string' && hubAuthorization !== '' ? { authorization: hubAuthorization } : {} })
      sendJson(response, 202, status, { location: `/api/preheat/${status.id}` })
    }, (error: unknown) => {
      sendJson(response, 413, { error: error instanceof Error ? error.message : String(error) })
    })
    return true
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendJson(response, 405, { error: 'use GET' }, { allow: 'GET, HEAD' })
    return true
  }
  const status = preheater.status(path.slice('/api/preheat/'.length))
  if (status === undefined) sendJson(response, 404, { error: 'no such preheat job' })
  else sendJson(response, 200, status)
  return true
}

async function readBody (request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > bodyLimit) throw new Error(`request body larger than ${bodyLimit} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function describeBodyError (error: unknown): string {
  if (error instanceof z.ZodError) return `expected {"repo": "hf://owner/repo[@revision]", "include": ["GLOB", …]}: ${error.issues.map(issue => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ')}`
  if (error instanceof SyntaxError) return `the body is not JSON: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}

function sendJson (response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value) + '\n'
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers })
  response.end(body)
}
