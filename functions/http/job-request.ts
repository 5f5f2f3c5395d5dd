/**
 * The envelope of `POST /v1/jobs`: which fields exist, their JSON types, and which combination of
 * `at` / `in` / `cron` / `every` says when the job runs. What the values mean (a valid cron line,
 * a known zone, a spec the store accepts) is the Scheduler's to judge; its errors come back here
 * to be renamed into the request's own field names (`spec.name` → `name`, `everyMs` → `every`).
 *
 *   at            → enqueueAt(at)                  in     → enqueueIn(in)
 *   cron (+ tz)   → cron(cron, { tz, repeat })     every  → schedule({ at: now + every, everyMs })
 *   at + every    → schedule({ at, everyMs })      repeat only with every or cron
 */
import { DueqError, describe } from '../../lib/core/errors.ts'
import { checkEvery, invalid, type Job, type JobSpec } from '../../lib/core/job.ts'
import { MAX_TIME_MS } from '../../lib/core/time.ts'
import type { Scheduler } from '../../lib/scheduler.ts'
import { instantFromJson, rejectUnknown } from './request.ts'

/** Fields of the job itself, handed to the Scheduler as the spec. */
export const SPEC_FIELDS = ['name', 'data', 'id', 'queue', 'timeoutMs', 'resultTtlMs', 'failureTtlMs', 'retry', 'description', 'meta', 'dependsOn', 'misfire', 'overlap'] as const
/** Fields saying when it runs. */
export const WHEN_FIELDS = ['at', 'in', 'cron', 'tz', 'every', 'repeat'] as const
const ALL_FIELDS: readonly string[] = [...SPEC_FIELDS, ...WHEN_FIELDS]

type When =
  | { kind: 'at'; at: number }
  | { kind: 'in'; delayMs: number }
  | { kind: 'cron'; cron: unknown; tz?: unknown; repeat?: number }
  | { kind: 'every'; at: number | undefined; everyMs: number; repeat?: number }

export interface JobRequest {
  when: When
  spec: JobSpec
}

const STARTS = ['at', 'in', 'cron'] as const

/** Validates the envelope; throws a DueqError naming the request field. */
export function readJobRequest(body: Record<string, unknown>): JobRequest {
  rejectUnknown(body, ALL_FIELDS, 'field')
  const has = (k: string) => Object.hasOwn(body, k)
  const starts = STARTS.filter(has)
  if (starts.length > 1) {
    throw invalid(starts[1]!, `absent when \`${starts[0]}\` is given (exactly one of \`at\`, \`in\`, \`cron\`, or \`every\` alone)`, body[starts[1]!])
  }
  const start = starts[0]
  if (start === undefined && !has('every')) {
    throw new DueqError('INVALID_ARGUMENT', 'Expected one of `at`, `in`, `cron` or `every` to say when the job runs, got none of them', { field: 'at' })
  }
  if (has('every') && (start === 'in' || start === 'cron')) {
    throw invalid('every', `absent when \`${start}\` is given (\`every\` goes alone or with \`at\`)`, body.every)
  }
  if (has('tz') && start !== 'cron') throw invalid('tz', 'absent unless `cron` is given', body.tz)
  let repeat: number | undefined
  if (has('repeat')) {
    if (start !== 'cron' && !has('every')) {
      throw new DueqError('INVALID_REPEAT', `Expected \`repeat\` to be absent unless \`every\` or \`cron\` is given, got ${describe(body.repeat)}`, { field: 'repeat' })
    }
    // null would read as "forever" downstream; a client meaning forever leaves `repeat` out.
    if (typeof body.repeat !== 'number') {
      throw new DueqError('INVALID_REPEAT', `Expected \`repeat\` to be a whole number ≥ 1 (total runs), got ${describe(body.repeat)}`, { field: 'repeat' })
    }
    repeat = body.repeat
  }

  const spec: Record<string, unknown> = {}
  for (const k of SPEC_FIELDS) if (has(k)) spec[k] = body[k]
  const withRepeat = repeat === undefined ? {} : { repeat }

  let when: When
  if (has('every')) {
    when = { kind: 'every', at: start === 'at' ? instantFromJson(body.at, 'at') : undefined, everyMs: checkEvery(body.every, 'every'), ...withRepeat }
  } else if (start === 'at') {
    when = { kind: 'at', at: instantFromJson(body.at, 'at') }
  } else if (start === 'in') {
    if (typeof body.in !== 'number') throw invalid('in', 'a whole number of milliseconds ≥ 0', body.in)
    when = { kind: 'in', delayMs: body.in }
  } else {
    when = { kind: 'cron', cron: body.cron, ...(has('tz') ? { tz: body.tz } : {}), ...withRepeat }
  }
  return { when, spec: spec as unknown as JobSpec }
}

/** Hands the request to the Scheduler; its errors come back in the request's terms. */
export async function scheduleJob(scheduler: Scheduler, { when, spec }: JobRequest, now: () => number = Date.now): Promise<Job> {
  try {
    switch (when.kind) {
      case 'at': return await scheduler.enqueueAt(when.at, spec)
      case 'in': return await scheduler.enqueueIn(when.delayMs, spec)
      case 'cron': {
        const { cron, kind: _kind, ...options } = when
        // The Scheduler checks `cron` and `tz` themselves (type included) and names them.
        return await scheduler.cron(cron as string, spec, options as { tz?: string; repeat?: number })
      }
      case 'every': {
        // `every` alone: the first run is one interval from now, as "every 10 minutes" means.
        const at = when.at ?? now() + when.everyMs
        if (at > MAX_TIME_MS) throw invalid('every', 'small enough that the first run, one interval from now, is a valid date', when.everyMs)
        return await scheduler.schedule({ at, everyMs: when.everyMs, ...(when.repeat === undefined ? {} : { repeat: when.repeat }) }, spec)
      }
    }
  } catch (e) {
    throw inRequestTerms(e)
  }
}

/** The request's name of a field the Scheduler names in its own terms. */
export function requestField(field: string): string {
  if (field.startsWith('spec.')) return field.slice('spec.'.length)
  if (field.startsWith('options.')) return requestField(field.slice('options.'.length))
  if (field === 'delayMs') return 'in'
  if (field === 'everyMs') return 'every'
  return field
}

/** A Scheduler error renamed into request terms, in its field and in the `names` of its message. */
export function inRequestTerms(e: unknown): unknown {
  if (!(e instanceof DueqError)) return e
  const message = e.message.replace(/`([^`\s]{1,200})`/g, (_, f: string) => `\`${requestField(f)}\``)
  return new DueqError(e.code, message, { ...(e.field === undefined ? {} : { field: requestField(e.field) }), cause: e })
}
