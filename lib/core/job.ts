/**
 * The job model and the validation of everything a caller hands in. Pure: no Redis, no clock.
 * A spec that passes `normalizeSpec` is safe to store; anything else throws a DueqError naming
 * the field, before a single byte is written.
 */
import { DueqError, describe } from './errors.ts'
import type { MisfirePolicy } from './time.ts'

export type JobStatus = 'scheduled' | 'queued' | 'started' | 'finished' | 'failed' | 'deferred' | 'canceled'
export type OverlapPolicy = 'skip' | 'allow'
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface RetryPolicy {
  /** Retries after the first attempt (so `max: 2` means up to 3 attempts). */
  max: number
  /** Delay before each retry; the last one repeats when there are more retries than delays. */
  delaysMs?: number[]
}

/** What to run and how: everything except when. */
export interface JobSpec {
  /** A handler registered by name in code (`jobs.define(name, fn)`). */
  name: string
  /** JSON handed to the handler. */
  data?: Json
  /** Stable id: scheduling the same id again replaces the job atomically. */
  id?: string
  queue?: string
  timeoutMs?: number
  /** How long a run may wait once due (rq's `ttl`): a worker finding it later cancels it unrun. */
  ttlMs?: number
  resultTtlMs?: number
  failureTtlMs?: number
  description?: string
  /** The caller's own JSON object, stored apart from dueq's fields. */
  meta?: { [key: string]: Json }
  dependsOn?: string | string[]
  retry?: RetryPolicy
  atFront?: boolean
  onSuccess?: string
  onFailure?: string
  misfire?: MisfirePolicy
  overlap?: OverlapPolicy
}

/** A stored job, as `getJob` and friends return it. */
export interface Job {
  id: string
  name: string
  data: Json
  queue: string
  status: JobStatus
  /** Next run time; null once the job left the schedule. */
  at: Date | null
  createdAt: Date
  timeoutMs?: number
  ttlMs?: number
  resultTtlMs?: number
  failureTtlMs?: number
  description?: string
  meta?: { [key: string]: Json }
  dependsOn?: string[]
  retry?: RetryPolicy
  atFront?: boolean
  onSuccess?: string
  onFailure?: string
  /** Recurring jobs only. */
  everyMs?: number
  cron?: string
  tz?: string
  /** Runs left, counting the next one; absent = forever. */
  repeat?: number
  misfire?: MisfirePolicy
  overlap?: OverlapPolicy
  /** Set by workers. */
  result?: Json
  error?: string
  attempts?: number
}

/** A spec after validation: ids resolved, data already serialized. */
export interface NormalizedSpec {
  id: string | undefined
  name: string
  dataJson: string
  queue: string
  /** JSON of the rarely used options (meta included), or '' when none is set. */
  optionsJson: string
  atFront: boolean
  dependsOn: string[]
  misfire: MisfirePolicy
  overlap: OverlapPolicy
}

export const MAX_PAYLOAD_BYTES = 256 * 1024
/** A handler (or callback) name, as jobs name it and JobRegistry registers it. */
export const HANDLER_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/
/** Ids may not contain '@': dueq names a run of a recurring job `<id>@<slot>`. */
const ID = /^[A-Za-z0-9_.:-]{1,128}$/
const RUN_ID = /^[A-Za-z0-9_.:-]{1,128}(@\d{1,16})?$/
const QUEUE = /^[A-Za-z0-9_.-]{1,64}$/

const SPEC_KEYS = new Set(['name', 'data', 'id', 'queue', 'timeoutMs', 'ttlMs', 'resultTtlMs', 'failureTtlMs', 'description', 'meta', 'dependsOn', 'retry', 'atFront', 'onSuccess', 'onFailure', 'misfire', 'overlap'])
const OPTION_KEYS = ['timeoutMs', 'ttlMs', 'resultTtlMs', 'failureTtlMs', 'description', 'meta', 'retry', 'onSuccess', 'onFailure'] as const

export function invalid(field: string, expected: string, got: unknown): DueqError {
  return new DueqError('INVALID_ARGUMENT', `Expected \`${field}\` to be ${expected}, got ${describe(got)}`, { field })
}

export function rejectUnknownKeys(obj: object, allowed: Set<string>, field: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      throw new DueqError('UNKNOWN_OPTION', `Unknown option \`${field}.${key}\`; allowed: ${[...allowed].join(', ')}`, { field: `${field}.${key}` })
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * Serializes `value` as JSON, refusing what JSON would silently change (undefined, NaN, Infinity,
 * functions, class instances such as Date, cycles), and anything over MAX_PAYLOAD_BYTES.
 */
export function toJson(value: unknown, field: string): string {
  checkJson(value, field, [], value !== null && typeof value === 'object' ? new Set() : undefined)
  const json = JSON.stringify(value)
  if (json.length > MAX_PAYLOAD_BYTES / 4 && Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) {
    throw new DueqError('PAYLOAD_TOO_LARGE', `Expected \`${field}\` to serialize to at most ${MAX_PAYLOAD_BYTES} bytes, got ${Buffer.byteLength(json)}`, { field })
  }
  return json
}

const pathOf = (field: string, at: (string | number)[]) => field + at.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')

/**
 * Throws unless `v` is JSON that JSON.stringify keeps as is. `at` is the path of keys from `field`
 * down to `v`, turned into text only for a message; `seen` holds the objects on that path.
 */
function checkJson(v: unknown, field: string, at: (string | number)[], seen: Set<object> | undefined): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return
  const path = () => pathOf(field, at)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new DueqError('NOT_JSON', `Expected \`${path()}\` to be JSON, got ${describe(v)}`, { field: path() })
    return
  }
  if (at.length > 64) throw new DueqError('NOT_JSON', `Expected \`${field}\` to be JSON nested at most 64 levels deep`, { field })
  if (seen && (Array.isArray(v) || isPlainObject(v))) {
    if (seen.has(v)) throw new DueqError('NOT_JSON', `Expected \`${path()}\` to be JSON, got a circular reference`, { field: path() })
    seen.add(v)
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) { at.push(i); checkJson(v[i], field, at, seen); at.pop() }
    } else {
      for (const k in v) { at.push(k); checkJson(v[k], field, at, seen); at.pop() }
    }
    seen.delete(v)
    return
  }
  throw new DueqError('NOT_JSON', `Expected \`${path()}\` to be JSON, got ${v instanceof Date ? 'a Date (pass an ISO string)' : describe(v)}`, { field: path() })
}

/** A whole number in [min, max], or INVALID_ARGUMENT naming `field`. */
export function checkWhole(v: unknown, min: number, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalid(field, `a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`, v)
  return v
}

function checkMs(v: unknown, field: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(field, `a whole number of milliseconds ≥ ${min}`, v)
  return v
}

function checkName(v: unknown, field: string): string {
  if (typeof v !== 'string' || !HANDLER_NAME.test(v)) throw invalid(field, 'a handler name (letters, digits, _ . : -, at most 128, not starting with a digit)', v)
  return v
}

export function checkId(v: unknown, field = 'id'): string {
  if (typeof v !== 'string' || !ID.test(v)) throw invalid(field, 'an id of 1–128 letters, digits or _ . : -', v)
  return v
}

/** A job id, or the id of one run of a recurring job: `<job id>@<slot ms>`. */
export function checkRunId(v: unknown, field = 'id'): string {
  if (typeof v !== 'string' || !RUN_ID.test(v)) throw invalid(field, 'a job id (1–128 letters, digits or _ . : -) or a run id `<id>@<slot>`', v)
  return v
}

export function checkQueue(v: unknown, field = 'queue'): string {
  if (typeof v !== 'string' || !QUEUE.test(v)) throw invalid(field, 'a queue name of 1–64 letters, digits or _ . -', v)
  return v
}

export function checkRetry(v: unknown, field: string): RetryPolicy {
  if (!isPlainObject(v)) throw invalid(field, 'an object { max, delaysMs? }', v)
  rejectUnknownKeys(v, new Set(['max', 'delaysMs']), field)
  const max = checkWhole(v.max, 0, 100, `${field}.max`)
  if (v.delaysMs === undefined) return { max }
  if (!Array.isArray(v.delaysMs) || v.delaysMs.length > 100) throw invalid(`${field}.delaysMs`, 'an array of at most 100 delays', v.delaysMs)
  const delaysMs = v.delaysMs.map((d, i) => checkMs(d, `${field}.delaysMs[${i}]`, 0))
  return { max, delaysMs }
}

/**
 * Validates a spec and returns what the store needs. Never mutates `spec`. `field` prefixes the
 * field names in messages (`spec`, `jobs[3].spec`, …).
 */
export function normalizeSpec(spec: unknown, defaultQueue: string, field = 'spec'): NormalizedSpec {
  if (!isPlainObject(spec)) throw invalid(field, 'an object with at least `name`', spec)
  rejectUnknownKeys(spec, SPEC_KEYS, field)
  const name = checkName(spec.name, `${field}.name`)
  const dataJson = spec.data === undefined ? 'null' : toJson(spec.data, `${field}.data`)
  const id = spec.id === undefined ? undefined : checkId(spec.id, `${field}.id`)
  const queue = spec.queue === undefined ? defaultQueue : checkQueue(spec.queue, `${field}.queue`)
  const options: Record<string, unknown> = {}
  let anyOption = false
  for (const key of OPTION_KEYS) {
    const v = spec[key]
    if (v === undefined) continue
    anyOption = true
    const f = `${field}.${key}`
    switch (key) {
      case 'timeoutMs': options[key] = checkMs(v, f, 1); break
      case 'ttlMs': options[key] = checkMs(v, f, 1); break
      case 'resultTtlMs':
      case 'failureTtlMs': options[key] = checkMs(v, f, 0); break
      case 'description':
        if (typeof v !== 'string' || v.length > 1024) throw invalid(f, 'a string of at most 1024 characters', v)
        options[key] = v
        break
      case 'meta':
        if (!isPlainObject(v)) throw invalid(f, 'a JSON object', v)
        toJson(v, f)
        options[key] = v
        break
      case 'retry': options[key] = checkRetry(v, f); break
      case 'onSuccess':
      case 'onFailure': options[key] = checkName(v, f); break
    }
  }
  let dependsOn: string[] = []
  if (spec.dependsOn !== undefined) {
    const list = typeof spec.dependsOn === 'string' ? [spec.dependsOn] : spec.dependsOn
    if (!Array.isArray(list) || list.length > 100) throw invalid(`${field}.dependsOn`, 'a job id or an array of at most 100 job ids', spec.dependsOn)
    dependsOn = [...new Set(list.map((d, i) => checkId(d, `${field}.dependsOn[${i}]`)))]
    if (id !== undefined && dependsOn.includes(id)) throw invalid(`${field}.dependsOn`, 'ids other than the job\'s own', id)
  }
  if (spec.atFront !== undefined && typeof spec.atFront !== 'boolean') throw invalid(`${field}.atFront`, 'a boolean', spec.atFront)
  const misfire = spec.misfire ?? 'coalesce'
  if (misfire !== 'coalesce' && misfire !== 'skip' && misfire !== 'all') throw invalid(`${field}.misfire`, 'one of "coalesce", "skip", "all"', misfire)
  const overlap = spec.overlap ?? 'skip'
  if (overlap !== 'skip' && overlap !== 'allow') throw invalid(`${field}.overlap`, 'one of "skip", "allow"', overlap)
  const optionsJson = anyOption ? JSON.stringify(options) : ''
  if (Buffer.byteLength(dataJson) + optionsJson.length > MAX_PAYLOAD_BYTES) {
    throw new DueqError('PAYLOAD_TOO_LARGE', `Expected \`${field}\` (data and options) to serialize to at most ${MAX_PAYLOAD_BYTES} bytes`, { field: `${field}.data` })
  }
  return { id, name, dataJson, queue, optionsJson, atFront: spec.atFront === true, dependsOn, misfire, overlap }
}

/** Reads a caller's time: a Date (an instant) or epoch milliseconds. */
export function toInstant(v: unknown, field: string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Number.NaN
  if (!Number.isFinite(t) || !Number.isInteger(t) || t < 0 || t > 8.64e15) {
    throw new DueqError('INVALID_DATE', `Expected \`${field}\` to be a valid Date or epoch milliseconds, got ${describe(v)}`, { field })
  }
  return t
}

export function checkRepeat(v: unknown, field = 'repeat'): number | null {
  if (v === undefined || v === null) return null
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new DueqError('INVALID_REPEAT', `Expected \`${field}\` to be a whole number ≥ 1 (total runs), got ${describe(v)}`, { field })
  }
  return v
}

export function checkEvery(v: unknown, field = 'everyMs'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new DueqError('INVALID_INTERVAL', `Expected \`${field}\` to be a whole number of milliseconds ≥ 1, got ${describe(v)}`, { field })
  }
  return v
}
