/**
 * Upstash bridge: a local HTTP server that speaks the Upstash Redis REST protocol and forwards every
 * command to a real Redis, so integration tests can run @upstash/redis against a local Redis.
 *
 * Protocol facts implemented (the subset @upstash/redis uses):
 * - Every request is a POST with a JSON body and `Authorization: Bearer <token>`; a missing or wrong
 *   token gives 401 `{"error":"Unauthorized"}`. Other headers (telemetry, upstash-sync-token) are ignored.
 * - `/pipeline`: body `[[cmd, ...args], ...]` → 200 `[{"result": ...} | {"error": "..."}, ...]`, one
 *   entry per command, in order; the commands are sent as one ioredis pipeline.
 * - `/multi-exec`: same shapes, the commands run inside MULTI/EXEC. An error while queueing aborts
 *   the whole transaction → 400 `{"error":"EXECABORT ..."}`.
 * - Any other path (normally `/`): body `[cmd, ...args]` → 200 `{"result": ...}`, or 400
 *   `{"error": "..."}` for a Redis error reply. Error texts pass through unchanged and are never
 *   base64 (the client looks for the `NOSCRIPT` prefix to fall back from EVALSHA to EVAL).
 * - Arguments may be JSON strings, numbers or booleans; they are sent to Redis as strings.
 * - Replies: bulk and status strings → strings (utf8), integers → numbers, nil → null, arrays →
 *   arrays, recursively (HGETALL stays a flat array). With `Upstash-Encoding: base64` every string
 *   in a result is base64, status replies such as "OK" and strings nested in arrays included.
 * - Malformed JSON or a body of the wrong shape → 400 `{"error":"ERR ..."}`.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis, ReplyError } from 'ioredis'

export interface UpstashBridge {
  url: string
  token: string
  requests(): number
  resetRequests(): void
  close(): Promise<void>
}

type Command = [name: string, ...args: string[]]

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

function parseCommand(value: unknown): Command {
  if (!Array.isArray(value) || value.length === 0) throw new HttpError(400, 'ERR a command must be a non-empty JSON array')
  return value.map((arg) => {
    if (typeof arg === 'string' || typeof arg === 'number' || typeof arg === 'boolean') return String(arg)
    throw new HttpError(400, `ERR command arguments must be strings, numbers or booleans, got ${JSON.stringify(arg)}`)
  }) as Command
}

/** A reply from `callBuffer` (Buffers, numbers, null, arrays) → its JSON form. */
function toJson(reply: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(reply)) return reply.toString(base64 ? 'base64' : 'utf8')
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64))
  // An error nested in an array (a Lua table holding a redis.pcall error): keep its text.
  if (reply instanceof Error) return toJson(Buffer.from(reply.message), base64)
  return reply ?? null
}

export async function startUpstashBridge(opts: { redisUrl?: string; token?: string; port?: number } = {}): Promise<UpstashBridge> {
  const token = opts.token ?? randomBytes(16).toString('hex')
  const redis = new Redis(opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { protocol: 2, lazyConnect: false })
  try {
    await once(redis, 'ready') // rejects on the first connection error instead of queueing commands forever
  } catch (err) {
    redis.disconnect()
    throw err
  }
  let requests = 0

  // Command names go to ioredis upper-cased: its reply transformers are keyed by the lower-case
  // name, and one of them turns HGETALL's flat array into an object.
  const send = (cmd: Command) => redis.callBuffer(cmd[0].toUpperCase(), ...cmd.slice(1))

  async function runBatch(cmds: Command[], multi: boolean, base64: boolean) {
    const batch = multi ? redis.multi() : redis.pipeline()
    for (const cmd of cmds) batch.callBuffer(cmd[0].toUpperCase(), ...cmd.slice(1))
    const replies = await batch.exec() // rejects with EXECABORT when MULTI/EXEC was discarded
    if (!replies) throw new HttpError(400, 'EXECABORT the transaction was aborted')
    return replies.map(([err, reply]) => (err ? { error: err.message } : { result: toJson(reply, base64) }))
  }

  async function handle(req: IncomingMessage): Promise<[status: number, body: unknown]> {
    if (req.headers.authorization !== `Bearer ${token}`) return [401, { error: 'Unauthorized' }]
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64'
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch (err) {
      throw new HttpError(400, `ERR invalid JSON body: ${(err as Error).message}`)
    }
    const path = new URL(req.url ?? '/', 'http://bridge').pathname
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body)) throw new HttpError(400, 'ERR the body must be a JSON array of commands')
      return [200, await runBatch(body.map(parseCommand), path === '/multi-exec', base64)]
    }
    return [200, { result: toJson(await send(parseCommand(body)), base64) }]
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++
    handle(req)
      .catch((err: Error): [number, unknown] => {
        const status = err instanceof HttpError ? err.status : err instanceof ReplyError ? 400 : 500
        return [status, { error: err.message }]
      })
      .then(([status, body]) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)))
      .catch(() => res.destroy())
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port ?? 0, '127.0.0.1', resolve)
    })
  } catch (err) {
    redis.disconnect()
    throw err
  }
  const { port } = server.address() as AddressInfo

  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests: () => requests,
    resetRequests: () => {
      requests = 0
    },
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve, reject) => {
          server.close((err) => (err ? reject(err) : resolve()))
          server.closeAllConnections() // keep-alive sockets would otherwise hold close() open
        })
        await redis.quit()
      })()),
  }
}
