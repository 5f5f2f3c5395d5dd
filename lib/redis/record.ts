/**
 * How a job is laid out in its Redis hash. Field names are one or two letters because every
 * scheduled job pays for them in memory (see W4 in the benchmarks); this table is the only
 * place that knows them.
 *
 *   n  handler name            d  data JSON              q  queue (absent: "default")
 *   s  status                  c  created, epoch ms      o  options JSON (meta, retry, ttls, …)
 *   f  '1' when atFront        p  dependsOn JSON array
 *   a  attempts so far         r  result JSON            e  error message
 *   x  runs of a recurring job queued or running (the overlap policy reads it)
 *   w  dependencies not finished yet            k  claim token of the worker running it
 *   wk worker name     st started at, ms     et ended at, ms     sc times it stalled
 *   es error stack (kept for operators, never returned by the API)   v 'sqs' when SQS delivered it
 *   j  on a run of a recurring job: the job's id      t  the run's slot, ms
 *
 * Options sit in one JSON field, so a user's `meta` can never collide with dueq's own fields.
 *
 * `s` is absent while a job is scheduled or queued, the two states every job passes through: the
 * schedule tells them apart (in it: scheduled; not: queued). That saves a write per dispatched job
 * and the bytes of the field per scheduled job. `s` is set for started, finished, failed, deferred
 * and canceled.
 */
import type { Job, JobStatus, Json } from '../core/job.ts'
import type { MisfirePolicy } from '../core/time.ts'

/** A record without `q` belongs to this queue: the common case pays no bytes for its queue name. */
export const DEFAULT_QUEUE = 'default'

/** The recurrence JSON kept in the `recurring` hash. `left` counts runs left, absent = forever. */
export interface RecurrenceRecord {
  every?: number
  cron?: string
  tz?: string
  misfire: MisfirePolicy
  overlap: 'skip' | 'allow'
  left?: number
}

export function pairs(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!Array.isArray(flat)) return out
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1])
  return out
}

/** Builds a Job from its record, its due time (null = not in the schedule) and recurrence. */
export function decodeJob(id: string, h: Record<string, string>, dueAt: number | null, rec: RecurrenceRecord | null): Job {
  const job: Job = {
    id,
    name: h.n ?? '',
    data: h.d === undefined ? null : (JSON.parse(h.d) as Json),
    queue: h.q ?? DEFAULT_QUEUE,
    status: (h.s ?? (dueAt === null ? 'queued' : 'scheduled')) as JobStatus,
    at: dueAt === null ? null : new Date(dueAt),
    createdAt: new Date(Number(h.c ?? 0)),
  }
  if (h.o) Object.assign(job, JSON.parse(h.o))
  if (h.f === '1') job.atFront = true
  if (h.p) job.dependsOn = JSON.parse(h.p) as string[]
  if (h.a) job.attempts = Number(h.a)
  if (h.r !== undefined) job.result = JSON.parse(h.r) as Json
  if (h.e !== undefined) job.error = h.e
  if (rec) {
    if (rec.every !== undefined) job.everyMs = rec.every
    if (rec.cron !== undefined) { job.cron = rec.cron; job.tz = rec.tz ?? 'UTC' }
    if (rec.left !== undefined) job.repeat = rec.left
    job.misfire = rec.misfire
    job.overlap = rec.overlap
  }
  return job
}
