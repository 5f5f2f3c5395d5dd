/**
 * The scheduler loop. It sleeps until the earliest due time (capped by `intervalMs`) and wakes
 * early when a job becomes due sooner: by pub/sub over TCP (the `enqueue` script publishes when a
 * job becomes the earliest), by a short poll over Upstash's REST API, which has no push.
 */
import { stopSignal } from './lifecycle.ts'
import type { Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import type { SchedulerCore, TickResult } from './tick.ts'

export interface RunOptions {
  /** Longest sleep between passes, ms. Default 5,000. Standby schedulers retry the lock this often. */
  intervalMs?: number
  /** One pass, then return. */
  burst?: boolean
  /** Return before this many ms have passed (a Lambda invocation's remaining time, less a margin). */
  budgetMs?: number
  /** Stops the loop after the pass in hand. Without one, SIGINT and SIGTERM stop it. */
  signal?: AbortSignal
  /** Without pub/sub (Upstash), how often to look for newly scheduled jobs, ms. Default 1,000. */
  pollMs?: number
  /** Called after every pass. */
  onPass?: (result: TickResult) => void
  /** Called when a pass fails (e.g. Redis unreachable); the loop backs off and goes on. */
  onError?: (error: unknown) => void
}

export interface RunSummary {
  passes: number
  dispatched: number
  rescheduled: number
  failed: number
  errors: number
  stoppedBy: 'burst' | 'budget' | 'signal'
}

/** A sleep that a signal or an earlier wake-up time can cut short. */
class Sleeper {
  private timer: NodeJS.Timeout | undefined
  private resolve: (() => void) | undefined
  private wakeAt = Infinity
  /** Earliest wake-up asked for while not sleeping; consumed by the next sleep. */
  private pending = Infinity

  sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    const target = Math.min(at, this.pending)
    this.pending = Infinity
    if (signal.aborted || target <= Date.now()) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(this.timer)
        signal.removeEventListener('abort', done)
        this.resolve = undefined
        this.wakeAt = Infinity
        resolve()
      }
      this.resolve = done
      signal.addEventListener('abort', done, { once: true })
      this.arm(target)
    })
  }

  /** Wake at `at` if that is sooner than planned. */
  wake(at: number): void {
    if (!this.resolve) {
      this.pending = Math.min(this.pending, at)
      return
    }
    if (at < this.wakeAt) this.arm(at)
  }

  private arm(at: number) {
    clearTimeout(this.timer)
    this.wakeAt = at
    const done = this.resolve!
    this.timer = setTimeout(done, Math.max(0, at - Date.now()))
  }
}

export async function runLoop(core: SchedulerCore, redis: RedisPort, keys: Keys, options: RunOptions = {}): Promise<RunSummary> {
  const intervalMs = options.intervalMs ?? 5_000
  const pollMs = redis.subscribe ? Infinity : (options.pollMs ?? 1_000)
  const deadline = options.budgetMs === undefined ? Infinity : Date.now() + options.budgetMs
  const heartbeatTtlMs = Math.max(3 * intervalMs, 15_000)
  const summary: RunSummary = { passes: 0, dispatched: 0, rescheduled: 0, failed: 0, errors: 0, stoppedBy: 'burst' }

  const { signal, dispose } = stopSignal(options.signal)
  const sleeper = new Sleeper()
  const unsubscribe = redis.subscribe && !options.burst
    ? await redis.subscribe(keys.wake, (message) => { const at = Number(message); if (Number.isFinite(at)) sleeper.wake(at) })
    : undefined

  let backoffMs = 100
  let lastBeat = 0
  let born = false
  try {
    for (;;) {
      let result: TickResult | undefined
      try {
        if (!born) {
          await core.register('birth', heartbeatTtlMs)
          born = true
          lastBeat = Date.now()
        }
        result = await core.tick()
        backoffMs = 100
        summary.passes++
        summary.dispatched += result.dispatched
        summary.rescheduled += result.rescheduled
        summary.failed += result.failed
        options.onPass?.(result)
        if (Date.now() - lastBeat >= intervalMs / 2 || options.burst) {
          await core.register('beat', heartbeatTtlMs, { lastPass: JSON.stringify(result) })
          lastBeat = Date.now()
        }
      } catch (error) {
        summary.errors++
        options.onError?.(error)
      }
      if (options.burst) break
      if (signal.aborted) { summary.stoppedBy = 'signal'; break }
      const now = Date.now()
      let wakeAt: number
      if (!result) {
        wakeAt = now + backoffMs
        backoffMs = Math.min(backoffMs * 2, 5_000)
      } else {
        wakeAt = Math.min(now + intervalMs, now + pollMs)
        if (result.acquired && result.nextDueAt !== null) wakeAt = Math.min(wakeAt, result.nextDueAt)
      }
      await sleeper.sleepUntil(Math.min(wakeAt, deadline), signal)
      if (signal.aborted) { summary.stoppedBy = 'signal'; break }
      if (Date.now() >= deadline) { summary.stoppedBy = 'budget'; break }
    }
  } finally {
    dispose()
    await unsubscribe?.().catch(() => {})
    await core.release().catch(() => {})
    if (born) await core.register('death', heartbeatTtlMs).catch(() => {})
  }
  return summary
}
