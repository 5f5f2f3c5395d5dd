/**
 * End to end through SQS, on the local-aws-sqs emulator and a real Redis (both drivers):
 * schedule → tick (DUEQ_TARGET=sqs, the real SqsBatchSender pointed at the emulator) → the job
 * queue → receive (lib/sqs/receive.ts) → worker-sqs as an SQS event → the run's outcome in Redis.
 * The test plays Lambda's event source mapping: it deletes the messages the handler did not list
 * in batchItemFailures, and leaves the others for SQS to deliver again, then to move to the DLQ
 * (RedrivePolicy maxReceiveCount 2, visibility timeout 1 s).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { SQSEvent, SQSRecord, ScheduledEvent } from 'aws-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTickHandler } from '../../functions/tick.ts'
import { createWorkerSqsHandler } from '../../functions/worker-sqs.ts'
import type { Runtime } from '../../functions/shared/runtime.ts'
import { loadConfig } from '../../lib/config.ts'
import { JobRegistry, Scheduler, silentLogger } from '../../lib/index.ts'
import { deleteMessages, receiveAll, type ReceivedMessage } from '../../lib/sqs/receive.ts'
import { SqsBatchSender, sqsQueueUrlResolver } from '../../lib/sqs/sender.ts'
import { lambdaContext } from '../support/lambda.ts'
import { startSqs, type LocalSqs } from '../support/sqs.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8')) as unknown
const scheduledEvent = fixture('eventbridge-scheduled.json') as ScheduledEvent
const recordTemplate = (fixture('sqs-batch.json') as SQSEvent).Records[0]!

const uniq = (base: string) => `${base}-${randomBytes(4).toString('hex')}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(DRIVERS)('SQS end to end on the %s driver (local-aws-sqs emulator)', (driver) => {
  const store = useStore(driver)
  let sqs: LocalSqs
  beforeAll(async () => { sqs = await startSqs() })
  afterAll(async () => { await sqs?.close() })

  /** A job queue with its DLQ, a runtime dispatching to it, and the two handlers. */
  async function setup(jobs: JobRegistry) {
    const dlqName = uniq('jobs-dlq')
    const queue = await sqs.createQueue(uniq('jobs'), { dlq: { name: dlqName, maxReceiveCount: 2 }, visibilityTimeoutSec: 1 })
    const dlqUrl = queue.url.replace(/[^/]+$/, dlqName)
    // What functions/shared/runtime.ts builds from DUEQ_TARGET=sqs and DUEQ_SQS_QUEUE_URL, with the emulator's client.
    const config = loadConfig({ DUEQ_NAMESPACE: store.namespace, DUEQ_TARGET: 'sqs', DUEQ_SQS_QUEUE_URL: queue.url })
    const sender = new SqsBatchSender({ client: sqs.client, queueUrl: sqsQueueUrlResolver(config.sqsQueueUrls!) })
    const scheduler = new Scheduler({ redis: store.redis, namespace: store.namespace, target: { kind: 'sqs', sender }, jobs })
    const rt: Runtime = { config, redis: store.redis, scheduler, jobs }
    const runtime = async () => rt
    const tick = createTickHandler({ runtime, logger: silentLogger, env: {}, metrics: { write: () => {} } })
    const worker = createWorkerSqsHandler({ runtime, logger: silentLogger, env: {} })

    /** Runs the tick for `budgetMs` (its 5 s safety margin is added to the remaining time). */
    const runTick = (budgetMs = 300) => tick(scheduledEvent, lambdaContext(5_000 + budgetMs, 'dueq-test-tick'))
    /** What Lambda does with a batch: invoke worker-sqs, then delete the messages not reported failed. */
    const deliver = async (messages: ReceivedMessage[]) => {
      const event: SQSEvent = {
        Records: messages.map((m): SQSRecord => ({
          ...recordTemplate,
          messageId: m.messageId,
          receiptHandle: m.receiptHandle,
          body: m.body,
          attributes: { ...recordTemplate.attributes, ApproximateReceiveCount: m.attributes.ApproximateReceiveCount ?? '1' },
          eventSourceARN: queue.arn,
        })),
      }
      const response = await worker(event, lambdaContext(90_000, 'dueq-test-workerSqs'))
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier))
      const done = messages.filter((m) => !failed.has(m.messageId))
      if (done.length > 0) expect((await deleteMessages(sqs.client, queue.url, done.map((m) => m.receiptHandle))).failed).toEqual([])
      return response
    }
    return { queue, dlqUrl, scheduler, runTick, deliver }
  }

  it('schedule → tick → SQS → worker-sqs: the runs finish with their results and leave the queue', async () => {
    const jobs = new JobRegistry().define('add', (data) => { const { a, b } = data as { a: number; b: number }; return a + b })
    const { queue, dlqUrl, scheduler, runTick, deliver } = await setup(jobs)
    const now = Date.now()
    const once = await scheduler.enqueueAt(now - 1, { name: 'add', data: { a: 2, b: 3 } })
    const slot = now - 1
    const recurring = await scheduler.schedule({ at: slot, everyMs: 3_600_000, repeat: 2 }, { name: 'add', data: { a: 10, b: 20 } })
    const later = await scheduler.enqueueAt(now + 3_600_000, { name: 'add', data: { a: 0, b: 0 } })

    expect(await runTick()).toMatchObject({ target: 'sqs', dispatched: 2, errors: 0 })

    const received = await receiveAll(sqs.client, queue.url, { max: 2, waitMs: 900 }) // within the 1 s visibility timeout
    expect(received.map((m) => JSON.parse(m.body) as unknown).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      [
        { v: 1, ns: store.namespace, run: once.id, q: 'default' },
        { v: 1, ns: store.namespace, run: `${recurring.id}@${slot}`, q: 'default' },
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    )
    expect(await deliver(received)).toEqual({ batchItemFailures: [] })

    expect(await scheduler.getJob(once.id)).toMatchObject({ status: 'finished', result: 5, attempts: 1 })
    expect(await scheduler.getJob(`${recurring.id}@${slot}`)).toMatchObject({ status: 'finished', result: 30 })
    expect(await scheduler.getJob(recurring.id)).toMatchObject({ status: 'scheduled', at: new Date(slot + 3_600_000) }) // its second and last run
    expect((await scheduler.getJob(later.id))?.status).toBe('scheduled')
    // Deleted as Lambda deletes successes: nothing comes back after the visibility timeout, nothing in the DLQ.
    expect(await receiveAll(sqs.client, queue.url, { max: 1, waitMs: 1_500 })).toEqual([])
    expect(await receiveAll(sqs.client, dlqUrl, { max: 1, waitMs: 200 })).toEqual([])
    // The outbox is empty: the tick acknowledged what SQS accepted.
    expect(await store.admin.zcard(scheduler.keys.outbox)).toBe(0)
  })

  it('a failing job (no retries) is reported failed on each receive and ends in the DLQ', async () => {
    let calls = 0
    const jobs = new JobRegistry().define('boom', () => { calls++; throw new Error('kaput') })
    const { queue, dlqUrl, scheduler, runTick, deliver } = await setup(jobs)
    const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'boom' })
    expect(await runTick()).toMatchObject({ dispatched: 1 })

    const first = await receiveAll(sqs.client, queue.url, { max: 1, waitMs: 1_000 })
    expect(first.map((m) => m.attributes.ApproximateReceiveCount)).toEqual(['1'])
    expect(await deliver(first)).toEqual({ batchItemFailures: [{ itemIdentifier: first[0]!.messageId }] })
    expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'failed', error: 'Error: kaput' })

    // Not deleted: SQS delivers it again once its 1 s visibility timeout runs out.
    const second = await receiveAll(sqs.client, queue.url, { max: 1, waitMs: 2_500 })
    expect(second.map((m) => [m.messageId, m.attributes.ApproximateReceiveCount])).toEqual([[first[0]!.messageId, '2']])
    expect(await deliver(second)).toEqual({ batchItemFailures: [{ itemIdentifier: first[0]!.messageId }] })
    expect(calls).toBe(1) // the failed run is not run again, only reported failed

    // After the last allowed receive's visibility timeout, the emulator moves it to the DLQ.
    await sleep(1_300)
    expect(await receiveAll(sqs.client, queue.url, { max: 1, waitMs: 300 })).toEqual([])
    const dead = await receiveAll(sqs.client, dlqUrl, { max: 1, waitMs: 1_500 })
    expect(dead.map((m) => JSON.parse(m.body) as unknown)).toEqual([{ v: 1, ns: store.namespace, run: job.id, q: 'default' }])
    expect(dead[0]!.messageId).toBe(first[0]!.messageId)
    expect(dead[0]!.attributes.DeadLetterQueueSourceArn).toBe(queue.arn)
    expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'failed', attempts: 1 })
  })
})
