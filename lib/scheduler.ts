/**
 * The Scheduler API: rq-scheduler's verbs (enqueue_at, enqueue_in, schedule, cron, cancel, count,
 * get_jobs) over one sorted set per namespace. Each state change is one Lua script and one round
 * trip; reads are one round trip, two for getJobs (ids, then records).
 */
import { DueqError } from './core/errors.ts'
import {
  checkEvery, checkId, checkQueue, checkRunId, checkRepeat, checkWhole, invalid, isPlainObject, normalizeSpec, rejectUnknownKeys, toInstant,
  type Job, type JobSpec, type NormalizedSpec,
} from './core/job.ts'
import { nextCron, validateCron, validateTimeZone, type Recurrence } from './core/time.ts'
import { newId } from './ids.ts'
import { keysFor, type Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { DEFAULT_QUEUE, decodeJob, pairs, type RecurrenceRecord } from './redis/record.ts'
import { runScript, runScripts } from './redis/scripts.ts'
import type { DispatchTarget } from './dispatch.ts'
import { runLoop, type RunOptions, type RunSummary } from './run.ts'
import { DEFAULT_RESULT_TTL_MS } from './runs.ts'
import { listInstances, newInstanceName, SchedulerCore, type SchedulerInstance, type TickResult } from './tick.ts'

export interface SchedulerOptions {
  redis: RedisPort
  /** Keys of one namespace share a hash tag; namespaces are fully separate. Default `default`. */
  namespace?: string
  /** Queue for specs that do not name one. Default `default`. */
  queue?: string
  /** Milliseconds since the epoch; injectable so tests run on a fixed clock. */
  clock?: () => number
  /** Key prefix, default `dueq`. */
  prefix?: string
  /** Where due runs go: Redis ready queues (default) or SQS. */
  target?: DispatchTarget
  /**
   * The handler registry. When given, scheduling a job whose name has no registered handler is
   * refused (UNKNOWN_HANDLER), and the due jobs whose record dispatch reads anyway (recurring,
   * or with a queue, atFront, dependsOn or ttlMs) are checked again: one whose handler is gone by
   * then fails instead of queueing. A plain due job moves without its record being read; if its
   * handler is gone, the worker fails the run with the same reason.
   */
  jobs?: { names(): readonly string[] }
  /** Scheduler lock TTL, ms; extended on every batch. Default 30,000. */
  lockTtlMs?: number
  /** Due entries per atomic dispatch batch, 1 to 1,000. Default 1,000. */
  batchSize?: number
  /** This instance's name in the registry. Default host.pid.random. */
  name?: string
}

/** When a job runs: once `at` a time, or recurring with `everyMs` or a `cron` line. */
export interface ScheduleOptions {
  /** First run. Default: now for `everyMs`; the first match after now for `cron`. */
  at?: Date | number
  everyMs?: number
  cron?: string
  /** IANA zone for `cron`, default UTC. */
  tz?: string
  /** Total runs, ≥ 1; omitted = forever. */
  repeat?: number
}

export interface BulkEntry extends ScheduleOptions {
  spec: JobSpec
}

export interface GetJobsOptions {
  /** Only jobs due at or before this time. */
  until?: Date | number
  withTimes?: boolean
  offset?: number
  length?: number
}

const SCHEDULE_KEYS = new Set(['at', 'everyMs', 'cron', 'tz', 'repeat'])
const CRON_OPTION_KEYS = new Set(['tz', 'repeat'])
const GET_JOBS_KEYS = new Set(['until', 'withTimes', 'offset', 'length'])
const BULK_KEYS = new Set([...SCHEDULE_KEYS, 'spec'])
/** Field order of one job in enqueue.lua's ARGV. */
const ENQUEUE_FIELDS = 10

interface Planned {
  id: string
  at: number
  created: number
  spec: NormalizedSpec
  rec: RecurrenceRecord | null
}

function unknownHandler(name: string, registered: readonly string[], field: string): DueqError {
  const known = registered.slice(0, 10).map((n) => `"${n}"`).join(', ') + (registered.length > 10 ? ', …' : '')
  return new DueqError('UNKNOWN_HANDLER', `Expected \`${field}\` to name a registered handler (${known || 'none is registered'}), got "${name}"`, { field })
}

export class Scheduler {
  readonly redis: RedisPort
  readonly keys: Keys
  readonly queue: string
  protected readonly clock: () => number
  /** The scheduler core: lock, dispatch passes, registry. */
  readonly core: SchedulerCore
  private readonly heartbeatTtlMs = 15_000
  private readonly jobs: { names(): readonly string[] } | undefined

  constructor(options: SchedulerOptions) {
    if (!isPlainObject(options) || !options.redis) throw invalid('options.redis', 'a store from connect()', options?.redis)
    this.redis = options.redis
    this.keys = keysFor(options.namespace ?? 'default', options.prefix)
    this.queue = checkQueue(options.queue ?? 'default', 'options.queue')
    this.clock = options.clock ?? Date.now
    const jobs = options.jobs
    this.jobs = jobs
    this.core = new SchedulerCore({
      redis: this.redis,
      keys: this.keys,
      defaultQueue: this.queue,
      clock: this.clock,
      target: options.target ?? { kind: 'redis' },
      ...(jobs ? { handlerNames: () => jobs.names() } : {}),
      lockTtlMs: checkWhole(options.lockTtlMs ?? 30_000, 1_000, 3_600_000, 'options.lockTtlMs'),
      // A read takes four batches; Lua passes at most 8,000 values to one command.
      batchSize: checkWhole(options.batchSize ?? 1_000, 1, 1_000, 'options.batchSize'),
      name: options.name ?? newInstanceName(),
    })
  }

  /**
   * One pass of the scheduler core: every job due at `now` goes to its queue, recurring jobs are
   * rescheduled. Takes the scheduler lock first; `{ acquired: false }` when another instance has it.
   */
  tick(options: { now?: number | Date } = {}): Promise<TickResult> {
    const now = options.now === undefined ? undefined : toInstant(options.now, 'now')
    return this.core.tick(now === undefined ? {} : { now })
  }

  /** The scheduler loop (see RunOptions): passes until stopped, sleeping until the next due job. */
  run(options: RunOptions = {}): Promise<RunSummary> {
    return runLoop(this.core, this.redis, this.keys, options)
  }

  /** Live scheduler instances of this namespace, with their last pass. */
  instances(): Promise<SchedulerInstance[]> {
    return listInstances(this.redis, this.keys, this.clock(), this.heartbeatTtlMs * 2)
  }

  /** Schedules `spec` to run once at `at` (a Date is an instant; epoch ms also accepted). */
  async enqueueAt(at: Date | number, spec: JobSpec): Promise<Job> {
    return this.write(this.plan({ at }, spec, 'spec', 'at'))
  }

  /** Schedules `spec` to run once, `delayMs` milliseconds from now. */
  async enqueueIn(delayMs: number, spec: JobSpec): Promise<Job> {
    if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs < 0) throw invalid('delayMs', 'a whole number of milliseconds ≥ 0', delayMs)
    return this.write(this.plan({ at: this.clock() + delayMs }, spec, 'spec', 'delayMs'))
  }

  /** Schedules `spec` at `at`, then every `everyMs` when given, `repeat` runs in all. */
  async schedule(options: ScheduleOptions, spec: JobSpec): Promise<Job> {
    if (!isPlainObject(options as unknown)) throw invalid('options', 'an object { at?, everyMs?, cron?, tz?, repeat? }', options)
    rejectUnknownKeys(options, SCHEDULE_KEYS, 'options')
    return this.write(this.plan(options, spec, 'spec', 'options.at'))
  }

  /** Schedules `spec` on a cron line (5 fields, or 6 with seconds first) in `tz` (default UTC). */
  async cron(expr: string, spec: JobSpec, options: { tz?: string; repeat?: number } = {}): Promise<Job> {
    if (!isPlainObject(options as unknown)) throw invalid('options', 'an object { tz?, repeat? }', options)
    rejectUnknownKeys(options, CRON_OPTION_KEYS, 'options')
    return this.write(this.plan({ ...options, cron: expr }, spec, 'spec', 'at'))
  }

  /** Schedules many jobs in few round trips (one per 1,000 jobs). All are validated before any is written. */
  async enqueueMany(entries: BulkEntry[]): Promise<Job[]> {
    if (!Array.isArray(entries)) throw invalid('entries', 'an array of { at, spec }', entries)
    const planned = entries.map((entry, i) => {
      if (!isPlainObject(entry)) throw invalid(`entries[${i}]`, 'an object { at, spec }', entry)
      rejectUnknownKeys(entry, BULK_KEYS, `entries[${i}]`)
      const { spec, ...when } = entry
      return this.plan(when, spec, `entries[${i}].spec`, `entries[${i}].at`)
    })
    const seen = new Set<string>()
    for (const [i, p] of planned.entries()) {
      if (seen.has(p.id)) throw invalid(`entries[${i}].spec.id`, 'an id not used twice in one call', p.id)
      seen.add(p.id)
    }
    const CHUNK = 1000
    const calls = []
    for (let i = 0; i < planned.length; i += CHUNK) calls.push(this.enqueueCall(planned.slice(i, i + CHUNK)))
    // Pipelined 16 chunks at a time, so they share round trips; each chunk is atomic on its own.
    await this.runEnqueue(calls)
    return planned.map((p) => this.toJob(p))
  }

  /**
   * Cancels a job. A scheduled one (recurring or not) leaves the schedule and its record is
   * deleted; a queued or deferred one becomes `canceled` (canceled registry, record kept for
   * DEFAULT_RESULT_TTL_MS). False when the id is unknown, already running or done.
   */
  async cancel(id: string): Promise<boolean> {
    checkId(id)
    const k = this.keys
    let queue = this.queue
    for (let attempt = 0; attempt < 3; attempt++) {
      const reply = await runScript(this.redis, 'cancel',
        [k.schedule, k.recurring, k.job(id), k.ready(queue), k.deferred(queue), k.canceled(queue), k.routes],
        [id, queue, this.clock(), DEFAULT_RESULT_TTL_MS])
      if (!Array.isArray(reply)) return reply === 1
      queue = String(reply[1]) // the job is on another queue: again, with that queue's keys
    }
    return false
  }

  /** Puts a failed job (or run) back on its queue for a fresh set of attempts. */
  async requeue(id: string): Promise<void> {
    checkRunId(id)
    const k = this.keys
    const [name, stored] = (await this.redis.call(['HMGET', k.job(id), 'n', 'q'])) as [string | null, string | null]
    if (name === null) throw new DueqError('JOB_NOT_FOUND', `Job "${id}" does not exist`, { field: 'id' })
    const queue = stored ?? DEFAULT_QUEUE
    const done = await runScript(this.redis, 'requeue', [k.failed(queue), k.ready(queue), k.job(id)], [id, queue, k.readyChannel])
    if (done !== 1) throw new DueqError('JOB_NOT_FAILED', `Job "${id}" is not failed, so it cannot be requeued`, { field: 'id' })
  }

  /** Puts `spec` straight on its queue's ready list (Queue.enqueue). */
  async enqueueNow(queue: string, spec: JobSpec): Promise<Job> {
    if (isPlainObject(spec as unknown) && spec.queue !== undefined && spec.queue !== queue) throw invalid('spec.queue', `absent or "${queue}" (the queue enqueued on)`, spec.queue)
    const p = this.plan({ at: this.clock() }, { ...spec, queue }, 'spec', 'at')
    await this.runEnqueue([this.enqueueCall([p], queue)])
    // Queued, or deferred behind a dependency: the script decided; read what it wrote.
    return (await this.getJob(p.id)) ?? { ...this.toJob(p), status: 'queued', at: null }
  }

  /** Whether the job is in the schedule (due or not). */
  async has(id: string): Promise<boolean> {
    checkId(id)
    return (await this.redis.call(['ZSCORE', this.keys.schedule, id])) !== null
  }

  /** Moves a scheduled job to `at`. Throws JOB_NOT_SCHEDULED when it is not scheduled. */
  async changeExecutionTime(id: string, at: Date | number): Promise<void> {
    checkId(id)
    const t = toInstant(at, 'at')
    const moved = await runScript(this.redis, 'change_execution_time', [this.keys.schedule], [id, t, this.keys.wake])
    if (moved !== 1) throw new DueqError('JOB_NOT_SCHEDULED', `Job "${id}" is not scheduled`, { field: 'id' })
  }

  /** Jobs in the schedule, or those due at or before `until` (inclusive). */
  async count(options: { until?: Date | number } = {}): Promise<number> {
    if (!isPlainObject(options as unknown)) throw invalid('options', 'an object { until? }', options)
    rejectUnknownKeys(options, new Set(['until']), 'options')
    const max = options.until === undefined ? '+inf' : toInstant(options.until, 'until')
    return Number(await this.redis.call(['ZCOUNT', this.keys.schedule, '-inf', max]))
  }

  /** Scheduled jobs in due order; `withTimes` pairs each with its due time. */
  async getJobs(options?: GetJobsOptions & { withTimes?: false }): Promise<Job[]>
  async getJobs(options: GetJobsOptions & { withTimes: true }): Promise<{ job: Job; at: Date }[]>
  async getJobs(options: GetJobsOptions = {}): Promise<Job[] | { job: Job; at: Date }[]> {
    if (!isPlainObject(options as unknown)) throw invalid('options', 'an object { until?, withTimes?, offset?, length? }', options)
    rejectUnknownKeys(options, GET_JOBS_KEYS, 'options')
    const max = options.until === undefined ? '+inf' : toInstant(options.until, 'until')
    const offset = options.offset ?? 0
    const length = options.length ?? -1
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset', 'a whole number ≥ 0', offset)
    if (!Number.isSafeInteger(length) || length < -1) throw invalid('length', 'a whole number ≥ 0 (or -1 for all)', length)
    if (options.withTimes !== undefined && typeof options.withTimes !== 'boolean') throw invalid('withTimes', 'a boolean', options.withTimes)
    if (length === 0) return []
    const flat = (await this.redis.call(['ZRANGEBYSCORE', this.keys.schedule, '-inf', max, 'WITHSCORES', 'LIMIT', offset, length])) as string[]
    const ids: string[] = []
    for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!)
    const jobs = await this.getJobsByIds(ids)
    const present = jobs.filter((j): j is Job => j !== null && j.at !== null)
    return options.withTimes ? present.map((job) => ({ job, at: job.at! })) : present
  }

  /** One job (or one run of a recurring job, `<id>@<slot>`) with its status, or null when unknown. */
  async getJob(id: string): Promise<Job | null> {
    checkRunId(id)
    return (await this.getJobsByIds([id]))[0] ?? null
  }

  /** Jobs (or runs) by id, in one round trip; null for unknown ids. */
  async getJobsByIds(ids: string[]): Promise<(Job | null)[]> {
    if (ids.length === 0) return []
    const k = this.keys
    const replies = await runScripts(this.redis, ids.map((id) => ({ script: 'get_job', keys: [k.schedule, k.recurring, k.job(id)], args: [id] })))
    return replies.map((reply, i) => {
      const [flat, score, rec] = reply as [unknown[], string | null | false, string | null | false]
      if (!Array.isArray(flat) || flat.length === 0) return null
      return decodeJob(ids[i]!, pairs(flat), score ? Number(score) : null, rec ? (JSON.parse(rec) as RecurrenceRecord) : null)
    })
  }

  /** Validates one schedule request completely, before anything is written. */
  protected plan(when: ScheduleOptions, spec: JobSpec, specField: string, atField: string): Planned {
    const s = normalizeSpec(spec, this.queue, specField)
    if (this.jobs && !this.jobs.names().includes(s.name)) throw unknownHandler(s.name, this.jobs.names(), `${specField}.name`)
    const repeat = checkRepeat(when.repeat, 'repeat')
    let recurrence: Recurrence | null = null
    if (when.cron !== undefined) {
      if (when.everyMs !== undefined) throw invalid('everyMs', 'absent when `cron` is given (use one or the other)', when.everyMs)
      recurrence = { kind: 'cron', cron: validateCron(when.cron), tz: when.tz === undefined ? 'UTC' : validateTimeZone(when.tz) }
    } else if (when.everyMs !== undefined) {
      recurrence = { kind: 'every', everyMs: checkEvery(when.everyMs) }
    } else if (when.tz !== undefined) {
      throw invalid('tz', 'absent unless `cron` is given', when.tz)
    }
    if (recurrence === null && repeat !== null) throw invalid('repeat', 'absent unless `everyMs` or `cron` is given', repeat)
    if (recurrence !== null && s.dependsOn.length > 0) throw invalid(`${specField}.dependsOn`, 'absent on a recurring job (each run would wait on the same jobs)', s.dependsOn)
    let at: number
    if (when.at !== undefined) at = toInstant(when.at, atField)
    else if (recurrence?.kind === 'cron') at = nextCron(recurrence.cron, recurrence.tz, this.clock())
    else if (recurrence) at = this.clock()
    else throw invalid(atField, 'a Date or epoch milliseconds', undefined)
    let rec: RecurrenceRecord | null = null
    if (recurrence) {
      rec = recurrence.kind === 'every'
        ? { every: recurrence.everyMs, misfire: s.misfire, overlap: s.overlap }
        : { cron: recurrence.cron, tz: recurrence.tz, misfire: s.misfire, overlap: s.overlap }
      if (repeat !== null) rec.left = repeat
    }
    return { id: s.id ?? newId(), at, created: this.clock(), spec: s, rec }
  }

  /** The enqueue.lua call for `planned`; `ready` puts them straight on `readyQueue` (Queue.enqueue). */
  protected enqueueCall(planned: Planned[], readyQueue?: string) {
    const k = this.keys
    const q = readyQueue ?? this.queue
    const keys = [k.schedule, k.queues, k.recurring, k.ready(q), k.deferred(q)]
    const args: (string | number)[] = [k.wake, k.readyChannel, ENQUEUE_FIELDS]
    for (const p of planned) {
      keys.push(k.job(p.id))
      for (const dep of p.spec.dependsOn) keys.push(k.job(dep), k.dependents(dep))
      args.push(p.id, readyQueue === undefined ? p.at : '', p.created, p.spec.name, p.spec.dataJson, p.spec.queue, p.spec.optionsJson,
        p.spec.atFront ? '1' : '', p.rec ? JSON.stringify(p.rec) : '', p.spec.dependsOn.length, ...p.spec.dependsOn)
    }
    keys.push(k.routes)
    return { script: 'enqueue' as const, keys, args }
  }

  /** Runs enqueue calls, turning a missing dependency into a DueqError. */
  protected async runEnqueue(calls: ReturnType<Scheduler['enqueueCall']>[]): Promise<void> {
    try {
      if (calls.length === 1) await runScript(this.redis, calls[0]!.script, calls[0]!.keys, calls[0]!.args)
      else for (let i = 0; i < calls.length; i += 16) await runScripts(this.redis, calls.slice(i, i + 16))
    } catch (e) {
      const m = e instanceof Error ? /DEPENDENCY_NOT_FOUND (\S+) (\S+)/.exec(e.message) : null
      if (m) throw new DueqError('JOB_NOT_FOUND', `Expected \`dependsOn\` to name existing jobs: job "${m[2]}" depends on "${m[1]}", which does not exist`, { field: 'spec.dependsOn' })
      throw e
    }
  }

  private async write(p: Planned): Promise<Job> {
    await this.runEnqueue([this.enqueueCall([p])])
    return this.toJob(p)
  }

  protected toJob(p: Planned): Job {
    const h: Record<string, string> = { n: p.spec.name, d: p.spec.dataJson, q: p.spec.queue, s: 'scheduled', c: String(p.created) }
    if (p.spec.optionsJson) h.o = p.spec.optionsJson
    if (p.spec.atFront) h.f = '1'
    if (p.spec.dependsOn.length > 0) h.p = JSON.stringify(p.spec.dependsOn)
    return decodeJob(p.id, h, p.at, p.rec)
  }
}
