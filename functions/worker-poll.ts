/**
 * The polling worker: drains the Redis ready lists of DUEQ_WORKER_QUEUES (comma-separated, in
 * priority order; default the configured queue) and returns when they are empty or when its time
 * is up. Triggered every minute by a schedule, and by the tick right after it moved runs to the
 * ready lists (DUEQ_TARGET=redis).
 *
 * Budget: it stops claiming new runs once less than the longest expected run
 * (DUEQ_JOB_TIMEOUT_MS, default 60 s) plus a safety margin is left, so runs in hand finish before
 * the Lambda timeout. A run longer than that may be cut off with its invocation: its lease then
 * runs out and the next worker requeues it (lib/worker.ts, maxStalls).
 */
import middy from '@middy/core'
import type { ScheduledEvent } from 'aws-lambda'
import { consoleLogger, type Logger } from '../lib/jobs.ts'
import { Worker, type WorkSummary } from '../lib/worker.ts'
import { intSetting, listSetting, logFailures, type TimedContext } from './shared/lambda.ts'
import { runtime, type Runtime } from './shared/runtime.ts'

export interface WorkerPollDependencies {
  runtime: () => Promise<Runtime>
  env?: Record<string, string | undefined>
  logger?: Logger
}

export interface WorkerPollSummary extends WorkSummary {
  queues: string[]
  /** Time given to claiming runs, ms; ≤ 0 means the invocation had too little time to start any. */
  budgetMs: number
}

export const DEFAULT_JOB_TIMEOUT_MS = 60_000
export const DEFAULT_SAFETY_MARGIN_MS = 5_000

/** The invoke payload the tick sends (a schedule sends an EventBridge event instead). */
export interface TickInvocation {
  source: 'dueq.tick'
  dispatched: number
}

export function createWorkerPollHandler(deps: WorkerPollDependencies) {
  const env = deps.env ?? process.env
  const log = deps.logger ?? consoleLogger
  let worker: Worker | undefined // one per container, so its name in the worker registry stays put

  return middy(async (_event: Partial<ScheduledEvent> | TickInvocation, context: TimedContext, opts?: { signal?: AbortSignal }): Promise<WorkerPollSummary> => {
    const rt = await deps.runtime()
    const jobTimeoutMs = intSetting(env, 'DUEQ_JOB_TIMEOUT_MS', DEFAULT_JOB_TIMEOUT_MS)
    const marginMs = intSetting(env, 'DUEQ_WORKER_SAFETY_MARGIN_MS', DEFAULT_SAFETY_MARGIN_MS)
    const concurrency = intSetting(env, 'DUEQ_WORKER_CONCURRENCY', 10, { min: 1, max: 10_000 })
    worker ??= new Worker({
      redis: rt.redis,
      namespace: rt.config.namespace,
      queues: listSetting(env, 'DUEQ_WORKER_QUEUES', [rt.config.queue]),
      jobs: rt.jobs,
      logger: log,
    })
    const budgetMs = context.getRemainingTimeInMillis() - jobTimeoutMs - marginMs
    if (budgetMs <= 0) {
      log.warn('worker skipped: less time left than DUEQ_JOB_TIMEOUT_MS plus the margin', { remainingMs: budgetMs + jobTimeoutMs + marginMs, jobTimeoutMs, marginMs })
      return { processed: 0, failed: 0, queues: worker.queues, budgetMs }
    }
    const summary = await worker.work({
      burst: true,
      budgetMs,
      concurrency,
      // Aborted by middy just before the Lambda timeout: stop claiming, finish what is in hand.
      ...(opts?.signal ? { signal: opts.signal } : {}),
    })
    return { ...summary, queues: worker.queues, budgetMs }
  }).use(logFailures('worker-poll', log))
}

export const handler = createWorkerPollHandler({ runtime })
