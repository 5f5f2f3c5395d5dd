import { describe, expect, it } from 'vitest'
import { Scheduler, type JobSpec } from '../../lib/index.ts'
import type { Command, RedisPort } from '../../lib/redis/port.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const spec: JobSpec = { name: 'noop' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return true
    await sleep(5)
  }
  return false
}

describe.each(DRIVERS)('scheduler loop (run) on the %s driver', (driver) => {
  const store = useStore(driver)
  const make = (redis: RedisPort = store.redis) => new Scheduler({ redis, namespace: store.namespace })

  it('burst does one pass and records birth, heartbeat and death in the registry', async () => {
    const s = make()
    await s.enqueueAt(Date.now() - 1, spec)
    const summary = await s.run({ burst: true })
    expect(summary).toMatchObject({ passes: 1, dispatched: 1, stoppedBy: 'burst', errors: 0 })
    expect(await s.instances()).toEqual([])
    expect(await store.admin.exists(s.keys.lock)).toBe(0)
  })

  it('lists itself as a live instance while it runs, with its last pass', async () => {
    const s = make()
    const controller = new AbortController()
    const running = s.run({ signal: controller.signal, intervalMs: 50, pollMs: 50 })
    expect(await until(async () => (await s.instances()).some((i) => i.lastPass !== null), 3_000)).toBe(true)
    const [instance] = await s.instances()
    expect(instance).toMatchObject({ name: s.core.o.name, pid: process.pid })
    expect(instance!.lastPass).toMatchObject({ acquired: true })
    controller.abort()
    expect((await running).stoppedBy).toBe('signal')
    expect(await s.instances()).toEqual([])
  })

  it('wakes for a job scheduled sooner than its next planned pass', async () => {
    const s = make()
    const controller = new AbortController()
    // An hour-long interval: only the wake-up (pub/sub, or the short poll on Upstash) can start the job.
    const running = s.run({ signal: controller.signal, intervalMs: 3_600_000, pollMs: 50 })
    await sleep(200)
    const due = Date.now() + 100
    const job = await s.enqueueAt(due, spec)
    const queued = await until(async () => (await store.admin.lrange(s.keys.ready('default'), 0, -1)).includes(job.id), 5_000)
    const seenAt = Date.now()
    controller.abort()
    await running
    expect(queued).toBe(true)
    expect(seenAt).toBeGreaterThanOrEqual(due) // never early
  })

  it('budgetMs bounds the loop, and jobs due within it are dispatched', async () => {
    const s = make()
    const job = await s.enqueueAt(Date.now() + 150, spec)
    const started = Date.now()
    const summary = await s.run({ budgetMs: 400, intervalMs: 1_000, pollMs: 50 })
    expect(summary.stoppedBy).toBe('budget')
    expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    expect(await store.admin.lrange(s.keys.ready('default'), 0, -1)).toEqual([job.id])
  })

  it('SIGTERM finishes the pass in hand, releases the lock and registers death', async () => {
    const s = make()
    const running = s.run({ intervalMs: 50, pollMs: 50 })
    expect(await until(async () => (await store.admin.get(s.keys.lock)) === s.core.token, 3_000)).toBe(true)
    process.emit('SIGTERM')
    const summary = await running
    expect(summary.stoppedBy).toBe('signal')
    expect(await store.admin.exists(s.keys.lock)).toBe(0)
    expect(await store.admin.zcard(s.keys.schedulers)).toBe(0)
    expect(await store.admin.hget(s.keys.scheduler(s.core.o.name), 'death')).not.toBeNull()
  })

  it('a dropped Redis connection is retried with backoff; the loop stays alive', async () => {
    let failures = 4
    const flaky: RedisPort = {
      driver: store.redis.driver,
      call: (cmd: Command) => (failures-- > 0 ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) : store.redis.call(cmd)),
      pipeline: (cmds) => store.redis.pipeline(cmds),
      close: async () => {},
    }
    const s = make(flaky)
    const job = await new Scheduler({ redis: store.redis, namespace: store.namespace }).enqueueAt(Date.now() - 1, spec)
    const errors: unknown[] = []
    // Birth registration fails too: run must not give up on it.
    const summary = await s.run({ budgetMs: 2_000, intervalMs: 50, pollMs: 50, onError: (e) => errors.push(e) }).catch((e: unknown) => e)
    expect(summary).toMatchObject({ stoppedBy: 'budget' })
    expect(errors.length).toBeGreaterThan(0)
    expect(await store.admin.lrange(s.keys.ready('default'), 0, -1)).toEqual([job.id])
  })
})
