// BullMQ 6.7 on the workloads of WORKLOADS.md: the reference every dueq figure is divided by.
//
// BullMQ has no "run at time t" call: a job is added with `delay` = due − Date.now(), computed right
// before each call, and sits in the `bull:<queue>:delayed` sorted set until a Worker promotes it
// (moveToActive promotes up to 1000 due jobs per fetch). So the Worker is BullMQ's scheduler loop, and
// its dispatch cannot be timed apart from a running worker.
//
// Connections: we pass ioredis instances (not options) so every socket is made by ctx.connect and can
// be pointed at the RTT proxy; BullMQ leaves a passed instance open (we close it) and duplicates it for
// a Worker's blocking connection (BullMQ closes that one).
import { Queue, Worker, type Job } from 'bullmq'
import type { BenchContext, Peer, PassCounts, Rate, W1aResult, W1bResult, W3Result, W5Result } from './types.ts'
import { startRttProxy } from '../support/rtt-proxy.ts'
import { perSecond, summarize } from '../support/stats.ts'
import {
  W2_PAST_MS, W3_IDLE_MS, W3_LEAD_MS, W3_STOP_AFTER_MS,
  countPass, deferred, sleep, w1Offset, w1Payload, w3Due, waitFor, withTimeout,
} from '../support/workload.ts'

const QUEUE = 'bench'
const DELAYED_KEY = `bull:${QUEUE}:delayed`
/** W2 setup adds jobs in chunks of this many (WORKLOADS.md). */
const SETUP_CHUNK = 1000
const W1B_LANES = 64

type Processor = (job: Job) => Promise<void>

/** The W1/W2 handler. */
async function noop(): Promise<void> {}

// ---- connections ---------------------------------------------------------------------------------

/** Closing is called both on the happy path (to finish a worker before checking counts) and in
 *  `finally`; the second call must be a no-op, not a "Connection is closed" error. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}

interface OpenQueue {
  queue: Queue
  close(): Promise<void>
}

async function openQueue(ctx: BenchContext, port = ctx.port): Promise<OpenQueue> {
  const connection = ctx.connect(port)
  const queue = new Queue(QUEUE, { connection })
  await queue.waitUntilReady() // connects, checks the version (INFO): the connection's first use
  await connection.ping()
  return {
    queue,
    close: once(async () => {
      await queue.close()
      await connection.quit()
    }),
  }
}

interface OpenWorker {
  worker: Worker
  /** Errors the worker emitted ('error', 'failed'); a noop never fails, so any is a broken run. */
  errors: unknown[]
  close(): Promise<void>
}

/** A ready Worker. With autorun false the caller starts it with worker.run() (W2's timer start). */
async function openWorker(ctx: BenchContext, processor: Processor, opts: { autorun: boolean; concurrency?: number; port?: number }): Promise<OpenWorker> {
  const connection = ctx.connect(opts.port ?? ctx.port)
  const worker = new Worker(QUEUE, processor, {
    connection,
    autorun: opts.autorun,
    ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
  })
  const errors: unknown[] = []
  worker.on('error', (e) => errors.push(e))
  worker.on('failed', (_job, e) => errors.push(e))
  await worker.waitUntilReady() // both the shared and the duplicated blocking connection are up
  await connection.ping()
  return {
    worker,
    errors,
    close: once(async () => {
      await worker.close()
      await connection.quit()
    }),
  }
}

function expectNoErrors(w: OpenWorker): void {
  if (w.errors.length > 0) throw new Error(`Expected the BullMQ worker to run without errors, got ${w.errors.length}: ${String(w.errors[0])}`)
}

function expectEqual(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`Expected ${what} to be ${want}, got ${got}`)
}

async function expectDelayed(ctx: BenchContext, want: number): Promise<void> {
  expectEqual(`ZCARD ${DELAYED_KEY}`, await ctx.admin.client.zcard(DELAYED_KEY), want)
}

// ---- W1 --------------------------------------------------------------------------------------------

/** BullMQ's "schedule one job at time t": the delay is computed right before the call (WORKLOADS.md). */
function addAt(queue: Queue, data: object, due: number): Promise<unknown> {
  return queue.add('noop', data, { delay: due - Date.now() })
}

/** The W1a loop: N awaited adds in index order. */
async function scheduleSequential(queue: Queue, n: number, tBase: number): Promise<void> {
  for (let i = 0; i < n; i++) await addAt(queue, w1Payload(i), tBase + w1Offset(i, n))
}

export async function w1a(ctx: BenchContext): Promise<W1aResult> {
  const { queue, close } = await openQueue(ctx)
  try {
    const memBefore = await ctx.admin.usedMemory()
    const tBase = Date.now()
    const t0 = performance.now()
    await scheduleSequential(queue, ctx.n, tBase)
    const ms = performance.now() - t0
    const memAfter = await ctx.admin.usedMemory()
    await expectDelayed(ctx, ctx.n)
    return { jobsPerSec: perSecond(ctx.n, ms), bytesPerJob: (memAfter - memBefore) / ctx.n }
  } finally {
    await close()
  }
}

export async function w1b(ctx: BenchContext): Promise<W1bResult> {
  const n = ctx.n
  const { queue, close } = await openQueue(ctx)
  try {
    // addBulk: one call, so "right before the call" is one Date.now() for all N delays. Building the
    // array is outside the timer, which starts just before the call.
    let tBase = Date.now()
    const now = Date.now()
    const jobs = Array.from({ length: n }, (_, i) => ({ name: 'noop', data: w1Payload(i), opts: { delay: tBase + w1Offset(i, n) - now } }))
    let t0 = performance.now()
    await queue.addBulk(jobs)
    const bulkMs = performance.now() - t0
    await expectDelayed(ctx, n)

    await ctx.admin.flushall()
    // 64 lanes each take the next index, so calls still start in index order, 64 in flight.
    let next = 0
    const lane = async () => {
      for (let i = next++; i < n; i = next++) await addAt(queue, w1Payload(i), tBase + w1Offset(i, n))
    }
    tBase = Date.now()
    t0 = performance.now()
    await Promise.all(Array.from({ length: W1B_LANES }, lane))
    const concurrentMs = performance.now() - t0
    await expectDelayed(ctx, n)

    return { bulk: perSecond(n, bulkMs), concurrent64: perSecond(n, concurrentMs) }
  } finally {
    await close()
  }
}

// ---- W2 --------------------------------------------------------------------------------------------

/** W2 setup: N jobs with `delay: 1` (BullMQ takes no past time) in addBulk chunks of 1000, then a wait
 *  until every due time is ≥ 1 s in the past. */
async function scheduleDue(ctx: BenchContext, queue: Queue): Promise<void> {
  const n = ctx.n
  let lastCallEnd = 0
  for (let start = 0; start < n; start += SETUP_CHUNK) {
    const jobs = []
    for (let i = start; i < Math.min(n, start + SETUP_CHUNK); i++) jobs.push({ name: 'noop', data: w1Payload(i), opts: { delay: 1 } })
    await queue.addBulk(jobs)
    lastCallEnd = Date.now()
  }
  await expectDelayed(ctx, n)
  // A job's due time is its creation time (≤ lastCallEnd) + 1 ms.
  await sleep(Math.max(0, lastCallEnd + 1 + W2_PAST_MS - Date.now()))
}

/** Resolves when `worker` has emitted 'completed' n times. */
function completions(worker: Worker, n: number): Promise<void> {
  const all = deferred()
  let done = 0
  worker.on('completed', () => {
    if (++done === n) all.resolve()
  })
  return all.promise
}

export async function w2Dispatch(ctx: BenchContext): Promise<Rate> {
  const q = await openQueue(ctx)
  const w = await openWorker(ctx, noop, { autorun: false })
  const poll = ctx.connect()
  try {
    await scheduleDue(ctx, q.queue)
    await poll.ping()
    const t0 = performance.now()
    const running = w.worker.run().catch((e: unknown) => { w.errors.push(e) })
    await waitFor('BullMQ to empty the delayed set', async () => (await poll.zcard(DELAYED_KEY)) === 0, { intervalMs: 2 })
    const ms = performance.now() - t0
    expectNoErrors(w)
    await w.close()
    await running
    // Every job is somewhere past "delayed", and none failed.
    const counts = await q.queue.getJobCounts('delayed', 'wait', 'active', 'completed', 'failed', 'prioritized', 'waiting-children')
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    expectEqual('jobs after dispatch', total, ctx.n)
    expectEqual('failed jobs', counts.failed ?? 0, 0)
    return { jobsPerSec: perSecond(ctx.n, ms) }
  } finally {
    poll.disconnect()
    await w.close()
    await q.close()
  }
}

export async function w2EndToEnd(ctx: BenchContext, opts: { concurrency: 1 | 64 }): Promise<Rate> {
  const q = await openQueue(ctx)
  const w = await openWorker(ctx, noop, { autorun: false, concurrency: opts.concurrency })
  try {
    await scheduleDue(ctx, q.queue)
    const done = completions(w.worker, ctx.n)
    const t0 = performance.now()
    const running = w.worker.run().catch((e: unknown) => { w.errors.push(e) })
    await withTimeout(`BullMQ to complete ${ctx.n} jobs`, done)
    const ms = performance.now() - t0
    expectNoErrors(w)
    await w.close()
    await running
    const counts = await q.queue.getJobCounts('completed', 'failed', 'delayed')
    expectEqual('completed jobs', counts.completed ?? 0, ctx.n)
    return { jobsPerSec: perSecond(ctx.n, ms) }
  } finally {
    await w.close()
    await q.close()
  }
}

// ---- W3 --------------------------------------------------------------------------------------------

export async function w3(ctx: BenchContext): Promise<W3Result> {
  const n = ctx.n
  const lateness: number[] = []
  const all = deferred()
  const q = await openQueue(ctx)
  // The worker IS BullMQ's scheduler loop; started first (autorun) and left idle.
  const w = await openWorker(ctx, async function noop(job: Job) {
    lateness.push(Date.now() - (job.data as { due: number }).due) // first act
    if (lateness.length === n) all.resolve()
  }, { autorun: true })
  try {
    await sleep(W3_IDLE_MS)
    const t0 = Date.now()
    for (let i = 0; i < n; i++) {
      const due = w3Due(t0, i)
      await addAt(q.queue, { i, due }, due)
    }
    const scheduleMs = Date.now() - t0
    if (scheduleMs >= W3_LEAD_MS) throw new Error(`Expected W3 scheduling to take < ${W3_LEAD_MS} ms, got ${scheduleMs} ms`)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all.promise, new Promise<void>((r) => { timer = setTimeout(r, Math.max(0, t0 + W3_STOP_AFTER_MS - Date.now())) })])
    clearTimeout(timer)
    expectNoErrors(w)
    if (lateness.length === 0) throw new Error('Expected at least one W3 job to run, got none')
    return { ...summarize(lateness), timedOut: lateness.length < n, recorded: lateness.length, scheduleMs }
  } finally {
    await w.close()
    await q.close()
  }
}

// ---- W5 --------------------------------------------------------------------------------------------

export async function w5(ctx: BenchContext): Promise<W5Result> {
  const n = ctx.n
  const proxy = await startRttProxy(ctx.port)
  try {
    // Schedule: the W1a loop through the proxy.
    let schedule: PassCounts
    {
      const q = await openQueue(ctx, proxy.port)
      try {
        const tBase = Date.now()
        schedule = await countPass(ctx.admin, proxy, n, () => scheduleSequential(q.queue, n, tBase))
        await expectDelayed(ctx, n)
      } finally {
        await q.close()
      }
    }

    // Dispatch: setup on a direct connection (not counted), then the worker through the proxy from
    // run() until N completed (concurrency 1, the W2 headline).
    await ctx.admin.flushall()
    let dispatch: PassCounts
    {
      const q = await openQueue(ctx)
      const w = await openWorker(ctx, noop, { autorun: false, port: proxy.port })
      try {
        await scheduleDue(ctx, q.queue)
        const done = completions(w.worker, n)
        let running: Promise<void> | undefined
        dispatch = await countPass(ctx.admin, proxy, n, async () => {
          running = w.worker.run().catch((e: unknown) => { w.errors.push(e) })
          await withTimeout(`BullMQ to complete ${n} jobs`, done)
        })
        expectNoErrors(w)
        await w.close()
        await running
        expectEqual('completed jobs', (await q.queue.getJobCounts('completed')).completed ?? 0, n)
      } finally {
        await w.close()
        await q.close()
      }
    }
    return { schedule, dispatch }
  } finally {
    await proxy.close()
  }
}

// Checked here, not only in run.ts, so a drift in this file's exports fails the type check at its source.
const _shape: Peer = { w1a, w1b, w2Dispatch, w2EndToEnd, w3, w5 }
