/**
 * What the HTTP API sends: JSON with every instant as an ISO-8601 string. A Job goes out through
 * an explicit list of fields, so whatever else a record may carry (claim tokens, worker names, the
 * error stack kept for operators) can never reach a client, even if decodeJob starts returning it.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import type { Job } from '../../lib/core/job.ts'

const JOB_FIELDS = [
  'id', 'name', 'data', 'queue', 'status', 'at', 'createdAt',
  'timeoutMs', 'ttlMs', 'resultTtlMs', 'failureTtlMs', 'description', 'meta', 'dependsOn', 'retry', 'atFront', 'onSuccess', 'onFailure',
  'everyMs', 'cron', 'tz', 'repeat', 'misfire', 'overlap',
  'result', 'error', 'attempts',
] as const satisfies readonly (keyof Job)[]

export type Wire = null | boolean | number | string | Wire[] | { [key: string]: Wire }

/** Dates become ISO strings (an invalid one null), everything else stays as JSON has it. */
export function toWire(value: unknown): Wire {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (Array.isArray(value)) return value.map(toWire)
  if (value !== null && typeof value === 'object') {
    // No prototype: a `__proto__` key in a user's data stays a plain key instead of a prototype.
    const out = Object.create(null) as { [key: string]: Wire }
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v)
    return out
  }
  if (value === undefined) return null
  return value as Wire
}

export function serializeJob(job: Job): { [key: string]: Wire } {
  const out: { [key: string]: Wire } = {}
  for (const field of JOB_FIELDS) {
    const v = job[field]
    if (v !== undefined) out[field] = toWire(v)
  }
  return out
}

const BASE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return { statusCode: status, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(toWire(body)), isBase64Encoded: false }
}

export function noContent(): APIGatewayProxyStructuredResultV2 {
  return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '', isBase64Encoded: false }
}
