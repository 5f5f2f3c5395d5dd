/**
 * dueq on one machine: the HTTP API handler of functions/api.ts served over HTTP, the scheduler
 * loop and a polling worker with the handlers of functions/jobs.ts, all against one Redis.
 * `npm start` runs it (through functions/local/main.ts); tests start it in-process.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadConfig } from '../../lib/config.ts'
import { DueqError } from '../../lib/core/errors.ts'
import { httpJob } from '../../lib/http-job.ts'
import { consoleLogger, type Logger } from '../../lib/jobs.ts'
import { connect } from '../../lib/redis/connect.ts'
import type { RedisPort } from '../../lib/redis/port.ts'
import { Scheduler } from '../../lib/scheduler.ts'
import { Worker } from '../../lib/worker.ts'
import { createApiHandler } from '../api.ts'
import { jobs } from '../jobs.ts'
import type { Runtime } from '../shared/runtime.ts'
import { serveHttpApi } from './adapter.ts'

export interface LocalOptions {
  /** Default 3000; 0 picks a free port. */
  port?: number
  /** Default 127.0.0.1: the API is not meant for the network without TLS in front. */
  host?: string
  /** Default redis://127.0.0.1:6379. */
  redisUrl?: string
  /** Upstash REST token, with an https:// redisUrl. */
  redisToken?: string
  namespace?: string
  /** The API key clients send; default: a random one (see `apiKey` of the result). */
  apiKey?: string
  /** Signing secret of the built-in `http` handler; without one that handler is not registered. */
  httpSecret?: string
  /** Queues the worker takes runs from, in priority order. Default: the default queue. */
  queues?: string[]
  /** Handlers the worker runs at once. Default 4. */
  concurrency?: number
  logger?: Logger
}

export interface LocalDueq {
  /** e.g. http://127.0.0.1:3000 */
  url: string
  apiKey: string
  namespace: string
  /** Stops taking requests, lets the worker and the scheduler finish their pass, closes Redis. */
  close(): Promise<void>
}

const STARTUP_PING_MS = 3_000
/** How long close() waits for the worker and the scheduler to finish their pass. */
const CLOSE_WAIT_MS = 10_000

/** The Redis URL without its password, for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString().replace(/\/$/, '')
  } catch {
    return url
  }
}

async function ping(redis: RedisPort, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      redis.call(['PING']),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), STARTUP_PING_MS) }),
    ])
  } catch (e) {
    throw new DueqError('CONFIG', `No Redis answers at ${displayUrl(url)} (${(e as Error).message}): start one, or set REDIS_URL to one that runs`, { field: 'REDIS_URL', cause: e })
  } finally {
    clearTimeout(timer)
  }
}

export async function startLocal(o: LocalOptions = {}): Promise<LocalDueq> {
  const apiKey = o.apiKey ?? randomBytes(24).toString('hex')
  const log = o.logger ?? consoleLogger
  const config = loadConfig({
    REDIS_URL: o.redisUrl ?? 'redis://127.0.0.1:6379',
    UPSTASH_REDIS_REST_TOKEN: o.redisToken,
    DUEQ_NAMESPACE: o.namespace,
    DUEQ_API_KEYS: apiKey,
    DUEQ_HTTP_SECRET: o.httpSecret,
  })
  if (config.httpSecret && !jobs.get('http')) jobs.define('http', httpJob({ secret: config.httpSecret }))

  const redis = connect(config.redisUrl, config.redisToken ? { token: config.redisToken } : {})
  try {
    await ping(redis, config.redisUrl)
  } catch (e) {
    await redis.close()
    throw e
  }
  const scheduler = new Scheduler({ redis, namespace: config.namespace, queue: config.queue, jobs })
  const runtime: Runtime = { config, redis, scheduler, jobs }
  const api = createApiHandler(async () => runtime, { log })

  const server = createServer(serveHttpApi(api, (message, fields) => log.error(message, fields)))
  server.listen(o.port ?? 3000, o.host ?? '127.0.0.1')
  try {
    await once(server, 'listening')
  } catch (e) {
    await redis.close()
    throw e
  }
  const { address, port } = server.address() as AddressInfo
  const host = address.includes(':') ? `[${address}]` : address

  const stop = new AbortController()
  const worker = new Worker({ redis, namespace: config.namespace, jobs, queues: o.queues ?? [config.queue], logger: log })
  const loops = [
    scheduler.run({ signal: stop.signal, onError: (e) => log.error('scheduler pass failed', { error: String(e) }) })
      .catch((e: unknown) => log.error('the scheduler loop stopped', { error: String(e) })),
    worker.work({ signal: stop.signal, concurrency: o.concurrency ?? 4 })
      .catch((e: unknown) => log.error('the worker stopped', { error: String(e) })),
  ]

  let closing: Promise<void> | undefined
  const close = () => (closing ??= (async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeIdleConnections()
    stop.abort()
    // Their pass ends with a round trip; if Redis has gone away it never answers, and a stop must still stop.
    let timer: NodeJS.Timeout | undefined
    const finished = await Promise.race([
      Promise.all(loops).then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS) }),
    ])
    clearTimeout(timer)
    if (!finished) log.warn(`the worker and the scheduler did not finish within ${CLOSE_WAIT_MS} ms (a long handler, or Redis gone); closing anyway: a run cut short is requeued when its lease expires`)
    server.closeAllConnections()
    await closed
    await redis.close()
  })())

  return { url: `http://${host}:${port}`, apiKey, namespace: config.namespace, close }
}
