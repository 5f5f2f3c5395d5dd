/**
 * The scheduler tick: EventBridge calls it every minute (`rate(1 minute)`), and it runs the
 * scheduler loop for the rest of the invocation (remaining time less a safety margin), so due jobs
 * go out within the loop's precision, not once a minute. Only the holder of the scheduler lock
 * dispatches; an overlapping invocation waits as a standby and takes over when the lock is free.
 *
 * Target (DUEQ_TARGET, see lib/config.ts): `sqs` sends due runs to the job queue, which triggers
 * worker-sqs; `redis` moves them to the Redis ready lists, and then, when DUEQ_WORKER_FUNCTION
 * names the polling worker, a pass that dispatched anything invokes it asynchronously (at most
 * once per pass), so runs start within a second instead of at the worker's next schedule.
 *
 * Every invocation also writes one EMF line (Passes, PassErrors, Dispatched, WorkerInvocations):
 * the heartbeat that the "scheduler missing" alarm watches.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import middy from '@middy/core'
import type { ScheduledEvent } from 'aws-lambda'
import { consoleLogger, type Logger } from '../lib/jobs.ts'
import type { RunOptions, RunSummary } from '../lib/run.ts'
import { emitMetrics, intSetting, logFailures, metricsFromEnv, type MetricsOptions, type TimedContext } from './shared/lambda.ts'
import { runtime, type Runtime } from './shared/runtime.ts'

export interface TickDependencies {
  /** The shared runtime (one per container). */
  runtime: () => Promise<Runtime>
  /** Invokes the polling worker; created on first use when not given. */
  lambda?: Pick<LambdaClient, 'send'>
  env?: Record<string, string | undefined>
  logger?: Logger
  /** Where the EMF line goes (tests capture it); default stdout. */
  metrics?: Partial<MetricsOptions>
  /** Passed through to `scheduler.run` (tests shorten intervals). */
  runOptions?: Pick<RunOptions, 'intervalMs' | 'pollMs'>
}

export interface TickSummary extends RunSummary {
  budgetMs: number
  target: 'redis' | 'sqs'
  /** Asynchronous invocations of the polling worker started (and how many of them failed). */
  workerInvocations: number
  workerInvocationErrors: number
}

/** Time kept back from the invocation's remaining time: the loop's last pass and the release of the lock. */
export const DEFAULT_SAFETY_MARGIN_MS = 5_000

export function createTickHandler(deps: TickDependencies) {
  const env = deps.env ?? process.env
  const log = deps.logger ?? consoleLogger
  let lambda = deps.lambda

  return middy(async (_event: Partial<ScheduledEvent>, context: TimedContext, opts?: { signal?: AbortSignal }): Promise<TickSummary> => {
    const rt = await deps.runtime()
    const marginMs = intSetting(env, 'DUEQ_TICK_SAFETY_MARGIN_MS', DEFAULT_SAFETY_MARGIN_MS)
    const budgetMs = context.getRemainingTimeInMillis() - marginMs
    const target = rt.config.target
    const workerFunction = target === 'redis' ? env.DUEQ_WORKER_FUNCTION || undefined : undefined

    let workerInvocations = 0
    let workerInvocationErrors = 0
    const invocations: Promise<void>[] = []
    const invokeWorker = (dispatched: number) => {
      workerInvocations++
      lambda ??= new LambdaClient({})
      invocations.push(lambda.send(new InvokeCommand({
        FunctionName: workerFunction,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ source: 'dueq.tick', dispatched })),
      })).then(() => undefined, (e: unknown) => {
        workerInvocationErrors++
        log.error('invoking the polling worker failed; it still runs on its own schedule', { function: workerFunction, error: String(e) })
      }))
    }

    let summary: RunSummary = { passes: 0, dispatched: 0, rescheduled: 0, failed: 0, errors: 0, stoppedBy: 'budget' }
    if (budgetMs > 0) {
      summary = await rt.scheduler.run({
        ...deps.runOptions,
        budgetMs,
        // Aborted by middy just before the Lambda timeout: a last resort, the budget ends first.
        ...(opts?.signal ? { signal: opts.signal } : {}),
        onPass: (result) => { if (workerFunction && result.dispatched > 0) invokeWorker(result.dispatched) },
        onError: (error) => log.error('scheduler pass failed; retrying', { error: String(error) }),
      })
    } else {
      log.warn('tick skipped: no time left in the invocation', { remainingMs: budgetMs + marginMs, marginMs })
    }
    await Promise.all(invocations)

    emitMetrics({
      Passes: summary.passes,
      PassErrors: summary.errors,
      Dispatched: summary.dispatched,
      WorkerInvocations: workerInvocations,
    }, { ...metricsFromEnv(env), ...deps.metrics })
    return { ...summary, budgetMs, target, workerInvocations, workerInvocationErrors }
  }).use(logFailures('tick', log))
}

export const handler = createTickHandler({ runtime })
