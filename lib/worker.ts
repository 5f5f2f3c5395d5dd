/**
 * The polling worker: takes runs from its queues' ready lists, runs the registered handlers and
 * records the outcomes. One round trip carries the outcomes of finished runs AND the claim of the
 * next ones (a pipeline of finish.lua calls and claim.lua). An idle worker wakes on the ready
 * channel (pub/sub over TCP; a short poll over Upstash), which names the runs just queued, so it
 * claims them at once.
 *
 * Concurrency: up to `concurrency` handlers run at once. While a run executes its lease is
 * renewed; if the worker dies the lease expires and any worker's stall check requeues the run.
 * If the worker only stalls (a long GC pause) and its run was requeued meanwhile, its claim token
 * no longer matches: its outcome is dropped by finish.lua, the handler's signal is aborted.
 */
import { checkQueue, checkWhole, invalid } from './core/job.ts'
import { consoleLogger, type JobRegistry, type Logger } from './jobs.ts'
import { registerInstance, stopSignal, type LifeEvent } from './lifecycle.ts'
import { keysFor, type Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { runScripts, type ScriptCall } from './redis/scripts.ts'
import {
  claimCall, execute, finishCalls, jobIdOf, parseClaim, parseFinish, runCallback, RunAbort,
  type ClaimedRun, type Finishing,
} from './runs.ts'
import { newInstanceName } from './tick.ts'

export interface WorkerOptions {
  redis: RedisPort
  namespace?: string
  /** Queues in priority order: a run of an earlier queue is claimed first. Default ['default']. */
  queues?: string[]
  jobs: JobRegistry
  /** Name in the worker registry. Default host.pid.random. */
  name?: string
  /** How long a claimed run stays leased without renewal, ms. Default 30,000. */
  leaseMs?: number
  /** Times a run may stall (its worker vanished) before it fails. Default 1. */
  maxStalls?: number
  clock?: () => number
  /** Source of randomness for retry jitter; tests pin it. */
  random?: () => number
  logger?: Logger
  prefix?: string
}

export interface WorkOptions {
  /** Run until the queues are empty, then return. */
  burst?: boolean
  /** Stops claiming; runs in hand finish first. Without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal
  /** Handlers running at once. Default 1. */
  concurrency?: number
  /** Stop claiming after this many ms (a Lambda invocation's remaining time, less the longest run). */
  budgetMs?: number
  /** Without pub/sub (Upstash), how often an idle worker looks for runs, ms. Default 250. */
  pollMs?: number
}

export interface WorkSummary {
  /** Runs whose handler ran. */
  processed: number
  /** Of those, runs that failed (retried or failed for good). */
  failed: number
}

/** Runs claimed ahead of the handlers must be expected to finish within this window; finished
 *  runs' outcomes wait at most this long to share a round trip with the next claim. */
const PREFETCH_WINDOW_MS = 5
const MAX_PREFETCH = 256
/** Round trips on their way at once: Redis works on one while Node handles the other's runs. */
const MAX_IN_FLIGHT = 3

type Pending = Finishing

export class Worker {
  readonly redis: RedisPort
  readonly keys: Keys
  readonly queues: string[]
  readonly name: string
  private readonly jobs: JobRegistry
  private readonly leaseMs: number
  private readonly maxStalls: number
  private readonly clock: () => number
  private readonly random: () => number
  private readonly log: Logger

  constructor(options: WorkerOptions) {
    if (!options?.redis) throw invalid('options.redis', 'a store from connect()', options?.redis)
    if (!options.jobs || typeof options.jobs.get !== 'function') throw invalid('options.jobs', 'a JobRegistry', options.jobs)
    this.redis = options.redis
    this.keys = keysFor(options.namespace ?? 'default', options.prefix)
    const queues = options.queues ?? ['default']
    if (!Array.isArray(queues) || queues.length === 0) throw invalid('options.queues', 'a non-empty array of queue names', queues)
    this.queues = queues.map((q, i) => checkQueue(q, `options.queues[${i}]`))
    this.jobs = options.jobs
    this.name = options.name ?? newInstanceName()
    this.leaseMs = options.leaseMs ?? 30_000
    this.maxStalls = options.maxStalls ?? 1
    this.clock = options.clock ?? Date.now
    this.random = options.random ?? Math.random
    this.log = options.logger ?? consoleLogger
  }

  async work(options: WorkOptions = {}): Promise<WorkSummary> {
    const concurrency = checkWhole(options.concurrency ?? 1, 1, 10_000, 'concurrency')
    const pollMs = this.redis.subscribe ? 1_000 : (options.pollMs ?? 250)
    const deadline = options.budgetMs === undefined ? Infinity : Date.now() + options.budgetMs
    const { signal, dispose } = stopSignal(options.signal)

    const summary: WorkSummary = { processed: 0, failed: 0 }
    const running = new Map<string, { run: ClaimedRun; abort: RunAbort }>()
    /** Claimed ahead, not started yet (see `prefetch`). */
    const claimed: ClaimedRun[] = []
    let pending: Pending[] = []
    let oldestPending = Infinity
    const pool = new Map<string, Set<string>>(this.queues.map((q) => [q, new Set<string>()]))
    /** Run ids claimed, being claimed or running here: never candidates again. */
    const inHand = new Set<string>()
    let idle = false // the last look at the queues found nothing; wait for news before looking again
    let avgRunMs = PREFETCH_WINDOW_MS // until measured: no claiming ahead
    let waiter: (() => void) | null = null
    const nudge = () => { waiter?.() }
    const wait = (ms: number) => new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); waiter = null; signal.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, ms)
      waiter = done
      signal.addEventListener('abort', done, { once: true })
    })
    /**
     * How many runs to hold: the handlers that may run at once, plus as many more as are expected
     * to finish within PREFETCH_WINDOW_MS. Fast runs share round trips; slow ones are never
     * claimed ahead, so they stay free for other workers.
     */
    const prefetch = () => concurrency + Math.min(MAX_PREFETCH, Math.floor(PREFETCH_WINDOW_MS / Math.max(avgRunMs, 0.01)))

    const unsubscribe = this.redis.subscribe
      ? await this.redis.subscribe(this.keys.readyChannel, (message) => {
        const [queue, ...ids] = message.split('\n')
        const set = pool.get(queue ?? '')
        if (!set) return
        for (const id of ids) if (!inHand.has(id)) set.add(id)
        idle = false
        nudge()
      })
      : undefined

    const start = (run: ClaimedRun) => {
      const abort = new RunAbort()
      running.set(run.runId, { run, abort })
      const began = performance.now()
      void execute(run, this.jobs, { clock: this.clock, random: this.random, log: this.log, abort }).then((outcome) => {
        running.delete(run.runId)
        inHand.delete(run.runId)
        avgRunMs = 0.8 * avgRunMs + 0.2 * (performance.now() - began)
        summary.processed++
        if (outcome.kind !== 'ok') summary.failed++
        if (outcome.kind === 'fail') this.log.warn('run failed', { run: run.runId, error: outcome.error })
        if (pending.length === 0) oldestPending = performance.now()
        pending.push({ run, outcome })
        nudge()
      })
    }

    const maintenance = setInterval(() => void this.maintain(running, claimed).catch((e: unknown) => this.log.error('lease upkeep failed', { error: String(e) })), Math.max(50, Math.floor(this.leaseMs / 3)))
    let backoffMs = 100
    let backoffUntil = 0
    let claims = 0
    let inflight = 0
    /** Candidates whose claim is on its way: they count against `prefetch`. */
    let claiming = 0

    /**
     * One round trip: the outcomes in `finishing` and the claims in `requests`. Up to
     * MAX_IN_FLIGHT go at once, so Redis runs one while Node handles the other's runs.
     */
    const roundTrip = async (finishing: Pending[], requests: { queue: string; candidates: string[] }[]) => {
      const now = this.clock()
      const { calls, groups } = finishCalls(this.keys, finishing, now)
      for (const r of requests) {
        calls.push(claimCall(this.keys, r.queue, r.candidates, { now, leaseMs: this.leaseMs, worker: this.name, mode: 'list', peek: Math.max(16, prefetch()), token: `${this.name}:${++claims}` }))
      }
      let replies: unknown[]
      try {
        replies = await runScripts(this.redis, calls)
        backoffMs = 100
      } catch (error) {
        this.log.error('worker round trip failed, retrying', { error: String(error) })
        for (const r of requests) for (const id of r.candidates) inHand.delete(id)
        if (pending.length === 0 && finishing.length > 0) oldestPending = performance.now()
        pending = [...finishing, ...pending] // outcomes are never dropped
        backoffUntil = performance.now() + backoffMs
        backoffMs = Math.min(backoffMs * 2, 5_000)
        return
      }
      groups.forEach((group, i) => {
        parseFinish(replies[i]).forEach((r, j) => {
          const p = group[j]!
          if (r.kind === 'dependents') {
            if (pending.length === 0) oldestPending = performance.now()
            pending.push({ ...p, dependents: r.members })
          } else if (r.kind === 'lost') this.log.warn('run outcome dropped: its lease expired and it was requeued', { run: p.run.runId })
          else void runCallback(p.run, p.outcome, this.jobs, this.log)
        })
      })
      let got = 0
      let peekedAny = false
      requests.forEach((r, i) => {
        const { outcomes, peeked } = parseClaim(r.queue, r.candidates, replies[groups.length + i])
        for (const o of outcomes) {
          if (o.kind === 'claimed') { got++; claimed.push(o.run) } else inHand.delete(o.runId)
        }
        const set = pool.get(r.queue)!
        for (const id of peeked) if (!inHand.has(id)) { set.add(id); peekedAny = true }
      })
      if (requests.length > 0) idle = got === 0 && !peekedAny && claimed.length === 0
      // Finishing can queue runs (released dependents) after this round trip's peek: look again.
      else if (finishing.length > 0) idle = false
    }

    try {
      await this.register('birth', { queues: this.queues.join(','), concurrency })
      await this.requeueStalled()
      for (;;) {
        const stopping = signal.aborted || Date.now() >= deadline
        while (!stopping && claimed.length > 0 && running.size < concurrency) start(claimed.shift()!)
        const requests: { queue: string; candidates: string[] }[] = []
        let flush = false
        if (inflight < MAX_IN_FLIGHT && performance.now() >= backoffUntil) {
          const want = stopping ? 0 : prefetch() - running.size - claimed.length - claiming
          // Outcomes go out with the next claim; alone only when nothing is left to claim ahead
          // with, or when the oldest has waited PREFETCH_WINDOW_MS.
          flush = pending.length > 0 && ((claimed.length === 0 && inflight === 0) || stopping || performance.now() - oldestPending >= PREFETCH_WINDOW_MS)
          if (want > 0 && (claimed.length === 0 || want >= prefetch() / 4)) {
            let left = want
            for (const queue of this.queues) {
              const set = pool.get(queue)!
              const candidates: string[] = []
              for (const id of set) {
                if (candidates.length >= left) break
                set.delete(id)
                if (!inHand.has(id)) { inHand.add(id); candidates.push(id) }
              }
              if (candidates.length > 0) requests.push({ queue, candidates })
              left -= candidates.length
            }
            // Nothing known to claim: look at the heads of the queues (unless we just did, in
            // vain, or a claim on its way will bring a fresh look).
            if (requests.length === 0 && !idle && inflight === 0) for (const queue of this.queues) requests.push({ queue, candidates: [] })
          }
        }
        if (requests.length > 0 || flush) {
          const finishing = pending
          pending = []
          oldestPending = Infinity
          const count = requests.reduce((n, r) => n + r.candidates.length, 0)
          inflight++
          claiming += count
          void roundTrip(finishing, requests).finally(() => {
            inflight--
            claiming -= count
            nudge()
          })
          continue
        }
        if (inflight === 0 && running.size === 0 && claimed.length === 0 && pending.length === 0 && (stopping || (options.burst && idle))) break
        const busy = inflight > 0 || running.size > 0 || claimed.length > 0 || pending.length > 0
        await wait(busy ? PREFETCH_WINDOW_MS : stopping ? 50 : pollMs)
        if (!signal.aborted && !busy) idle = false // a poll: look again
      }
    } finally {
      clearInterval(maintenance)
      dispose()
      await unsubscribe?.().catch(() => {})
      await this.register('death', { processed: summary.processed, failed: summary.failed }).catch(() => {})
    }
    return summary
  }

  /** Renews the leases of the runs in hand (aborting those whose claim was lost), heartbeats, checks for stalls. */
  private async maintain(running: Map<string, { run: ClaimedRun; abort: RunAbort }>, claimed: ClaimedRun[]): Promise<void> {
    const byQueue = new Map<string, ClaimedRun[]>()
    for (const run of [...[...running.values()].map((r) => r.run), ...claimed]) {
      const list = byQueue.get(run.queue) ?? []
      list.push(run)
      byQueue.set(run.queue, list)
    }
    const calls: ScriptCall[] = [...byQueue].map(([queue, runs]) => ({
      script: 'renew',
      keys: [this.keys.started(queue), ...runs.map((r) => this.keys.job(r.runId))],
      args: [this.clock() + this.leaseMs, ...runs.flatMap((r) => [r.runId, r.token])],
    }))
    if (calls.length > 0) {
      const replies = await runScripts(this.redis, calls)
      for (const lost of replies.flat() as string[]) running.get(lost)?.abort.abort(new Error('lease lost: the run was requeued'))
    }
    await this.register('beat', { running: running.size })
    await this.requeueStalled()
  }

  /** Runs of our queues whose lease expired go back to ready (or to failed after too many stalls). */
  async requeueStalled(): Promise<{ requeued: number; failed: number }> {
    const now = this.clock()
    const expired = (await this.redis.pipeline(this.queues.map((q) => ['ZRANGEBYSCORE', this.keys.started(q), '-inf', `(${now}`, 'LIMIT', 0, 100]))) as string[][]
    const calls: ScriptCall[] = []
    this.queues.forEach((queue, i) => {
      const ids = expired[i]
      if (!Array.isArray(ids) || ids.length === 0) return
      calls.push({
        script: 'requeue_stalled',
        keys: [this.keys.started(queue), this.keys.ready(queue), this.keys.failed(queue), ...ids.flatMap((id) => [this.keys.job(id), this.keys.job(jobIdOf(id))])],
        args: [now, this.maxStalls, this.keys.readyChannel, queue, ...ids],
      })
    })
    const total = { requeued: 0, failed: 0 }
    if (calls.length === 0) return total
    for (const reply of await runScripts(this.redis, calls)) {
      const [requeued, failed] = reply as [number, number]
      total.requeued += requeued
      total.failed += failed
    }
    if (total.requeued + total.failed > 0) this.log.warn('stalled runs found', total)
    return total
  }

  private register(event: LifeEvent, fields: Record<string, string | number>): Promise<void> {
    return registerInstance(this.redis, this.keys.workers, this.keys.worker(this.name), this.name, { event, now: this.clock(), ttlMs: Math.max(3 * this.leaseMs, 15_000), fields })
  }
}
