import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import {
  JobRegistry, processSqsBatch, Queue, Scheduler, silentLogger, verifySignature, httpJob, Worker,
  type Job, type Json, type RedisPort, type WorkOptions,
} from '../../lib/index.ts'
import { runScripts } from '../../lib/redis/scripts.ts'
import { claimCall, finishCall, parseClaim, parseFinish } from '../../lib/runs.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const T = Date.parse('2030-01-01T12:00:00.000Z')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(DRIVERS)('workers and the job lifecycle on the %s driver', (driver) => {
  const store = useStore(driver)
  /** A scheduler and a worker on a shared, settable clock. */
  const setup = (jobs: JobRegistry, o: { leaseMs?: number; queues?: string[] } = {}) => {
    const clock = { now: T }
    const scheduler = new Scheduler({ redis: store.redis, namespace: store.namespace, clock: () => clock.now })
    const worker = new Worker({ redis: store.redis, namespace: store.namespace, jobs, clock: () => clock.now, random: () => 0.5, logger: silentLogger, ...o })
    const queue = (name = 'default') => new Queue({ redis: store.redis, namespace: store.namespace, name, clock: () => clock.now })
    const drain = (w: WorkOptions = {}) => worker.work({ burst: true, ...w })
    return { clock, scheduler, worker, queue, drain }
  }

  it('scheduled → queued → started → finished, with the result, its TTL and the finished registry', async () => {
    const seen: { attempt: number; status: string | undefined; job: Job }[] = []
    const jobs = new JobRegistry().define('add', async (data, ctx) => {
      seen.push({ attempt: ctx.attempt, status: (await s.getJob(ctx.job.id))?.status, job: ctx.job })
      const { a, b } = data as { a: number; b: number }
      return { sum: a + b }
    })
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await s.enqueueAt(T - 1, { name: 'add', data: { a: 2, b: 3 }, resultTtlMs: 60_000 })
    expect((await s.getJob(job.id))?.status).toBe('scheduled')
    await s.tick()
    expect((await s.getJob(job.id))?.status).toBe('queued')
    expect(await queue().count()).toBe(1)
    expect((await queue().jobs()).map((j) => j.id)).toEqual([job.id])
    expect(await drain()).toEqual({ processed: 1, failed: 0 })
    expect(seen).toEqual([{ attempt: 1, status: 'started', job: expect.objectContaining({ id: job.id, name: 'add', data: { a: 2, b: 3 } }) }])
    const done = await s.getJob(job.id)
    expect(done).toMatchObject({ status: 'finished', result: { sum: 5 }, attempts: 1 })
    const ttl = await store.admin.pttl(s.keys.job(job.id))
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
    expect(await queue().registry('finished').list()).toEqual([{ id: job.id, score: T + 60_000 }])
    expect(await queue().registry('started').count()).toBe(0)
    expect(await queue().count()).toBe(0)
  })

  it('a failure stores the error (the stack stays server side) in the failed registry, for failureTtlMs', async () => {
    const jobs = new JobRegistry().define('boom', () => { throw new TypeError('bad input') })
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'boom', failureTtlMs: 120_000 })
    expect(await drain()).toEqual({ processed: 1, failed: 1 })
    const failed = await s.getJob(job.id)
    expect(failed).toMatchObject({ status: 'failed', error: 'TypeError: bad input' })
    expect(JSON.stringify(failed)).not.toContain('at ') // no stack frames in the Job
    expect(await store.admin.hget(s.keys.job(job.id), 'es')).toMatch(/TypeError: bad input\n\s+at /)
    expect(await queue().registry('failed').list()).toEqual([{ id: job.id, score: T + 120_000 }])
    expect(await store.admin.pttl(s.keys.job(job.id))).toBeGreaterThan(100_000)
  })

  it('a result that is not JSON fails the run', async () => {
    const jobs = new JobRegistry().define('date', () => new Date())
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'date' })
    await drain()
    expect((await s.getJob(job.id))?.error).toMatch(/NOT_JSON|Expected `result` to be JSON/)
  })

  it('an unknown handler fails the run without running anything', async () => {
    const { scheduler: s, queue, drain } = setup(new JobRegistry())
    const job = await queue().enqueue({ name: 'ghost' })
    expect(await drain()).toEqual({ processed: 1, failed: 1 })
    expect((await s.getJob(job.id))?.error).toBe('unknown handler "ghost"')
  })

  it('a plain due job moves unread: one whose handler is unknown, or whose record lost its name, is failed by the worker with the reason', async () => {
    const jobs = new JobRegistry().define('noop', () => null)
    const { scheduler: s, queue, drain } = setup(jobs)
    await s.enqueueAt(T - 3, { name: 'noop', id: 'good' })
    await s.enqueueAt(T - 2, { name: 'ghost', id: 'unknown' })
    await s.enqueueAt(T - 1, { name: 'noop', id: 'corrupt' })
    await store.admin.hdel(s.keys.job('corrupt'), 'n')
    expect(await s.tick()).toMatchObject({ dispatched: 3, failed: 0 })
    expect(await drain()).toEqual({ processed: 2, failed: 1 })
    expect(await s.getJob('good')).toMatchObject({ status: 'finished' })
    expect(await s.getJob('unknown')).toMatchObject({ status: 'failed', error: 'unknown handler "ghost"' })
    expect(await store.admin.hmget(s.keys.job('corrupt'), 's', 'e')).toEqual(['failed', 'corrupt record: no handler name'])
    expect(await store.admin.pttl(s.keys.job('corrupt'))).toBeGreaterThan(300 * 24 * 3600 * 1000)
    expect((await queue().registry('failed').list()).map((e) => e.id).sort()).toEqual(['corrupt', 'unknown'])
    expect(await queue().count()).toBe(0)
  })

  it('requeue puts a failed job back, and it can then succeed', async () => {
    let fail = true
    const jobs = new JobRegistry().define('flaky', () => { if (fail) throw new Error('not yet'); return 'ok' })
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'flaky' })
    await drain()
    expect((await s.getJob(job.id))?.status).toBe('failed')
    fail = false
    await s.requeue(job.id)
    expect((await s.getJob(job.id))?.status).toBe('queued')
    expect(await queue().registry('failed').count()).toBe(0)
    await drain()
    expect(await s.getJob(job.id)).toMatchObject({ status: 'finished', result: 'ok', attempts: 1 })
    await expect(s.requeue(job.id)).rejects.toMatchObject({ code: 'JOB_NOT_FAILED' })
    await expect(s.requeue('nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' })
  })

  it('cancel of a queued job: canceled registry, and no worker runs it', async () => {
    let runs = 0
    const jobs = new JobRegistry().define('x', () => { runs++ })
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'x' })
    expect(await s.cancel(job.id)).toBe(true)
    expect((await s.getJob(job.id))?.status).toBe('canceled')
    expect(await queue().registry('canceled').count()).toBe(1)
    expect(await queue().count()).toBe(0)
    await drain()
    expect(runs).toBe(0)
    // on another queue than the scheduler's default: found there
    const other = await queue('other').enqueue({ name: 'x' })
    expect(await s.cancel(other.id)).toBe(true)
    expect(await queue('other').registry('canceled').count()).toBe(1)
  })

  it('retries with the configured delays (fixed clock), then the failed registry', async () => {
    let attempts = 0
    const jobs = new JobRegistry().define('flaky', () => { attempts++; throw new Error(`attempt ${attempts}`) })
    const { clock, scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'flaky', retry: { max: 2, delaysMs: [1_000, 5_000] } })
    await drain()
    expect(await s.getJob(job.id)).toMatchObject({ status: 'scheduled', at: new Date(T + 1_000), error: 'Error: attempt 1', attempts: 1 })
    clock.now = T + 999
    expect((await s.tick()).dispatched).toBe(0) // not early
    clock.now = T + 1_000
    expect((await s.tick()).dispatched).toBe(1)
    await drain()
    expect(await s.getJob(job.id)).toMatchObject({ status: 'scheduled', at: new Date(T + 6_000), attempts: 2 })
    clock.now = T + 6_000
    await s.tick()
    await drain()
    expect(await s.getJob(job.id)).toMatchObject({ status: 'failed', error: 'Error: attempt 3', attempts: 3 })
    expect(attempts).toBe(3)
    expect((await queue().registry('failed').list()).map((e) => e.id)).toEqual([job.id])
  })

  it('ttlMs: a run that waited longer than its ttl once due is canceled, never run', async () => {
    let runs = 0
    const jobs = new JobRegistry().define('x', () => { runs++ })
    const { clock, scheduler: s, queue, drain } = setup(jobs)
    const late = await s.enqueueAt(T - 1, { name: 'x', ttlMs: 1_000 })
    const fresh = await s.enqueueAt(T - 1, { name: 'x', ttlMs: 60_000 })
    const now = await queue().enqueue({ name: 'x', ttlMs: 500 })
    await s.tick()
    clock.now = T + 5_000 // the workers were down for 5 s
    expect(await drain()).toEqual({ processed: 1, failed: 0 })
    expect(runs).toBe(1)
    expect(await s.getJob(late.id)).toMatchObject({ status: 'canceled', error: 'expired: waited longer than its ttlMs' })
    expect(await s.getJob(now.id)).toMatchObject({ status: 'canceled' })
    expect((await s.getJob(fresh.id))?.status).toBe('finished')
    expect((await queue().registry('canceled').list()).map((e) => e.id).sort()).toEqual([late.id, now.id].sort())
  })

  it('a retry of a job on another queue goes back to that queue', async () => {
    let attempts = 0
    const jobs = new JobRegistry().define('flaky', () => { if (++attempts === 1) throw new Error('once'); return attempts })
    const { clock, scheduler: s, queue, drain } = setup(jobs, { queues: ['other'] })
    const job = await queue('other').enqueue({ name: 'flaky', retry: { max: 1, delaysMs: [10] } })
    await drain()
    expect(await store.admin.hexists(s.keys.routes, job.id)).toBe(1)
    clock.now = T + 10
    await s.tick()
    expect(await queue('other').count()).toBe(1)
    await drain()
    expect(await s.getJob(job.id)).toMatchObject({ status: 'finished', result: 2, queue: 'other' })
  })

  it('a handler that never resolves is timed out and its signal aborted', async () => {
    let aborted = false
    const jobs = new JobRegistry().define('hang', (_d, ctx) => new Promise(() => { ctx.signal.addEventListener('abort', () => { aborted = true }) }))
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'hang', timeoutMs: 50 })
    expect(await drain()).toEqual({ processed: 1, failed: 1 })
    expect(aborted).toBe(true)
    expect((await s.getJob(job.id))?.error).toBe('TimeoutError: timed out after 50 ms')
  })

  it('a worker killed mid-run: the lease check requeues the run, another worker finishes it exactly once', async () => {
    let runs = 0
    const jobs = new JobRegistry().define('once', () => { runs++; return runs })
    const { clock, scheduler: s, queue } = setup(jobs)
    const job = await queue().enqueue({ name: 'once' })
    // The first worker claims the run and dies before finishing it.
    const claimReply = await runScripts(store.redis, [claimCall(s.keys, 'default', [job.id], { now: T, leaseMs: 1_000, worker: 'doomed', mode: 'list', peek: 0 })])
    const claim = parseClaim('default', [job.id], claimReply[0]).outcomes[0]!
    expect(claim.kind).toBe('claimed')
    expect((await s.getJob(job.id))?.status).toBe('started')
    clock.now = T + 1_001 // its lease expires
    const rescuer = new Worker({ redis: store.redis, namespace: store.namespace, jobs, clock: () => clock.now, logger: silentLogger, leaseMs: 1_000 })
    expect(await rescuer.work({ burst: true })).toEqual({ processed: 1, failed: 0 })
    expect(await s.getJob(job.id)).toMatchObject({ status: 'finished', result: 1, attempts: 2 })
    // The dead worker comes back and tries to finish: its claim is gone, nothing changes.
    if (claim.kind !== 'claimed') throw new Error('unreachable')
    const late = await runScripts(store.redis, [finishCall(s.keys, 'default', [{ run: claim.run, outcome: { kind: 'ok', result: '"late"', ttlMs: 1_000 } }], clock.now)])
    expect(parseFinish(late[0])).toEqual([{ kind: 'lost' }])
    expect((await s.getJob(job.id))?.result).toBe(1)
    expect(runs).toBe(1)
  })

  it('a run that stalls more than maxStalls times fails', async () => {
    const jobs = new JobRegistry().define('x', () => 1)
    const { clock, scheduler: s, queue } = setup(jobs)
    const job = await queue().enqueue({ name: 'x' })
    await runScripts(store.redis, [claimCall(s.keys, 'default', [job.id], { now: T, leaseMs: 10, worker: 'w1', mode: 'list', peek: 0 })])
    clock.now = T + 100
    const w = new Worker({ redis: store.redis, namespace: store.namespace, jobs, clock: () => clock.now, logger: silentLogger, maxStalls: 0 })
    expect(await w.requeueStalled()).toEqual({ requeued: 0, failed: 1 })
    expect((await s.getJob(job.id))?.error).toMatch(/stalled 1 times/)
  })

  it('the same run queued twice runs once', async () => {
    let runs = 0
    const jobs = new JobRegistry().define('x', () => { runs++ })
    const { scheduler: s, queue, drain } = setup(jobs)
    const job = await queue().enqueue({ name: 'x' })
    await store.admin.rpush(s.keys.ready('default'), job.id) // a duplicate dispatch
    await drain({ concurrency: 4 })
    expect(runs).toBe(1)
    expect(await queue().count()).toBe(0)
  })

  it('runs handlers concurrently up to `concurrency`', async () => {
    let inFlight = 0
    let peak = 0
    const jobs = new JobRegistry().define('slow', async () => { inFlight++; peak = Math.max(peak, inFlight); await sleep(30); inFlight-- })
    const { queue, drain } = setup(jobs)
    for (let i = 0; i < 12; i++) await queue().enqueue({ name: 'slow' })
    expect(await drain({ concurrency: 4 })).toEqual({ processed: 12, failed: 0 })
    expect(peak).toBe(4)
  })

  it('takes runs from queues in priority order', async () => {
    const order: string[] = []
    const jobs = new JobRegistry().define('x', (d) => { order.push(String(d)) })
    const { queue, drain } = setup(jobs, { queues: ['high', 'low'] })
    await queue('low').enqueue({ name: 'x', data: 'low-1' })
    await queue('high').enqueue({ name: 'x', data: 'high-1' })
    await queue('low').enqueue({ name: 'x', data: 'low-2' })
    await drain()
    expect(order).toEqual(['high-1', 'low-1', 'low-2'])
  })

  describe('dependsOn', () => {
    it('a chain runs in order: each job is deferred until its dependency finished', async () => {
      const order: string[] = []
      const jobs = new JobRegistry().define('step', (d) => { order.push(String(d)) })
      const { scheduler: s, queue, drain } = setup(jobs)
      const a = await s.enqueueAt(T + 60_000, { name: 'step', data: 'a', id: 'a' })
      const b = await queue().enqueue({ name: 'step', data: 'b', id: 'b', dependsOn: a.id })
      const c = await queue().enqueue({ name: 'step', data: 'c', id: 'c', dependsOn: [b.id] })
      expect(b.status).toBe('deferred')
      expect(c.status).toBe('deferred')
      expect((await queue().registry('deferred').list()).map((e) => e.id).sort()).toEqual(['b', 'c'])
      await drain()
      expect(order).toEqual([]) // a is not due yet: nothing may run
      await s.changeExecutionTime('a', T)
      await s.tick()
      await drain()
      expect(order).toEqual(['a', 'b', 'c'])
      expect(await queue().registry('deferred').count()).toBe(0)
      expect(await store.admin.exists(s.keys.dependents('a'))).toBe(0)
    })

    it('a scheduled job whose dependency already finished is queued when due', async () => {
      const jobs = new JobRegistry().define('x', () => 1)
      const { scheduler: s, queue, drain } = setup(jobs)
      const a = await queue().enqueue({ name: 'x', id: 'a', resultTtlMs: 60_000 })
      await drain()
      await s.enqueueAt(T - 1, { name: 'x', id: 'b', dependsOn: a.id })
      await s.tick()
      await drain()
      expect((await s.getJob('b'))?.status).toBe('finished')
    })

    it('a failed dependency leaves the dependent deferred, saying why; a requeue that succeeds releases it', async () => {
      let fail = true
      const jobs = new JobRegistry().define('dep', () => { if (fail) throw new Error('down') }).define('after', () => 'ran')
      const { scheduler: s, queue, drain } = setup(jobs)
      await queue().enqueue({ name: 'dep', id: 'dep' })
      await queue().enqueue({ name: 'after', id: 'after', dependsOn: 'dep' })
      await drain()
      expect(await s.getJob('after')).toMatchObject({ status: 'deferred', error: 'waiting on dependency dep, which failed' })
      fail = false
      await s.requeue('dep')
      await drain()
      expect(await s.getJob('after')).toMatchObject({ status: 'finished', result: 'ran' })
      expect(await s.getJob('after')).not.toHaveProperty('error')
    })

    it('enqueue on a dependency that already failed says so at once', async () => {
      const jobs = new JobRegistry().define('dep', () => { throw new Error('x') })
      const { scheduler: s, queue, drain } = setup(jobs)
      await queue().enqueue({ name: 'dep', id: 'dep' })
      await drain()
      const after = await queue().enqueue({ name: 'dep', id: 'after', dependsOn: 'dep' })
      expect(after).toMatchObject({ status: 'deferred', error: 'waiting on dependency dep, which failed' })
      expect((await s.getJob('after'))?.status).toBe('deferred')
    })
  })

  it('onSuccess and onFailure callbacks are called with the job and the result or error', async () => {
    const calls: [string, string, unknown][] = []
    const jobs = new JobRegistry()
      .define('ok', () => 42).define('bad', () => { throw new Error('no') })
      .callback('notify', (job, outcome) => { calls.push(['notify', job.id, outcome]) })
    const { queue, drain } = setup(jobs)
    await queue().enqueue({ name: 'ok', id: 'j1', onSuccess: 'notify' })
    await queue().enqueue({ name: 'bad', id: 'j2', onFailure: 'notify' })
    await drain()
    await sleep(20)
    expect(calls).toEqual([['notify', 'j1', { result: 42 }], ['notify', 'j2', { error: 'Error: no' }]])
  })

  it('a recurring job with overlap skip gets its next run only after the previous run finished', async () => {
    const jobs = new JobRegistry().define('tick', () => 'ok')
    const { clock, scheduler: s, drain } = setup(jobs)
    await s.schedule({ at: T, everyMs: 1_000 }, { name: 'tick', id: 'r' })
    await s.tick()
    clock.now = T + 1_000
    expect((await s.tick()).skipped).toBe(1) // the first run is still queued
    await drain()
    expect(await store.admin.hget(s.keys.job('r'), 'x')).toBe('0')
    clock.now = T + 2_000
    expect((await s.tick()).dispatched).toBe(1)
    await drain()
    expect(await s.getJob(`r@${T + 2_000}`)).toMatchObject({ status: 'finished', result: 'ok' })
  })

  it('registers itself while working, and SIGTERM finishes the run in hand', async () => {
    let release!: () => void
    const started = new Promise<void>((resolve) => {
      const jobs = new JobRegistry().define('long', () => { resolve(); return new Promise<string>((r) => { release = () => r('done') }) })
      void (async () => {
        const { worker, queue } = setup(jobs)
        await queue().enqueue({ name: 'long', id: 'long' })
        const summary = await worker.work({})
        expect(summary).toEqual({ processed: 1, failed: 0 })
      })()
    })
    await started
    const names = await store.admin.zrange(`dueq:{${store.namespace}}:workers`, 0, '-1')
    expect(names).toHaveLength(1)
    process.emit('SIGTERM')
    await sleep(20)
    release()
    const s = new Scheduler({ redis: store.redis, namespace: store.namespace })
    for (let i = 0; i < 100 && (await s.getJob('long'))?.status !== 'finished'; i++) await sleep(10)
    expect(await s.getJob('long')).toMatchObject({ status: 'finished', result: 'done' })
    for (let i = 0; i < 100 && (await store.admin.zcard(`dueq:{${store.namespace}}:workers`)) > 0; i++) await sleep(10)
    expect(await store.admin.zcard(`dueq:{${store.namespace}}:workers`)).toBe(0)
  })

  it('processSqsBatch: the same run delivered twice runs the handler once', async () => {
    let runs = 0
    const jobs = new JobRegistry().define('x', () => ++runs)
    const { scheduler: s } = setup(jobs)
    await s.enqueueAt(T - 1, { name: 'x', id: 'j' })
    const sent: string[] = []
    const sqs = new Scheduler({ redis: store.redis, namespace: store.namespace, clock: () => T, target: { kind: 'sqs', sender: { send: async (_q, m) => { sent.push(...m.map((x) => x.body)); return { failed: [] } } } } })
    await sqs.tick()
    expect(sent).toHaveLength(1)
    const event = { Records: [{ messageId: 'm1', body: sent[0]! }, { messageId: 'm2', body: sent[0]! }] }
    const opts = { redis: store.redis, jobs, clock: () => T, logger: silentLogger }
    expect(await processSqsBatch(event, opts)).toEqual({ batchItemFailures: [] })
    expect(await processSqsBatch({ Records: [{ messageId: 'm3', body: sent[0]! }] }, opts)).toEqual({ batchItemFailures: [] })
    expect(runs).toBe(1)
    expect(await s.getJob('j')).toMatchObject({ status: 'finished', result: 1 })
  })

  it('processSqsBatch records the outcomes of one queue with one finish call', async () => {
    const jobs = new JobRegistry().define('ok', (d) => d)
    const { scheduler: s } = setup(jobs)
    const queue = new Queue({ redis: store.redis, namespace: store.namespace })
    for (const id of ['r1', 'r2', 'r3']) await queue.enqueue({ name: 'ok', id, data: id })
    const { scripts } = await import('../../lib/redis/scripts.ts')
    let finishCalls = 0
    const redis: RedisPort = {
      driver: store.redis.driver,
      call: (cmd) => store.redis.call(cmd),
      pipeline: (cmds) => {
        finishCalls += cmds.filter((c) => c[0] === 'EVALSHA' && c[1] === scripts.finish.sha).length
        return store.redis.pipeline(cmds)
      },
      close: async () => {},
    }
    const event = { Records: ['r1', 'r2', 'r3'].map((id) => ({ messageId: id, body: JSON.stringify({ v: 1, ns: store.namespace, run: id, q: 'default' }) })) }
    expect(await processSqsBatch(event, { redis, jobs, clock: () => T, logger: silentLogger })).toEqual({ batchItemFailures: [] })
    expect(finishCalls).toBe(1)
    for (const id of ['r1', 'r2', 'r3']) expect(await s.getJob(id)).toMatchObject({ status: 'finished', result: id })
  })

  it('processSqsBatch lists only the failed messages', async () => {
    const jobs = new JobRegistry().define('ok', () => 1).define('bad', () => { throw new Error('no') })
    const { scheduler: s } = setup(jobs)
    const body = (id: string) => JSON.stringify({ v: 1, ns: store.namespace, run: id, q: 'default' })
    await new Queue({ redis: store.redis, namespace: store.namespace }).enqueue({ name: 'ok', id: 'good' })
    await new Queue({ redis: store.redis, namespace: store.namespace }).enqueue({ name: 'bad', id: 'bad' })
    const event = { Records: [{ messageId: 'a', body: body('good') }, { messageId: 'b', body: body('bad') }, { messageId: 'c', body: 'not json' }, { messageId: 'd', body: body('unknown-run') }] }
    const r = await processSqsBatch(event, { redis: store.redis, jobs, clock: () => T, logger: silentLogger })
    expect(r.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['b', 'c'])
    expect((await s.getJob('good'))?.status).toBe('finished')
    expect((await s.getJob('bad'))?.status).toBe('failed')
    // redelivered, the failed run fails again without running: SQS moves it to the DLQ in the end
    const again = await processSqsBatch({ Records: [{ messageId: 'b2', body: body('bad') }] }, { redis: store.redis, jobs, clock: () => T, logger: silentLogger })
    expect(again.batchItemFailures).toEqual([{ itemIdentifier: 'b2' }])
  })

  it('the http handler signs its request verifiably, and a non-2xx answer is retried', async () => {
    const secret = 'shh'
    const received: { body: string; signature: string | undefined; verified: boolean }[] = []
    let status = 503
    const server = createServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (c) => { body += c })
      req.on('end', () => {
        const signature = req.headers['dueq-signature'] as string | undefined
        received.push({ body, signature, verified: verifySignature({ secret, header: signature, body }) })
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ got: JSON.parse(body) }))
        status = 200
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
      const jobs = new JobRegistry().define('http', httpJob({ secret }))
      const { clock, scheduler: s, queue, drain } = setup(jobs)
      const job = await queue().enqueue({ name: 'http', data: { url, body: { hello: 'world' } } as Json, retry: { max: 1, delaysMs: [100] } })
      await drain()
      expect(await s.getJob(job.id)).toMatchObject({ status: 'scheduled', error: expect.stringContaining('HTTP 503') })
      clock.now = T + 100
      await s.tick()
      await drain()
      expect(await s.getJob(job.id)).toMatchObject({ status: 'finished', result: { status: 200, body: { got: { hello: 'world' } } } })
      expect(received).toHaveLength(2)
      expect(received.every((r) => r.verified && r.body === '{"hello":"world"}')).toBe(true)
      expect(verifySignature({ secret: 'wrong', header: received[0]!.signature, body: received[0]!.body })).toBe(false)
      expect(verifySignature({ secret, header: received[0]!.signature, body: '{"hello":"tampered"}' })).toBe(false)
    } finally {
      server.close()
    }
  })
})
