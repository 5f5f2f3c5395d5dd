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
import { decodeJob, pairs } from './redis/record.ts'
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

export type ClaimOutcome = { kind: 'claimed'; run: ClaimedRun } | { kind: 'gone' | 'done' | 'busy' | 'failed'; runId: string }

export function claimCall(keys: Keys, queue: string, candidates: string[], o: { now: number; leaseMs: number; worker: string; mode: 'list' | 'sqs'; peek: number }): ScriptCall {
  const keyList = [keys.ready(queue), keys.started(queue)]
  for (const id of candidates) keyList.push(keys.job(id), keys.dependents(jobIdOf(id)))
  return {
    script: 'claim',
    keys: keyList,
    args: [o.now, o.leaseMs, o.worker, o.mode, o.peek, randomBytes(8).toString('hex'), ...candidates],
  }
}

export function parseClaim(queue: string, candidates: string[], reply: unknown): { outcomes: ClaimOutcome[]; peeked: string[] } {
  const [results, peeked] = reply as [unknown[][], string[]]
  const outcomes = results.map((r, i): ClaimOutcome => {
    const runId = candidates[i]!
    if (r[0] === 'claimed') {
      return { kind: 'claimed', run: { runId, queue, token: String(r[1]), fields: pairs(r[2]), dependents: (r[3] as string[]) ?? [] } }
    }
    return { kind: r[0] as 'gone' | 'done' | 'busy' | 'failed', runId }
  })
  return { outcomes, peeked: peeked ?? [] }
}

/** What a run came to, ready to be recorded by finish.lua. */
export type Outcome =
  | { kind: 'ok'; result: string; ttlMs: number }
  | { kind: 'retry'; error: string; stack: string; retryAt: number }
  | { kind: 'fail'; error: string; stack: string; ttlMs: number }

interface RunOptions {
  timeoutMs?: number
  resultTtlMs?: number
  failureTtlMs?: number
  retry?: RetryPolicy
  onSuccess?: string
  onFailure?: string
}

export function runOptions(run: ClaimedRun): RunOptions {
  try {
    return run.fields.o ? (JSON.parse(run.fields.o) as RunOptions) : {}
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
 * Runs the handler of a claimed run. Never throws: every way a run can end becomes an Outcome.
 * `signal` lets the worker abort the run (lease lost); the timeout aborts it too.
 */
export async function execute(run: ClaimedRun, jobs: JobRegistry, o: { clock: () => number; random: () => number; log: Logger; signal?: AbortSignal }): Promise<Outcome> {
  const options = runOptions(run)
  const handler = jobs.get(run.fields.n ?? '')
  const attempt = Number(run.fields.a ?? 1)
  const failureTtl = options.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS
  if (!handler) {
    return { kind: 'fail', error: `unknown handler "${run.fields.n}"`, stack: '', ttlMs: failureTtl }
  }
  const timeoutMs = options.timeoutMs ?? handler.options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const retry = options.retry ?? handler.options.retry
  const controller = new AbortController()
  const abortFromOutside = () => controller.abort(o.signal?.reason)
  o.signal?.addEventListener('abort', abortFromOutside, { once: true })
  let timer: NodeJS.Timeout | undefined
  try {
    let data: Json
    try {
      data = JSON.parse(run.fields.d ?? 'null') as Json
    } catch {
      return { kind: 'fail', error: 'corrupt record: data is not JSON', stack: '', ttlMs: failureTtl }
    }
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new TimeoutError(`timed out after ${timeoutMs} ms`)
        controller.abort(e)
        reject(e)
      }, timeoutMs)
    })
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason ?? new Error('aborted')), { once: true })
    })
    const ctx = { job: jobOf(run), attempt, signal: controller.signal, log: o.log }
    const value = await Promise.race([Promise.resolve().then(() => handler.fn(data, ctx)), timedOut, aborted])
    const result = toJson(value === undefined ? null : value, 'result')
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
    o.signal?.removeEventListener('abort', abortFromOutside)
  }
}

export function finishCall(keys: Keys, run: ClaimedRun, outcome: Outcome, now: number, dependents = run.dependents): ScriptCall {
  const jobId = jobIdOf(run.runId)
  const keyList = [
    keys.started(run.queue), keys.finished(run.queue), keys.failed(run.queue), keys.schedule,
    keys.job(run.runId), keys.job(jobId), keys.dependents(jobId),
  ]
  const members: string[] = []
  if (outcome.kind !== 'retry') {
    for (const member of dependents) {
      const tab = member.indexOf('\t')
      const queue = member.slice(0, tab)
      keyList.push(keys.job(member.slice(tab + 1)), keys.ready(queue), keys.deferred(queue))
      members.push(member)
    }
  }
  const text = outcome.kind === 'ok' ? outcome.result : outcome.error
  const ttl = outcome.kind === 'retry' ? 0 : outcome.ttlMs
  const retryAt = outcome.kind === 'retry' ? outcome.retryAt : 0
  return {
    script: 'finish',
    keys: keyList,
    args: [run.runId, now, run.token, outcome.kind, text, ttl, retryAt, keys.readyChannel, members.length, ...members, outcome.kind === 'ok' ? '' : outcome.stack],
  }
}

/** finish.lua's reply: recorded, the claim was lost, or the dependents changed (call again). */
export function parseFinish(reply: unknown): { kind: 'recorded' } | { kind: 'lost' } | { kind: 'dependents'; members: string[] } {
  if (reply === 1) return { kind: 'recorded' }
  if (Array.isArray(reply) && reply[0] === 'dependents') return { kind: 'dependents', members: reply.slice(1) as string[] }
  return { kind: 'lost' }
}

/** Calls the job's onSuccess / onFailure callback, if it names a registered one. */
export async function runCallback(run: ClaimedRun, outcome: Outcome, jobs: JobRegistry, log: Logger): Promise<void> {
  if (outcome.kind === 'retry') return
  const options = runOptions(run)
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
