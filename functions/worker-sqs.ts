/**
 * The SQS worker: triggered by the job queue with `ReportBatchItemFailures`. Each message names a
 * run (`{ v, ns, run, q }`); lib's processSqsBatch claims, runs and records the whole batch and
 * lists only the messages that failed, so SQS deletes the rest and delivers those again, up to
 * the queue's maxReceiveCount, then moves them to the DLQ.
 *
 * The lease on a claimed run lasts as long as the invocation can (its remaining time at the start,
 * about the function timeout): if the function dies mid-run, the lease has run out by the time SQS
 * delivers the message again (the queue's visibility timeout is 6× the function timeout), and the
 * run is claimed afresh.
 */
import middy from '@middy/core'
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda'
import { consoleLogger, type Logger } from '../lib/jobs.ts'
import { processSqsBatch } from '../lib/sqs-worker.ts'
import { intSetting, logFailures, type TimedContext } from './shared/lambda.ts'
import { runtime, type Runtime } from './shared/runtime.ts'

export interface WorkerSqsDependencies {
  runtime: () => Promise<Runtime>
  env?: Record<string, string | undefined>
  logger?: Logger
  clock?: () => number
}

export function createWorkerSqsHandler(deps: WorkerSqsDependencies) {
  const env = deps.env ?? process.env
  const log = deps.logger ?? consoleLogger

  return middy(async (event: Pick<SQSEvent, 'Records'>, context: TimedContext): Promise<SQSBatchResponse> => {
    const rt = await deps.runtime()
    // Unset: every message of the batch at once (a batch is at most the event source's batchSize).
    const concurrency = intSetting(env, 'DUEQ_WORKER_CONCURRENCY', 0, { max: 10_000 })
    const { batchItemFailures } = await processSqsBatch(event, {
      redis: rt.redis,
      jobs: rt.jobs,
      leaseMs: Math.max(1_000, context.getRemainingTimeInMillis()),
      ...(concurrency > 0 ? { concurrency } : {}),
      worker: `sqs:${context.functionName ?? 'worker'}:${context.awsRequestId ?? ''}`,
      logger: log,
      ...(deps.clock ? { clock: deps.clock } : {}),
    })
    return { batchItemFailures }
  }).use(logFailures('worker-sqs', log))
}

export const handler = createWorkerSqsHandler({ runtime })
