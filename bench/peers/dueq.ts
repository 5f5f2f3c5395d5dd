// dueq on the workloads of WORKLOADS.md, over its TCP driver (ioredis) for every timed figure, and
// over the Upstash driver through the local REST bridge for W5's HTTP request count.
//
// The scheduler core (tick) is dueq's dispatcher: W2 dispatch times one tick. W2 end-to-end starts an
// idle worker first (subscribed to the ready channel), then times the tick together with the worker
// until it has completed all N. W5 dispatch counts the tick alone, as W2 dispatch times it; the
// end-to-end counts (tick + claim + finish) are reported too, as `dispatchEndToEnd`, to compare with
// BullMQ's 28 commands, which include running and completing.
import { JobRegistry, Scheduler, silentLogger, Worker, type RedisPort } from '../../lib/index.ts'
import { connect as connectStore } from '../../lib/redis/connect.ts'
import { scripts } from '../../lib/redis/scripts.ts'
import { startUpstashBridge } from '../../test/support/upstash-bridge.ts'
import { startRttProxy } from '../support/rtt-proxy.ts'
import { perSecond, summarize } from '../support/stats.ts'
import {
  W2_PAST_MS, W3_IDLE_MS, W3_LEAD_MS, W3_STOP_AFTER_MS,
  countPass, deferred, sleep, w1Offset, w1Payload, w3Due,
} from '../support/workload.ts'
import type { BenchContext, Peer, Rate, S1Result, W1aResult, W1bResult, W3Result, W5Result, W5UpstashResult } from './types.ts'

const NAMESPACE = 'bench'
const W1B_LANES = 64
const DAY_MS = 86_400_000

/** A store whose connection has been used once, with every script loaded, before any timer starts. */
async function openStore(url: string, token?: string): Promise<RedisPort> {
  const redis = token ? connectStore(url, { token }) : connectStore(url)
  await redis.call(['PING'])
  for (const s of Object.values(scripts)) await redis.call(['SCRIPT', 'LOAD', s.body])
  return redis
}

const schedulerOn = (redis: RedisPort) => new Scheduler({ redis, namespace: NAMESPACE, queue: 'default' })

function expectEqual(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`Expected ${what} to be ${want}, got ${got}`)
}

/** The W1a loop: N awaited enqueueAt calls in index order. */
async function scheduleSequential(s: Scheduler, n: number, tBase: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.enqueueAt(tBase + w1Offset(i, n), { name: 'noop', data: w1Payload(i) })
}

export async function w1a(ctx: BenchContext): Promise<W1aResult> {
  const redis = await openStore(ctx.url)
  try {
    const s = schedulerOn(redis)
    const memBefore = await ctx.admin.usedMemory()
    const tBase = Date.now()
    const t0 = performance.now()
    await scheduleSequential(s, ctx.n, tBase)
    const ms = performance.now() - t0
    const memAfter = await ctx.admin.usedMemory()
    expectEqual('the schedule size', await s.count(), ctx.n)
    return { jobsPerSec: perSecond(ctx.n, ms), bytesPerJob: (memAfter - memBefore) / ctx.n }
  } finally {
    await redis.close()
  }
}

export async function w1b(ctx: BenchContext): Promise<W1bResult> {
  const n = ctx.n
  const redis = await openStore(ctx.url)
  try {
    const s = schedulerOn(redis)
    let tBase = Date.now()
    const entries = Array.from({ length: n }, (_, i) => ({ at: tBase + w1Offset(i, n), spec: { name: 'noop', data: w1Payload(i) } }))
    let t0 = performance.now()
    await s.enqueueMany(entries)
    const bulkMs = performance.now() - t0
    expectEqual('the schedule size after enqueueMany', await s.count(), n)

    await ctx.admin.flushall()
    for (const script of Object.values(scripts)) await redis.call(['SCRIPT', 'LOAD', script.body])
    let next = 0
    const lane = async () => {
      for (let i = next++; i < n; i = next++) await s.enqueueAt(tBase + w1Offset(i, n), { name: 'noop', data: w1Payload(i) })
    }
    tBase = Date.now()
    t0 = performance.now()
    await Promise.all(Array.from({ length: W1B_LANES }, lane))
    const concurrentMs = performance.now() - t0
    expectEqual('the schedule size after 64 concurrent lanes', await s.count(), n)
    return { bulk: perSecond(n, bulkMs), concurrent64: perSecond(n, concurrentMs) }
  } finally {
    await redis.close()
  }
}

/** W2 setup: N jobs through the public API, all due ≥ 1 s before the timer starts. */
async function scheduleDue(s: Scheduler, n: number): Promise<void> {
  const due = Date.now()
  for (let start = 0; start < n; start += 1000) {
    const chunk = []
    for (let i = start; i < Math.min(n, start + 1000); i++) chunk.push({ at: due, spec: { name: 'noop', data: w1Payload(i) } })
    await s.enqueueMany(chunk)
  }
  expectEqual('the schedule size after setup', await s.count(), n)
  await sleep(Math.max(0, due + W2_PAST_MS - Date.now()))
}

export async function w2Dispatch(ctx: BenchContext): Promise<Rate> {
  const redis = await openStore(ctx.url)
  try {
    const s = schedulerOn(redis)
    await scheduleDue(s, ctx.n)
    const t0 = performance.now()
    const r = await s.tick()
    const ms = performance.now() - t0
    expectEqual('runs dispatched by the tick', r.dispatched, ctx.n)
    expectEqual('the ready queue length', Number(await redis.call(['LLEN', s.keys.ready('default')])), ctx.n)
    expectEqual('the schedule size after the tick', await s.count(), 0)
    return { jobsPerSec: perSecond(ctx.n, ms) }
  } finally {
    await redis.close()
  }
}

export async function w2EndToEnd(ctx: BenchContext, opts: { concurrency: 1 | 64 }): Promise<Rate> {
  const n = ctx.n
  const redis = await openStore(ctx.url)
  const workerRedis = await openStore(ctx.url)
  const all = deferred()
  let done = 0
  const jobs = new JobRegistry().define('noop', () => { if (++done === n) all.resolve() })
  const controller = new AbortController()
  try {
    const s = schedulerOn(redis)
    await scheduleDue(s, n)
    const worker = new Worker({ redis: workerRedis, namespace: NAMESPACE, jobs, logger: silentLogger })
    const working = worker.work({ concurrency: opts.concurrency, signal: controller.signal })
    await sleep(50) // the worker is subscribed and idle
    const t0 = performance.now()
    const r = await s.tick()
    await all.promise
    const ms = performance.now() - t0
    controller.abort()
    const summary = await working
    expectEqual('runs dispatched', r.dispatched, n)
    expectEqual('runs completed', summary.processed, n)
    expectEqual('runs failed', summary.failed, 0)
    return { jobsPerSec: perSecond(n, ms) }
  } finally {
    controller.abort()
    await Promise.all([redis.close(), workerRedis.close()])
  }
}

export async function w3(ctx: BenchContext): Promise<W3Result> {
  const n = ctx.n
  const lateness: number[] = []
  const all = deferred()
  const jobs = new JobRegistry().define('noop', (data) => {
    lateness.push(Date.now() - (data as { due: number }).due)
    if (lateness.length === n) all.resolve()
  })
  const stores = await Promise.all([openStore(ctx.url), openStore(ctx.url), openStore(ctx.url)])
  const [apiRedis, loopRedis, workerRedis] = stores
  const controller = new AbortController()
  try {
    const loop = schedulerOn(loopRedis!).run({ signal: controller.signal, intervalMs: 5_000 })
    const working = new Worker({ redis: workerRedis!, namespace: NAMESPACE, jobs, logger: silentLogger }).work({ signal: controller.signal })
    await sleep(W3_IDLE_MS)
    const api = schedulerOn(apiRedis!)
    const t0 = Date.now()
    for (let i = 0; i < n; i++) {
      const due = w3Due(t0, i)
      await api.enqueueAt(due, { name: 'noop', data: { i, due } })
    }
    const scheduleMs = Date.now() - t0
    if (scheduleMs >= W3_LEAD_MS) throw new Error(`Expected scheduling ${n} jobs to take < ${W3_LEAD_MS} ms, took ${scheduleMs}`)
    const timedOut = await Promise.race([all.promise.then(() => false), sleep(Math.max(0, t0 + W3_STOP_AFTER_MS - Date.now())).then(() => true)])
    controller.abort()
    await Promise.all([loop, working])
    if (lateness.length === 0) throw new Error('Expected at least one job to run in W3, none did')
    return { ...summarize(lateness), timedOut, recorded: lateness.length, scheduleMs }
  } finally {
    controller.abort()
    await Promise.all(stores.map((r) => r.close()))
  }
}

export async function w5(ctx: BenchContext): Promise<W5Result> {
  const proxy = await startRttProxy(ctx.port)
  const viaProxy = `redis://127.0.0.1:${proxy.port}`
  const redis = await openStore(viaProxy)
  const direct = await openStore(ctx.url)
  try {
    const s = schedulerOn(redis)
    const tBase = Date.now()
    const schedule = await countPass(ctx.admin, proxy, ctx.n, () => scheduleSequential(s, ctx.n, tBase))
    expectEqual('the schedule size', await s.count(), ctx.n)

    await ctx.admin.flushall()
    for (const script of Object.values(scripts)) await direct.call(['SCRIPT', 'LOAD', script.body])
    await scheduleDue(schedulerOn(direct), ctx.n)
    const dispatch = await countPass(ctx.admin, proxy, ctx.n, async () => {
      expectEqual('runs dispatched', (await s.tick()).dispatched, ctx.n)
    })
    return { schedule, dispatch }
  } finally {
    await Promise.all([redis.close(), direct.close()])
    await proxy.close()
  }
}

export async function s1(ctx: BenchContext, opts: { due: number }): Promise<S1Result> {
  const redis = await openStore(ctx.url)
  try {
    const s = schedulerOn(redis)
    const fill = async (count: number, at: (i: number) => number, tag: string) => {
      for (let start = 0; start < count; start += 10_000) {
        const chunk = []
        for (let i = start; i < Math.min(count, start + 10_000); i++) chunk.push({ at: at(i), spec: { name: 'noop', data: { i, s: tag } } })
        await s.enqueueMany(chunk)
      }
    }
    const timeTick = async () => {
      const t0 = performance.now()
      const r = await s.tick()
      const ms = performance.now() - t0
      expectEqual('runs dispatched by the S1 tick', r.dispatched, opts.due)
      return ms
    }
    const now = Date.now()
    const memEmpty = await ctx.admin.usedMemory()
    await fill(ctx.n, (i) => now + 60_000 + Math.floor((i * 30 * DAY_MS) / ctx.n), 'future')
    const bytesPerJob = ((await ctx.admin.usedMemory()) - memEmpty) / ctx.n
    await fill(opts.due, () => now - W2_PAST_MS, 'due')
    await s.tick({ now: now - 10 * DAY_MS }) // takes the lock; nothing is due yet
    const tickMs = await timeTick()
    expectEqual('the schedule size after the S1 tick', await s.count(), ctx.n)

    await ctx.admin.flushall()
    for (const script of Object.values(scripts)) await redis.call(['SCRIPT', 'LOAD', script.body])
    await fill(opts.due, () => now - W2_PAST_MS, 'due')
    await s.tick({ now: now - 10 * DAY_MS }) // the lock was flushed with the rest: take it again
    const baselineTickMs = await timeTick()
    return { tickMs, baselineTickMs, ratio: tickMs / baselineTickMs, bytesPerJob }
  } finally {
    await redis.close()
  }
}

export async function w5Upstash(ctx: BenchContext): Promise<W5UpstashResult> {
  const bridge = await startUpstashBridge({ redisUrl: ctx.url })
  const redis = await openStore(bridge.url, bridge.token)
  try {
    const s = schedulerOn(redis)
    const tBase = Date.now()
    bridge.resetRequests()
    await scheduleSequential(s, ctx.n, tBase)
    const schedule = { requestsPerJob: bridge.requests() / ctx.n }
    expectEqual('the schedule size', await s.count(), ctx.n)

    await ctx.admin.flushall()
    for (const script of Object.values(scripts)) await redis.call(['SCRIPT', 'LOAD', script.body])
    const direct = await openStore(ctx.url)
    try {
      await scheduleDue(schedulerOn(direct), ctx.n)
    } finally {
      await direct.close()
    }
    bridge.resetRequests()
    expectEqual('runs dispatched', (await s.tick()).dispatched, ctx.n)
    const dispatch = { requestsPerJob: bridge.requests() / ctx.n }
    return { schedule, dispatch }
  } finally {
    await redis.close()
    await bridge.close()
  }
}

// Fails the type check here if the exports drift from the contract.
const _shape: Peer = { w1a, w1b, w2Dispatch, w2EndToEnd, w3, w5, s1, w5Upstash }
