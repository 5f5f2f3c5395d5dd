/**
 * The built-in `http` handler, so dueq is useful without writing code: a job's data names a
 * request; a non-2xx answer or a network error fails the attempt (so retries apply).
 *
 * Every request is signed: header `dueq-signature: t=<ms>,v1=<hex>` where v1 is
 * HMAC-SHA256(secret, `${t}.${body}`). A receiver checks it with `verifySignature` and rejects old
 * timestamps, so a captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { DueqError } from './core/errors.ts'
import { invalid, isPlainObject, type Json } from './core/job.ts'
import type { Handler } from './jobs.ts'

export const SIGNATURE_HEADER = 'dueq-signature'
const MAX_RESPONSE_CHARS = 64 * 1024
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'])

export interface HttpJobOptions {
  /** HMAC secret for the signature header. */
  secret: string
  /** Which URLs jobs may call; default: any http(s) URL. */
  allow?: (url: URL) => boolean
}

export interface HttpRequestData {
  url: string
  method?: string
  headers?: Record<string, string>
  /** A string is sent as is; anything else as JSON. */
  body?: Json
}

export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError'
  constructor(readonly status: number, url: string) {
    super(`HTTP ${status} from ${url}`)
  }
}

export function sign(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** True when `header` is a signature of `body` by `secret`, made within `toleranceMs` of `now`. */
export function verifySignature(o: { secret: string; header: string | undefined; body: string; now?: number; toleranceMs?: number }): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(o.header ?? '')
  if (!m) return false
  const t = Number(m[1])
  if (Math.abs((o.now ?? Date.now()) - t) > (o.toleranceMs ?? 300_000)) return false
  const expected = Buffer.from(sign(o.secret, t, o.body).slice(-64), 'hex')
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'))
}

function parseRequest(data: Json, allow: (url: URL) => boolean): { url: URL; method: string; headers: Record<string, string>; body: string | undefined } {
  if (!isPlainObject(data)) throw invalid('data', 'an object { url, method?, headers?, body? }', data)
  let url: URL
  try {
    url = new URL(String(data.url))
  } catch {
    throw invalid('data.url', 'an absolute http(s) URL', data.url)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('data.url', 'an http(s) URL', data.url)
  if (!allow(url)) throw new DueqError('FORBIDDEN', `URL ${url.origin} is not allowed for http jobs`, { field: 'data.url' })
  const method = String(data.method ?? 'POST').toUpperCase()
  if (!METHODS.has(method)) throw invalid('data.method', [...METHODS].join(', '), data.method)
  const headers: Record<string, string> = {}
  if (data.headers !== undefined) {
    if (!isPlainObject(data.headers)) throw invalid('data.headers', 'an object of strings', data.headers)
    for (const [k, v] of Object.entries(data.headers)) {
      if (typeof v !== 'string') throw invalid(`data.headers.${k}`, 'a string', v)
      headers[k.toLowerCase()] = v
    }
  }
  let body: string | undefined
  if (data.body !== undefined && method !== 'GET' && method !== 'HEAD') {
    if (typeof data.body === 'string') body = data.body
    else {
      body = JSON.stringify(data.body)
      headers['content-type'] ??= 'application/json'
    }
  }
  return { url, method, headers, body }
}

/** The `http` handler: register it with `jobs.define('http', httpJob({ secret }))`. */
export function httpJob(options: HttpJobOptions): Handler {
  if (!options?.secret) throw new DueqError('CONFIG', 'The http handler needs a signing secret: httpJob({ secret })', { field: 'secret' })
  const allow = options.allow ?? (() => true)
  return async (data, ctx) => {
    const req = parseRequest(data, allow)
    const timestamp = Date.now()
    req.headers[SIGNATURE_HEADER] = sign(options.secret, timestamp, req.body ?? '')
    req.headers['user-agent'] ??= 'dueq'
    req.headers['dueq-job-id'] = ctx.job.id
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body ?? null, signal: ctx.signal, redirect: 'manual' })
    const text = (await res.text()).slice(0, MAX_RESPONSE_CHARS)
    if (res.status < 200 || res.status > 299) throw new HttpStatusError(res.status, `${req.url.origin}${req.url.pathname}`)
    let body: Json = text
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try { body = JSON.parse(text) as Json } catch { /* keep the text */ }
    }
    return { status: res.status, body }
  }
}
