/**
 * The Lambda handlers (functions/tick.ts, worker-poll.ts, worker-sqs.ts) through their factories,
 * with the fixture events (EventBridge scheduled event, SQS batch) and a real Redis on both
 * drivers. Only the Lambda client is mocked (the tick's asynchronous invoke of worker-poll).
 */
import { readFileSync } from 'node:fs'
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import type { SQSEvent, SQSRecord, ScheduledEvent } from 'aws-lambda'
import { afterEach, describe, expect, it } from 'vitest'
import { createTickHandler } from '../../functions/tick.ts'
import { createWorkerPollHandler } from '../../functions/worker-poll.ts'
import { createWorkerSqsHandler } from '../../functions/worker-sqs.ts'
import { emitMetrics } from '../../functions/shared/lambda.ts'
import { handler as workerPollDefault } from '../../functions/worker-poll.ts'
import { resetRuntime, type Runtime } from '../../functions/shared/runtime.ts'
import { loadConfig } from '../../lib/config.ts'
import type { SqsSender } from '../../lib/dispatch.ts'
import { JobRegistry, Queue, Scheduler, silentLogger } from '../../lib/index.ts'
import { lambdaContext, recordingLogger } from '../support/lambda.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8')) as unknown
const scheduledEvent = fixture('eventbridge-scheduled.json') as ScheduledEvent
const sqsFixture = fixture('sqs-batch.json') as SQSEvent

/** An SQS event shaped like the fixture, carrying `messages`. */
const sqsEvent = (messages: { messageId: string; body: string }[]): SQSEvent => ({
  Records: messages.map((m, i): SQSRecord => ({ ...sqsFixture.Records[i % sqsFixture.Records.length]!, ...m })),
})

/** A Lambda client stand-in that records InvokeCommand inputs; `onInvoke` decides the outcome. */
function mockLambda(onInvoke: (payload: unknown) => Promise<void> | void = () => {}) {
  const calls: InvokeCommand['input'][] = []
  const client = {
    async send(command: InvokeCommand) {
      calls.push(command.input)
      await onInvoke(JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString('utf8')))
      return { StatusCode: 202 }
    },
  } as unknown as Pick<LambdaClient, 'send'>
  return { client, calls, payloads: () => calls.map((c) => JSON.parse(Buffer.from(c.Payload as Uint8Array).toString('utf8')) as unknown) }
}

const jobs = () => new JobRegistry()
  .define('add', (data) => { const { a, b } = data as { a: number; b: number }; return a + b })
  .define('boom', () => { throw new Error('kaput') })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Budget the tick gets with its default 5 s safety margin. */
const tickContext = (budgetMs: number) => lambdaContext(5_000 + budgetMs, 'dueq-test-tick')

describe.each(DRIVERS)('Lambda functions on the %s driver', (driver) => {
  const store = useStore(driver)

  /** A runtime like functions/shared/runtime.ts builds, on the test's store and namespace. */
  const runtimeFor = (o: { target?: 'redis' | 'sqs'; sender?: SqsSender; registry?: JobRegistry } = {}) => {
    const registry = o.registry ?? jobs()
    const config = loadConfig({ DUEQ_NAMESPACE: store.namespace, DUEQ_TARGET: o.target ?? 'redis', ...(o.target === 'sqs' ? { DUEQ_SQS_QUEUE_URL: 'http://sqs.local/1/jobs' } : {}) })
    const target = o.sender ? { kind: 'sqs' as const, sender: o.sender } : { kind: 'redis' as const }
    const scheduler = new Scheduler({ redis: store.redis, namespace: store.namespace, target, jobs: registry })
    const rt: Runtime = { config, redis: store.redis, scheduler, jobs: registry }
    return { rt, runtime: async () => rt, scheduler, registry }
  }
  const queue = (name = 'default') => new Queue({ redis: store.redis, namespace: store.namespace, name })

  describe('tick', () => {
    it('dispatches due jobs to the Redis queue and invokes worker-poll once per pass with work (mocked Lambda client)', async () => {
      const { runtime, scheduler } = runtimeFor()
      const now = Date.now()
      const due = await Promise.all([1, 2, 3].map((a) => scheduler.enqueueAt(now - 1_000, { name: 'add', data: { a, b: 1 } })))
      const soon = await scheduler.enqueueAt(now + 700, { name: 'add', data: { a: 9, b: 1 } }) // due during the invocation
      const later = await scheduler.enqueueAt(now + 3_600_000, { name: 'add', data: { a: 0, b: 0 } })
      const lambda = mockLambda()
      const metrics: string[] = []
      const tick = createTickHandler({
        runtime, lambda: lambda.client, logger: silentLogger,
        env: { DUEQ_WORKER_FUNCTION: 'dueq-test-workerPoll', DUEQ_STAGE: 'test' },
        metrics: { write: (line) => metrics.push(line) },
      })

      const summary = await tick(scheduledEvent, tickContext(2_000))

      expect(summary).toMatchObject({ target: 'redis', dispatched: 4, errors: 0, stoppedBy: 'budget', workerInvocations: 2, workerInvocationErrors: 0 })
      expect(summary.budgetMs).toBeGreaterThan(1_900)
      expect(summary.passes).toBeGreaterThanOrEqual(2)
      // One asynchronous invoke for each pass that dispatched (3 at once, then the one due 700 ms later).
      expect(lambda.calls.map((c) => [c.FunctionName, c.InvocationType])).toEqual([['dueq-test-workerPoll', 'Event'], ['dueq-test-workerPoll', 'Event']])
      expect(lambda.payloads()).toEqual([{ source: 'dueq.tick', dispatched: 3 }, { source: 'dueq.tick', dispatched: 1 }])
      expect(await queue().count()).toBe(4)
      for (const job of [...due, soon]) expect((await scheduler.getJob(job.id))?.status).toBe('queued')
      expect((await scheduler.getJob(later.id))?.status).toBe('scheduled')
      // The heartbeat: one EMF line per invocation.
      expect(metrics).toHaveLength(1)
      const emf = JSON.parse(metrics[0]!) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } }
      expect(emf._aws.CloudWatchMetrics).toEqual([{
        Namespace: 'dueq', Dimensions: [['Service', 'Stage']],
        Metrics: ['Passes', 'PassErrors', 'Dispatched', 'WorkerInvocations'].map((Name) => ({ Name, Unit: 'Count' })),
      }])
      expect(emf).toMatchObject({ Service: 'dueq', Stage: 'test', Passes: summary.passes, PassErrors: 0, Dispatched: 4, WorkerInvocations: 2 })
    })

    it('invokes nothing when no pass had work, or without DUEQ_WORKER_FUNCTION (mocked Lambda client)', async () => {
      const { runtime, scheduler } = runtimeFor()
      const lambda = mockLambda()
      const quiet = { runtime, lambda: lambda.client, logger: silentLogger, metrics: { write: () => {} } }
      expect(await createTickHandler({ ...quiet, env: { DUEQ_WORKER_FUNCTION: 'w' } })(scheduledEvent, tickContext(200))).toMatchObject({ dispatched: 0, workerInvocations: 0 })
      await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 1, b: 1 } })
      expect(await createTickHandler({ ...quiet, env: {} })(scheduledEvent, tickContext(200))).toMatchObject({ dispatched: 1, workerInvocations: 0 })
      expect(lambda.calls).toEqual([])
      expect(await queue().count()).toBe(1)
    })

    it('with the SQS target sends due runs to SQS and does not invoke worker-poll (mocked Lambda client)', async () => {
      const sent: { queue: string; body: string }[] = []
      const sender: SqsSender = { send: async (q, messages) => { sent.push(...messages.map((m) => ({ queue: q, body: m.body }))); return { failed: [] } } }
      const { runtime, scheduler } = runtimeFor({ target: 'sqs', sender })
      const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 1, b: 2 } })
      const lambda = mockLambda()
      const tick = createTickHandler({ runtime, lambda: lambda.client, logger: silentLogger, env: { DUEQ_WORKER_FUNCTION: 'w' }, metrics: { write: () => {} } })
      expect(await tick(scheduledEvent, tickContext(200))).toMatchObject({ target: 'sqs', dispatched: 1, workerInvocations: 0 })
      expect(sent).toEqual([{ queue: 'default', body: JSON.stringify({ v: 1, ns: store.namespace, run: job.id, q: 'default' }) }])
      expect(lambda.calls).toEqual([])
      expect(await queue().count()).toBe(0)
    })

    it('a failed invoke is logged and does not fail the tick (mocked Lambda client)', async () => {
      const { runtime, scheduler } = runtimeFor()
      const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 1, b: 1 } })
      const lambda = mockLambda(() => { throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }) })
      const log = recordingLogger()
      const tick = createTickHandler({ runtime, lambda: lambda.client, logger: log, env: { DUEQ_WORKER_FUNCTION: 'w' }, metrics: { write: () => {} } })
      expect(await tick(scheduledEvent, tickContext(200))).toMatchObject({ dispatched: 1, workerInvocations: 1, workerInvocationErrors: 1 })
      expect(log.entries).toEqual([expect.objectContaining({ level: 'error', message: expect.stringContaining('invoking the polling worker failed'), fields: expect.objectContaining({ function: 'w', error: expect.stringContaining('Rate exceeded') }) })])
      expect((await scheduler.getJob(job.id))?.status).toBe('queued')
    })

    it('with no time left runs no pass and still writes its heartbeat line', async () => {
      const { runtime, scheduler } = runtimeFor()
      await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 1, b: 1 } })
      const metrics: string[] = []
      const tick = createTickHandler({ runtime, logger: silentLogger, env: {}, metrics: { write: (l) => metrics.push(l) } })
      expect(await tick(scheduledEvent, lambdaContext(4_000))).toMatchObject({ passes: 0, dispatched: 0 })
      expect(JSON.parse(metrics[0]!)).toMatchObject({ Passes: 0 })
      expect(await queue().count()).toBe(0)
    })
  })

  describe('worker-poll', () => {
    const pollEnv = { DUEQ_JOB_TIMEOUT_MS: '1000', DUEQ_WORKER_SAFETY_MARGIN_MS: '100' }

    it('drains the ready queue and returns when it is empty', async () => {
      const { runtime, scheduler } = runtimeFor()
      const queued = await Promise.all([1, 2, 3, 4, 5].map((a) => queue().enqueue({ name: 'add', data: { a, b: 10 } })))
      const failing = await queue().enqueue({ name: 'boom' })
      const poll = createWorkerPollHandler({ runtime, logger: silentLogger, env: pollEnv })
      const started = Date.now()
      const summary = await poll(scheduledEvent, lambdaContext(20_000, 'dueq-test-workerPoll'))
      expect(summary).toMatchObject({ processed: 6, failed: 1, queues: ['default'] })
      expect(summary.budgetMs).toBeGreaterThan(18_000)
      expect(Date.now() - started).toBeLessThan(10_000) // burst: it did not wait out its budget
      for (const [i, job] of queued.entries()) expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'finished', result: i + 11 })
      expect(await scheduler.getJob(failing.id)).toMatchObject({ status: 'failed', error: 'Error: kaput' })
      expect(await queue().count()).toBe(0)
    })

    it('works the queues of DUEQ_WORKER_QUEUES only, in that order', async () => {
      const { runtime, scheduler } = runtimeFor()
      const email = await queue('emails').enqueue({ name: 'add', data: { a: 1, b: 1 } })
      const report = await queue('reports').enqueue({ name: 'add', data: { a: 2, b: 2 } })
      const other = await queue().enqueue({ name: 'add', data: { a: 3, b: 3 } })
      const poll = createWorkerPollHandler({ runtime, logger: silentLogger, env: { ...pollEnv, DUEQ_WORKER_QUEUES: 'emails, reports' } })
      expect(await poll({ source: 'dueq.tick', dispatched: 2 }, lambdaContext(10_000))).toMatchObject({ processed: 2, failed: 0, queues: ['emails', 'reports'] })
      expect((await scheduler.getJob(email.id))?.status).toBe('finished')
      expect((await scheduler.getJob(report.id))?.status).toBe('finished')
      expect((await scheduler.getJob(other.id))?.status).toBe('queued')
    })

    it('claims nothing when less than the longest job (DUEQ_JOB_TIMEOUT_MS) plus the margin is left', async () => {
      const { runtime, scheduler } = runtimeFor()
      const job = await queue().enqueue({ name: 'add', data: { a: 1, b: 1 } })
      const log = recordingLogger()
      const poll = createWorkerPollHandler({ runtime, logger: log, env: {} }) // defaults: 60 s + 5 s
      const summary = await poll(scheduledEvent, lambdaContext(30_000))
      expect(summary).toMatchObject({ processed: 0, failed: 0 })
      expect(summary.budgetMs).toBeLessThanOrEqual(0)
      expect(log.entries.map((e) => e.message)).toEqual([expect.stringContaining('worker skipped')])
      expect((await scheduler.getJob(job.id))?.status).toBe('queued')
    })

    it('tick → asynchronous invoke → worker-poll: the runs the tick queued are finished (mocked Lambda client running worker-poll)', async () => {
      const { runtime, scheduler } = runtimeFor()
      const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 20, b: 22 } })
      const poll = createWorkerPollHandler({ runtime, logger: silentLogger, env: pollEnv })
      const worked: unknown[] = []
      // Lambda's Event invocation returns at once and runs the function later: so does the mock.
      const pending: Promise<unknown>[] = []
      const lambda = mockLambda((payload) => {
        pending.push(poll(payload as { source: 'dueq.tick'; dispatched: number }, lambdaContext(10_000, 'dueq-test-workerPoll')).then((s) => worked.push(s)))
      })
      const tick = createTickHandler({ runtime, lambda: lambda.client, logger: silentLogger, env: { DUEQ_WORKER_FUNCTION: 'dueq-test-workerPoll' }, metrics: { write: () => {} } })
      expect(await tick(scheduledEvent, tickContext(300))).toMatchObject({ dispatched: 1, workerInvocations: 1 })
      await Promise.all(pending)
      expect(worked).toEqual([expect.objectContaining({ processed: 1, failed: 0 })])
      expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'finished', result: 42 })
    })
  })

  describe('worker-sqs', () => {
    it('returns the failed messages of a batch as partial batch failures', async () => {
      const sent: string[] = []
      const sender: SqsSender = { send: async (_q, messages) => { sent.push(...messages.map((m) => m.body)); return { failed: [] } } }
      const { runtime, scheduler } = runtimeFor({ target: 'sqs', sender })
      const good = await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 2, b: 3 }, id: 'good' })
      const bad = await scheduler.enqueueAt(Date.now() - 1, { name: 'boom', id: 'bad' })
      const tick = createTickHandler({ runtime, logger: silentLogger, env: {}, metrics: { write: () => {} } })
      expect(await tick(scheduledEvent, tickContext(200))).toMatchObject({ dispatched: 2 })
      const bodyOf = (id: string) => sent.find((b) => (JSON.parse(b) as { run: string }).run === id)!
      const log = recordingLogger()
      const worker = createWorkerSqsHandler({ runtime, logger: log, env: {} })
      const event = sqsEvent([
        { messageId: 'm-good', body: bodyOf(good.id) },
        { messageId: 'm-bad', body: bodyOf(bad.id) },
        { messageId: 'm-garbage', body: 'not a dueq message' },
        { messageId: 'm-unknown', body: JSON.stringify({ v: 1, ns: store.namespace, run: 'no-such-run', q: 'default' }) },
      ])
      expect(event.Records[0]).toMatchObject({ eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '1' } })

      const response = await worker(event, lambdaContext(90_000, 'dueq-test-workerSqs', 'req-42'))

      expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-bad', 'm-garbage'])
      expect(await scheduler.getJob(good.id)).toMatchObject({ status: 'finished', result: 5 })
      expect(await scheduler.getJob(bad.id)).toMatchObject({ status: 'failed', error: 'Error: kaput' })
      expect(await store.admin.hget(scheduler.keys.job(good.id), 'wk')).toBe('sqs:dueq-test-workerSqs:req-42')
      expect(log.entries.some((e) => e.message.includes('unreadable SQS message') && e.fields.messageId === 'm-garbage')).toBe(true)

      // Delivered again, the failed run is reported failed again (without running), so it reaches the DLQ;
      // the finished one is acknowledged without running twice.
      const again = await worker(sqsEvent([{ messageId: 'm-bad-2', body: bodyOf(bad.id) }, { messageId: 'm-good-2', body: bodyOf(good.id) }]), lambdaContext(90_000))
      expect(again.batchItemFailures).toEqual([{ itemIdentifier: 'm-bad-2' }])
      expect((await scheduler.getJob(good.id))?.attempts).toBe(1)
    })

    it('leases a claimed run for the invocation\'s remaining time', async () => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => { release = resolve })
      const registry = jobs().define('slow', () => gate)
      const { runtime, scheduler } = runtimeFor({ registry })
      const job = await queue().enqueue({ name: 'slow' })
      const worker = createWorkerSqsHandler({ runtime, logger: silentLogger, env: {} })
      const before = Date.now()
      const running = worker(sqsEvent([{ messageId: 'm1', body: JSON.stringify({ v: 1, ns: store.namespace, run: job.id, q: 'default' }) }]), lambdaContext(90_000))
      let lease: string | null = null
      for (let i = 0; i < 100 && lease === null; i++) {
        lease = await store.admin.zscore(scheduler.keys.started('default'), job.id)
        if (lease === null) await sleep(20)
      }
      expect(Number(lease) - before).toBeGreaterThan(85_000)
      expect(Number(lease) - before).toBeLessThanOrEqual(91_000)
      release()
      expect(await running).toEqual({ batchItemFailures: [] })
      expect((await scheduler.getJob(job.id))?.status).toBe('finished')
    })
  })

  describe('errors', () => {
    it('a configuration error fails the invocation with one log line naming the code', async () => {
      const log = recordingLogger()
      const broken = async (): Promise<Runtime> => { loadConfig({ DUEQ_TARGET: 'kafka' }); throw new Error('unreachable') }
      const worker = createWorkerSqsHandler({ runtime: broken, logger: log })
      await expect(worker(sqsEvent([{ messageId: 'm1', body: '{}' }]), lambdaContext(10_000))).rejects.toMatchObject({ code: 'CONFIG', field: 'DUEQ_TARGET' })
      expect(log.entries).toEqual([{ level: 'error', message: 'invocation failed', fields: expect.objectContaining({ function: 'worker-sqs', code: 'CONFIG', field: 'DUEQ_TARGET' }) }])

      const { runtime } = runtimeFor()
      const poll = createWorkerPollHandler({ runtime, logger: log, env: { DUEQ_JOB_TIMEOUT_MS: 'a minute' } })
      await expect(poll(scheduledEvent, lambdaContext(10_000))).rejects.toThrow(/DUEQ_JOB_TIMEOUT_MS is "a minute"/)
      const tick = createTickHandler({ runtime, logger: log, env: { DUEQ_TICK_SAFETY_MARGIN_MS: '-5' }, metrics: { write: () => {} } })
      await expect(tick(scheduledEvent, lambdaContext(10_000))).rejects.toMatchObject({ code: 'CONFIG', field: 'DUEQ_TICK_SAFETY_MARGIN_MS' })
      expect(log.entries.map((e) => e.fields.function)).toEqual(['worker-sqs', 'worker-poll', 'tick'])
    })
  })
})

describe('the default handlers (runtime from the environment, tcp driver)', () => {
  const store = useStore('tcp')
  const saved = { ...process.env }
  afterEach(async () => {
    await resetRuntime()
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })

  it('worker-poll builds its runtime from REDIS_URL and DUEQ_NAMESPACE and runs functions/jobs.ts handlers', async () => {
    process.env.REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    process.env.DUEQ_NAMESPACE = store.namespace
    process.env.DUEQ_JOB_TIMEOUT_MS = '1000'
    delete process.env.DUEQ_SSM_PARAMETERS
    await resetRuntime()
    const job = await new Queue({ redis: store.redis, namespace: store.namespace }).enqueue({ name: 'add', data: { a: 40, b: 2 } })
    const summary = await workerPollDefault(scheduledEvent, lambdaContext(15_000))
    expect(summary).toMatchObject({ processed: 1, failed: 0, queues: ['default'] })
    expect(await new Scheduler({ redis: store.redis, namespace: store.namespace }).getJob(job.id)).toMatchObject({ status: 'finished', result: 42 })
  })
})

describe('emitMetrics', () => {
  it('writes one embedded-metric-format line: namespace, dimensions and values', () => {
    const lines: string[] = []
    emitMetrics({ Passes: 3, Dispatched: 7 }, { namespace: 'dueq', dimensions: { Service: 'dueq', Stage: 'prod' }, timestamp: 1_893_499_200_000, write: (l) => lines.push(l) })
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([{
      _aws: { Timestamp: 1_893_499_200_000, CloudWatchMetrics: [{ Namespace: 'dueq', Dimensions: [['Service', 'Stage']], Metrics: [{ Name: 'Passes', Unit: 'Count' }, { Name: 'Dispatched', Unit: 'Count' }] }] },
      Service: 'dueq', Stage: 'prod', Passes: 3, Dispatched: 7,
    }])
  })
})
