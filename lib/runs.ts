/**
 * The run lifecycle shared by the polling worker and the SQS worker: claim (claim.lua), execute
 * the registered handler under its timeout, decide the outcome (finished, retry, failed), and
 * record it (finish.lua). Both workers build the same script calls; they differ only in where
 * run ids come from.
 */
import { randomBytes } from 'node:crypto'
import { toJson, type Job, type Json, type RetryPolicy } from './core/job.ts'
import type { JobRegistry, Logger } from './jobs.ts'
import type { Keys } from './redis/keys.ts'
import { decodeJob } from './redis/record.ts'
import type { ScriptCall } from './redis/scripts.ts'

export const DEFAULT_TIMEOUT_MS = 180_000 // RQ's default
export const DEFAULT_RESULT_TTL_MS = 500_000 // RQ's default
export const DEFAULT_FAILURE_TTL_MS = 365 * 24 * 3600 * 1000
/** Spread of a retry delay: ±10 %, so retries of many jobs that failed together do not align. */
const RETRY_JITTER = 0.1

/** The id of the job a run belongs to: `<id>@<slot>` → `<id>`. */
export const jobIdOf = (runId: string): string => {
  const at = runId.indexOf('@')
  return at === -1 ? runId : runId.slice(0, at)
}

export interface ClaimedRun {
  runId: string
  queue: string
  token: string
  fields: Record<string, string>
  /** Jobs waiting on this one, as "<queue>\t<id>". */
  dependents: string[]
}

/** The record fields claim.lua returns, in its order (after 'claimed', the token and the attempt). */
const CLAIMED_FIELDS = ['n', 'd', 'q', 'o', 'c', 'j', 't', 'f', 'p'] as const

export type ClaimOutcome = { kind: 'claimed'; run: ClaimedRun } | { kind: 'gone' | 'done' | 'busy' | 'failed'; runId: string }

/** `token` prefixes the claim tokens of this call: unique per call (worker name and a counter). */
export function claimCall(keys: Keys, queue: string, candidates: string[], o: { now: number; leaseMs: number; worker: string; mode: 'list' | 'sqs'; peek: number; token?: string }): ScriptCall {
  const keyList = [keys.ready(queue), keys.started(queue), keys.schedule, keys.canceled(queue), keys.failed(queue)]
  for (const id of candidates) keyList.push(keys.job(id), keys.dependents(jobIdOf(id)))
  return {
    script: 'claim',
    keys: keyList,
    args: [o.now, o.leaseMs, o.worker, o.mode, o.peek, o.token ?? randomBytes(8).toString('hex'), ...candidates],
  }
}

export function parseClaim(queue: string, candidates: string[], reply: unknown): { outcomes: ClaimOutcome[]; peeked: string[] } {
  const [results, peeked] = reply as [string[], string]
  const outcomes = results.map((r, i): ClaimOutcome => {
    const runId = candidates[i]!
    if (!r.startsWith('claimed\x1f')) return { kind: r as 'gone' | 'done' | 'busy' | 'failed', runId }
    const parts = r.split('\x1f')
    const fields: Record<string, string> = { a: parts[2]!, s: 'started' }
    CLAIMED_FIELDS.forEach((f, j) => { const v = parts[3 + j]; if (v) fields[f] = v })
    const deps = parts[3 + CLAIMED_FIELDS.length] ?? ''
    return { kind: 'claimed', run: { runId, queue, token: parts[1]!, fields, dependents: deps === '' ? [] : deps.split('\x1d') } }
  })
  return { outcomes, peeked: peeked ? peeked.split('\n') : [] }
}

/** What a run came to, ready to be recorded by finish.lua. */
export type Outcome =
  | { kind: 'ok'; result: string; ttlMs: number }
  | { kind: 'retry'; error: string; stack: string; retryAt: number }
  | { kind: 'fail'; error: string; stack: string; ttlMs: number }

/** The options a job stored for its runs (its options JSON). */
interface RunSettings {
  timeoutMs?: number
  resultTtlMs?: number
  failureTtlMs?: number
  retry?: RetryPolicy
  onSuccess?: string
  onFailure?: string
}

export function settingsOf(run: ClaimedRun): RunSettings {
  try {
    return run.fields.o ? (JSON.parse(run.fields.o) as RunSettings) : {}
  } catch {
    return {}
  }
}

export function jobOf(run: ClaimedRun): Job {
  return decodeJob(run.runId, run.fields, null, null)
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError'
}

/**
 * A run's abort switch (timeout, lost lease). The AbortSignal a handler sees is made only when
 * the handler asks for it: most never do, and a signal per run is costly to make and to collect.
 */
export class RunAbort {
  private controller: AbortController | undefined
  private listener: ((reason: unknown) => void) | undefined
  private reason: unknown
  private aborted = false

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.controller?.abort(reason)
    this.listener?.(reason)
  }

  /** Calls `fn` once, when the run is aborted (at once if it already was). */
  onAbort(fn: (reason: unknown) => void): void {
    if (this.aborted) fn(this.reason)
    else this.listener = fn
  }
}

/**
 * Runs the handler of a claimed run. Never throws: every way a run can end becomes an Outcome.
 * `abort` lets the worker abort the run (lease lost); the timeout aborts it too.
 */
export async function execute(run: ClaimedRun, jobs: JobRegistry, o: { clock: () => number; random: () => number; log: Logger; abort?: RunAbort }): Promise<Outcome> {
  const options = settingsOf(run)
  const handler = jobs.get(run.fields.n ?? '')
  const attempt = Number(run.fields.a ?? 1)
  const failureTtl = options.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS
  if (!handler) {
    return { kind: 'fail', error: `unknown handler "${run.fields.n}"`, stack: '', ttlMs: failureTtl }
  }
  const timeoutMs = options.timeoutMs ?? handler.options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const retry = options.retry ?? handler.options.retry
  const abort = o.abort ?? new RunAbort()
  let timer: NodeJS.Timeout | undefined
  try {
    let data: Json
    try {
      data = JSON.parse(run.fields.d ?? 'null') as Json
    } catch {
      return { kind: 'fail', error: 'corrupt record: data is not JSON', stack: '', ttlMs: failureTtl }
    }
    // The job the handler sees is decoded only if it looks (most handlers read data alone).
    let job: Job | undefined
    const ctx = { get job() { return (job ??= jobOf(run)) }, attempt, get signal() { return abort.signal }, log: o.log }
    let value = handler.fn(data, ctx)
    if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
      // Only a pending handler can overrun its timeout or outlive its lease.
      const stopped = new Promise<never>((_, reject) => {
        timer = setTimeout(() => abort.abort(new TimeoutError(`timed out after ${timeoutMs} ms`)), timeoutMs)
        abort.onAbort((reason) => reject(reason ?? new Error('aborted')))
      })
      value = await Promise.race([value as PromiseLike<unknown>, stopped])
    }
    const result = value === undefined || value === null ? 'null' : toJson(value, 'result')
    return { kind: 'ok', result, ttlMs: options.resultTtlMs ?? DEFAULT_RESULT_TTL_MS }
  } catch (e) {
    const error = e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${String(e)}`
    const stack = e instanceof Error ? (e.stack ?? '') : ''
    if (retry && attempt <= retry.max) {
      const delays = retry.delaysMs ?? [0]
      const base = delays[Math.min(attempt - 1, delays.length - 1)] ?? 0
      const delay = Math.max(0, Math.round(base * (1 + RETRY_JITTER * (2 * o.random() - 1))))
      return { kind: 'retry', error, stack, retryAt: o.clock() + delay }
    }
    return { kind: 'fail', error, stack, ttlMs: failureTtl }
  } finally {
    clearTimeout(timer)
  }
}

export interface Finishing {
  run: ClaimedRun
  outcome: Outcome
  /** The dependents to declare keys for; default those the claim saw. */
  dependents?: string[]
}

/** One finish.lua call for runs of ONE queue (the caller groups them). */
export function finishCall(keys: Keys, queue: string, runs: Finishing[], now: number): ScriptCall {
  const keyList = [keys.started(queue), keys.finished(queue), keys.failed(queue), keys.schedule]
  const args: (string | number)[] = [now, keys.readyChannel, runs.length]
  for (const { run, outcome, dependents = run.dependents } of runs) {
    const jobId = jobIdOf(run.runId)
    keyList.push(keys.job(run.runId), keys.job(jobId), keys.dependents(jobId))
    const members = outcome.kind === 'retry' ? [] : dependents
    for (const member of members) {
      const tab = member.indexOf('\t')
      const depQueue = member.slice(0, tab)
      keyList.push(keys.job(member.slice(tab + 1)), keys.ready(depQueue), keys.deferred(depQueue))
    }
    args.push(
      run.runId, run.token, outcome.kind, outcome.kind === 'ok' ? outcome.result : outcome.error,
      outcome.kind === 'retry' ? 0 : outcome.ttlMs, outcome.kind === 'retry' ? outcome.retryAt : 0,
      outcome.kind === 'ok' ? '' : outcome.stack, members.length, ...members,
    )
  }
  keyList.push(keys.routes)
  return { script: 'finish', keys: keyList, args }
}

/** Groups runs by queue: one finish call each. */
export function finishCalls(keys: Keys, runs: Finishing[], now: number): { calls: ScriptCall[]; groups: Finishing[][] } {
  const byQueue = new Map<string, Finishing[]>()
  for (const f of runs) {
    const list = byQueue.get(f.run.queue)
    if (list) list.push(f)
    else byQueue.set(f.run.queue, [f])
  }
  const groups = [...byQueue.values()]
  return { calls: groups.map((g) => finishCall(keys, g[0]!.run.queue, g, now)), groups }
}

export type FinishResult = { kind: 'recorded' } | { kind: 'lost' } | { kind: 'dependents'; members: string[] }

/** finish.lua's reply: per run, recorded, the claim was lost, or the dependents changed (send again). */
export function parseFinish(reply: unknown): FinishResult[] {
  return (reply as unknown[]).map((r) => {
    if (r === 1) return { kind: 'recorded' }
    if (Array.isArray(r) && r[0] === 'dependents') return { kind: 'dependents', members: r.slice(1) as string[] }
    return { kind: 'lost' }
  })
}

/** Calls the job's onSuccess / onFailure callback, if it names a registered one. */
export async function runCallback(run: ClaimedRun, outcome: Outcome, jobs: JobRegistry, log: Logger): Promise<void> {
  if (outcome.kind === 'retry') return
  const options = settingsOf(run)
  const name = outcome.kind === 'ok' ? options.onSuccess : options.onFailure
  if (!name) return
  const fn = jobs.getCallback(name)
  if (!fn) {
    log.warn('callback not registered', { run: run.runId, callback: name })
    return
  }
  try {
    const job = { ...jobOf(run), status: outcome.kind === 'ok' ? 'finished' : 'failed' } as Job
    await fn(job, outcome.kind === 'ok' ? { result: JSON.parse(outcome.result) as Json } : { error: outcome.error })
  } catch (e) {
    log.error('callback failed', { run: run.runId, callback: name, error: String(e) })
  }
}
