/**
 * Reading a request: the raw body (size, content type, UTF-8, JSON), query parameters and
 * instants. Everything here throws a DueqError naming the field, so the error
 * handler can answer 4xx; nothing here knows about jobs.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import { DueqError, describe } from '../../lib/core/errors.ts'
import { isPlainObject, toInstant } from '../../lib/core/job.ts'

/** Largest request body, in bytes once base64 is undone. Job payloads have the same limit (lib). */
export const MAX_BODY_BYTES = 256 * 1024

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {}
  // API Gateway lowercases header names; a hand-made or proxied event may not.
  return headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]
}

const tooLarge = (bytes: number | string) =>
  new DueqError('PAYLOAD_TOO_LARGE', `Expected the request body to be at most ${MAX_BODY_BYTES} bytes, got ${bytes}`, { field: 'body' })

/**
 * The body as bytes, refused with 413 before anything decodes or parses it. A base64 body
 * (API Gateway encodes what it takes for binary) is measured by its length first, so a huge
 * one is never decoded.
 */
export function rawBody(event: APIGatewayProxyEventV2): Buffer {
  const body = event.body ?? ''
  if (event.isBase64Encoded) {
    if (body.length > Math.ceil(MAX_BODY_BYTES / 3) * 4 + 4) throw tooLarge(`about ${Math.floor((body.length * 3) / 4)}`)
    const bytes = Buffer.from(body, 'base64')
    if (bytes.length > MAX_BODY_BYTES) throw tooLarge(bytes.length)
    return bytes
  }
  // UTF-8 takes at least one byte per UTF-16 unit: a long string is too large without counting.
  if (body.length > MAX_BODY_BYTES) throw tooLarge(`more than ${MAX_BODY_BYTES}`)
  const bytes = Buffer.from(body, 'utf8')
  if (bytes.length > MAX_BODY_BYTES) throw tooLarge(bytes.length)
  return bytes
}

const JSON_TYPE = /^application\/json[ \t]*(;[ \t]*charset[ \t]*=[ \t]*"?utf-8"?[ \t]*)?$/i

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** The JSON body of a POST or PATCH: `application/json` (UTF-8) only, and a JSON object. */
export function readJsonObject(event: APIGatewayProxyEventV2, bytes: Buffer = rawBody(event)): Record<string, unknown> {
  const type = header(event, 'content-type')
  if (type === undefined || !JSON_TYPE.test(type.trim())) {
    throw new DueqError('UNSUPPORTED_MEDIA_TYPE', `Expected \`content-type\` to be application/json (UTF-8), got ${describe(type)}`, { field: 'content-type' })
  }
  let text: string
  try {
    text = utf8.decode(bytes) // also drops a leading BOM, which JSON.parse would refuse
  } catch {
    throw new DueqError('NOT_JSON', 'Expected the body to be UTF-8 JSON, got bytes that are not valid UTF-8', { field: 'body' })
  }
  if (text.trim() === '') throw new DueqError('NOT_JSON', 'Expected the body to be a JSON object, got an empty body', { field: 'body' })
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new DueqError('NOT_JSON', `Expected the body to be JSON: ${(e as Error).message}`, { field: 'body' })
  }
  if (!isPlainObject(value)) throw new DueqError('INVALID_ARGUMENT', `Expected the body to be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : describe(value)}`, { field: 'body' })
  return value
}

/** Throws UNKNOWN_OPTION for the first key of `obj` not in `allowed`; `where` names the place. */
export function rejectUnknown(obj: object, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new DueqError('UNKNOWN_OPTION', `Unknown ${where} \`${key.slice(0, 64)}\`; allowed: ${allowed.join(', ')}`, { field: key.slice(0, 64) })
    }
  }
}

/** The query parameters (API Gateway joins repeated ones with commas, which then fail to parse). */
export function query(event: APIGatewayProxyEventV2): Record<string, string> {
  return (event.queryStringParameters ?? {}) as Record<string, string>
}

/** An integer query parameter in [min, max], or `fallback` when absent. */
export function intParam(q: Record<string, string>, name: string, o: { min: number; max: number; fallback: number }): number {
  const raw = q[name]
  if (raw === undefined) return o.fallback
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(n) || n < o.min || n > o.max) {
    throw new DueqError('INVALID_ARGUMENT', `Expected \`${name}\` to be a whole number from ${o.min} to ${o.max}, got ${describe(raw)}`, { field: name })
  }
  return n
}

export function boolParam(q: Record<string, string>, name: string): boolean | undefined {
  const raw = q[name]
  if (raw === undefined) return undefined
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw new DueqError('INVALID_ARGUMENT', `Expected \`${name}\` to be true or false, got ${describe(raw)}`, { field: name })
}

/**
 * RFC 3339 date-time: a date, a time, and an explicit offset. A string without offset is refused:
 * it would mean the server's local time, and nothing says which that is.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/i

const isoExpected = 'an ISO-8601 date-time with an offset (e.g. "2030-01-01T12:00:00Z") or epoch milliseconds'

function parseIso(s: string, field: string): number {
  const m = ISO.exec(s)
  const bad = () => new DueqError('INVALID_DATE', `Expected \`${field}\` to be ${isoExpected}, got ${describe(s)}`, { field })
  if (!m) throw bad()
  const [, y, mo, d, h, mi, sec = '0', frac = '', , sign, oh = '0', om = '0'] = m
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(sec)
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || Number(oh) > 23 || Number(om) > 59) throw bad()
  // Sub-millisecond digits round UP to the next millisecond: a job never runs before the instant asked for.
  const ms = frac === '' ? 0 : Math.ceil(Number(`0.${frac}`) * 1000 - 1e-9)
  const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  const utc = Date.UTC(year, month - 1, day, hour, minute, second) + ms - offset
  // Date.UTC maps years 0–99 to 1900–1999; those are before the epoch and refused below anyway.
  return toInstant(utc, field)
}

/** An instant from a JSON body: an ISO-8601 string with offset, or epoch ms (a number). */
export function instantFromJson(v: unknown, field: string): number {
  if (typeof v === 'string') return parseIso(v, field)
  if (typeof v === 'number') return toInstant(v, field)
  throw new DueqError('INVALID_DATE', `Expected \`${field}\` to be ${isoExpected}, got ${describe(v)}`, { field })
}

/** An instant from a query string: ISO-8601 with offset, or epoch ms as digits. */
export function instantFromQuery(raw: string, field: string): number {
  if (/^\d{1,16}$/.test(raw)) return toInstant(Number(raw), field)
  return parseIso(raw, field)
}
