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
import { hostname } from 'node:os'
import { checkQueue, invalid } from './core/job.ts'
import { consoleLogger, type JobRegistry, type Logger } from './jobs.ts'
import { keysFor, type Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { runScript, runScripts, type ScriptCall } from './redis/scripts.ts'
import {
  claimCall, execute, finishCall, jobIdOf, parseClaim, parseFinish, runCallback,
  type ClaimedRun, type Outcome,
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

interface Pending {
  run: ClaimedRun
  outcome: Outcome
  dependents?: string[]
}

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
    const concurrency = options.concurrency ?? 1
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 10_000) throw invalid('concurrency', 'a whole number from 1 to 10,000', concurrency)
    const pollMs = this.redis.subscribe ? 1_000 : (options.pollMs ?? 250)
    const deadline = options.budgetMs === undefined ? Infinity : Date.now() + options.budgetMs
    const controller = new AbortController()
    const signal = options.signal ?? controller.signal
    const stop = () => controller.abort()
    if (!options.signal) {
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    }

    const summary: WorkSummary = { processed: 0, failed: 0 }
    const running = new Map<string, { run: ClaimedRun; controller: AbortController }>()
    let pending: Pending[] = []
    const pool = new Map<string, Set<string>>(this.queues.map((q) => [q, new Set<string>()]))
    let idle = false // the last look at the queues found nothing; wait for news before looking again
    let waiter: (() => void) | null = null
    const nudge = () => { idle = false; waiter?.() }
    const wait = (ms: number) => new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); waiter = null; signal.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, ms)
      waiter = done
      signal.addEventListener('abort', done, { once: true })
    })

    const unsubscribe = this.redis.subscribe
      ? await this.redis.subscribe(this.keys.readyChannel, (message) => {
        const [queue, ...ids] = message.split('\n')
        const set = pool.get(queue ?? '')
        if (!set) return
        for (const id of ids) if (!running.has(id)) set.add(id)
        nudge()
      })
      : undefined

    const start = (run: ClaimedRun) => {
      const runController = new AbortController()
      running.set(run.runId, { run, controller: runController })
      void execute(run, this.jobs, { clock: this.clock, random: this.random, log: this.log, signal: runController.signal }).then((outcome) => {
        running.delete(run.runId)
        summary.processed++
        if (outcome.kind !== 'ok') summary.failed++
        if (outcome.kind === 'fail') this.log.warn('run failed', { run: run.runId, error: outcome.error })
        pending.push({ run, outcome })
        nudge()
      })
    }

    const maintenance = setInterval(() => void this.maintain(running).catch((e: unknown) => this.log.error('lease upkeep failed', { error: String(e) })), Math.max(50, Math.floor(this.leaseMs / 3)))
    let backoffMs = 100
    try {
      await this.register('birth', { queues: this.queues.join(','), concurrency })
      await this.requeueStalled()
      for (;;) {
        const stopping = signal.aborted || Date.now() >= deadline
        const free = stopping ? 0 : concurrency - running.size
        const finishing = pending
        pending = []
        const calls: ScriptCall[] = finishing.map((p) => finishCall(this.keys, p.run, p.outcome, this.clock(), p.dependents))
        const claims: { queue: string; candidates: string[] }[] = []
        if (free > 0) {
          let want = free
          for (const queue of this.queues) {
            const set = pool.get(queue)!
            const candidates: string[] = []
            for (const id of set) {
              if (candidates.length >= want) break
              set.delete(id)
              if (!running.has(id)) candidates.push(id)
            }
            if (candidates.length > 0) claims.push({ queue, candidates })
            want -= candidates.length
          }
          // Nothing known to claim: look at the heads of the queues (unless we just did, in vain).
          if (claims.length === 0 && !idle) for (const queue of this.queues) claims.push({ queue, candidates: [] })
        }
        if (calls.length === 0 && claims.length === 0) {
          if (running.size === 0 && (stopping || (options.burst && idle))) break
          await wait(stopping ? 50 : pollMs)
          if (!signal.aborted) idle = false // a poll: look again
          continue
        }
        const now = this.clock()
        for (const c of claims) {
          calls.push(claimCall(this.keys, c.queue, c.candidates, { now, leaseMs: this.leaseMs, worker: this.name, mode: 'list', peek: Math.max(16, concurrency) }))
        }
        let replies: unknown[]
        try {
          replies = await runScripts(this.redis, calls)
          backoffMs = 100
        } catch (error) {
          this.log.error('worker round trip failed, retrying', { error: String(error) })
          pending = [...finishing, ...pending] // outcomes are never dropped
          await wait(backoffMs)
          backoffMs = Math.min(backoffMs * 2, 5_000)
          continue
        }
        finishing.forEach((p, i) => {
          const r = parseFinish(replies[i])
          if (r.kind === 'dependents') pending.push({ ...p, dependents: r.members })
          else if (r.kind === 'lost') this.log.warn('run outcome dropped: its lease expired and it was requeued', { run: p.run.runId })
          else void runCallback(p.run, p.outcome, this.jobs, this.log)
        })
        let claimed = 0
        let peekedAny = false
        claims.forEach((c, i) => {
          const { outcomes, peeked } = parseClaim(c.queue, c.candidates, replies[finishing.length + i])
          for (const o of outcomes) if (o.kind === 'claimed') { claimed++; start(o.run) }
          const set = pool.get(c.queue)!
          for (const id of peeked) if (!running.has(id)) { set.add(id); peekedAny = true }
        })
        idle = claims.length > 0 && claimed === 0 && !peekedAny
      }
    } finally {
      clearInterval(maintenance)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      await unsubscribe?.().catch(() => {})
      await this.register('death', { processed: summary.processed, failed: summary.failed }).catch(() => {})
    }
    return summary
  }

  /** Renews the leases of the runs in hand (aborting those whose claim was lost), heartbeats, checks for stalls. */
  private async maintain(running: Map<string, { run: ClaimedRun; controller: AbortController }>): Promise<void> {
    const byQueue = new Map<string, ClaimedRun[]>()
    for (const { run } of running.values()) {
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
      for (const lost of replies.flat() as string[]) running.get(lost)?.controller.abort(new Error('lease lost: the run was requeued'))
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

  private async register(event: 'birth' | 'beat' | 'death', fields: Record<string, string | number>): Promise<void> {
    const all = event === 'birth' ? { name: this.name, host: hostname(), pid: process.pid, birth: this.clock(), ...fields } : fields
    await runScript(this.redis, 'register', [this.keys.workers, this.keys.worker(this.name)], [this.name, this.clock(), Math.max(3 * this.leaseMs, 15_000), event, ...Object.entries(all).flat()])
  }
}
