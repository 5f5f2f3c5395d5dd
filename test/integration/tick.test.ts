import { describe, expect, it } from 'vitest'
import { Scheduler, type JobSpec, type SqsSender } from '../../lib/index.ts'
import type { Command, RedisPort } from '../../lib/redis/port.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const T = Date.parse('2030-01-01T12:00:00.000Z')
const NY = 'America/New_York'
const spec: JobSpec = { name: 'noop', data: { x: 1 } }

describe.each(DRIVERS)('scheduler core (tick) on the %s driver', (driver) => {
  const store = useStore(driver)
  const make = (extra: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}) =>
    new Scheduler({ redis: store.redis, namespace: store.namespace, clock: () => T, ...extra })
  const ready = (s: Scheduler, q = 'default') => store.admin.lrange(s.keys.ready(q), 0, -1)

  it('moves every job due at now to its queue, in due order, and nothing early', async () => {
    const s = make()
    await s.enqueueAt(T - 5, { ...spec, id: 'b' })
    await s.enqueueAt(T - 10, { ...spec, id: 'a' })
    await s.enqueueAt(T, { ...spec, id: 'c' })
    await s.enqueueAt(T + 1, { ...spec, id: 'later' })
    await s.enqueueAt(T - 1, { ...spec, id: 'other-q', queue: 'emails' })
    const r = await s.tick({ now: T })
    expect(r).toMatchObject({ acquired: true, dispatched: 4, rescheduled: 0, failed: 0, nextDueAt: T + 1 })
    expect(await ready(s)).toEqual(['a', 'b', 'c'])
    expect(await ready(s, 'emails')).toEqual(['other-q'])
    expect(await s.has('later')).toBe(true)
    expect((await s.getJob('a'))?.status).toBe('queued')
    expect((await s.getJob('a'))?.at).toBeNull()
  })

  it('honours atFront', async () => {
    const s = make()
    await s.enqueueAt(T - 3, { ...spec, id: 'first' })
    await s.tick({ now: T })
    await s.enqueueAt(T - 2, { ...spec, id: 'urgent-1', atFront: true })
    await s.enqueueAt(T - 1, { ...spec, id: 'urgent-2', atFront: true })
    await s.enqueueAt(T - 1, { ...spec, id: 'normal' })
    await s.tick({ now: T })
    expect(await ready(s)).toEqual(['urgent-1', 'urgent-2', 'first', 'normal'])
  })

  it('costs at most two round trips per batch', async () => {
    const s = make({ batchSize: 1000 })
    // On a named queue every entry is planned and written by `dispatch`.
    await s.enqueueMany(Array.from({ length: 2500 }, (_, i) => ({ at: T - 1 - i, spec: { name: 'noop', data: { i }, queue: 'emails' } })))
    await s.tick({ now: T - 1_000_000 }) // takes the lock and loads the scripts: nothing is due yet
    const rt = store.redis.roundTrips
    const r = await s.tick({ now: T })
    expect(r.dispatched).toBe(2500)
    expect(r.batches).toBe(3)
    expect(store.redis.roundTrips - rt).toBeLessThanOrEqual(2 * 3)
    expect(await store.admin.llen(s.keys.ready('emails'))).toBe(2500)
  })

  it('plain jobs cost one round trip per four batches', async () => {
    const s = make({ batchSize: 1000 })
    const jobs = await s.enqueueMany(Array.from({ length: 6000 }, (_, i) => ({ at: T - 1 - i, spec: { name: 'noop', data: { i } } })))
    await s.tick({ now: T - 1_000_000 })
    const rt = store.redis.roundTrips
    const r = await s.tick({ now: T })
    expect(r).toMatchObject({ dispatched: 6000, batches: 2, stale: 0, nextDueAt: null })
    expect(store.redis.roundTrips - rt).toBe(2)
    // Earliest due first (the last one enqueued), each exactly once.
    expect(await store.admin.lrange(s.keys.ready('default'), 0, -1)).toEqual(jobs.map((j) => j.id).reverse())
    expect(await s.count()).toBe(0)
  })

  describe('recurring jobs', () => {
    it('every-N is anchored on its slots, not on when the pass ran', async () => {
      const s = make()
      await s.schedule({ at: T, everyMs: 10_000 }, { ...spec, id: 'e', overlap: 'allow' })
      await s.tick({ now: T + 3_000 }) // 3 s late
      expect((await s.getJob('e'))?.at).toEqual(new Date(T + 10_000))
      await s.tick({ now: T + 10_001 })
      expect((await s.getJob('e'))?.at).toEqual(new Date(T + 20_000))
      expect(await ready(s)).toEqual([`e@${T}`, `e@${T + 10_000}`])
    })

    it.each([
      ['coalesce', [T], T + 40_000],
      ['skip', [], T + 40_000],
      ['all', [T, T + 10_000, T + 20_000, T + 30_000], T + 40_000],
    ] as const)('after downtime, misfire %s', async (misfire, runs, next) => {
      const s = make()
      await s.schedule({ at: T, everyMs: 10_000 }, { ...spec, id: 'm', misfire, overlap: 'allow' })
      const r = await s.tick({ now: T + 35_000 })
      expect(await ready(s)).toEqual(runs.map((slot) => `m@${slot}`))
      expect(r.dispatched).toBe(runs.length)
      expect((await s.getJob('m'))?.at).toEqual(new Date(next))
    })

    it('each run is its own record: a still-queued run never collides with the next', async () => {
      const s = make()
      await s.schedule({ at: T, everyMs: 1_000 }, { name: 'report', data: { k: 'v' }, id: 'r', overlap: 'allow', meta: { who: 'me' } })
      await s.tick({ now: T })
      await s.tick({ now: T + 1_000 })
      expect(await ready(s)).toEqual([`r@${T}`, `r@${T + 1_000}`])
      const run = await s.getJob(`r@${T}`)
      expect(run).toMatchObject({ name: 'report', data: { k: 'v' }, status: 'queued', meta: { who: 'me' } })
      expect(await store.admin.hget(s.keys.job('r'), 'x')).toBe('2')
    })

    it('repeat counts down to the last run, then the schedule ends', async () => {
      const s = make()
      await s.schedule({ at: T, everyMs: 1_000, repeat: 3 }, { ...spec, id: 'k', overlap: 'allow' })
      for (let i = 0; i < 5; i++) await s.tick({ now: T + i * 1_000 })
      expect(await ready(s)).toEqual([`k@${T}`, `k@${T + 1_000}`, `k@${T + 2_000}`])
      expect(await s.has('k')).toBe(false)
      expect(await store.admin.hexists(s.keys.recurring, 'k')).toBe(0)
      expect((await s.getJob('k'))?.status).toBe('finished')
    })

    it('overlap skip: no new run while the previous one is queued; allow queues it', async () => {
      const s = make()
      await s.schedule({ at: T, everyMs: 1_000 }, { ...spec, id: 'skip' })
      await s.schedule({ at: T, everyMs: 1_000 }, { ...spec, id: 'allow', overlap: 'allow' })
      await s.tick({ now: T })
      const r = await s.tick({ now: T + 1_000 })
      expect(r.skipped).toBe(1)
      expect(await ready(s)).toEqual([`allow@${T}`, `skip@${T}`, `allow@${T + 1_000}`]) // same slot: id order
      expect((await s.getJob('skip'))?.at).toEqual(new Date(T + 2_000))
    })

    it('cron across spring-forward and fall-back in New York: one run per matching wall-clock time', async () => {
      // Every 30 minutes from Saturday through the spring-forward Sunday, ticking every 5 minutes.
      const start = Date.parse('2026-03-08T04:00:00Z') // 23:00 EST on the 7th
      const s = new Scheduler({ redis: store.redis, namespace: store.namespace, clock: () => start })
      await s.cron('*/30 * * * *', { ...spec, id: 'c', overlap: 'allow' }, { tz: NY })
      for (let t = start; t <= Date.parse('2026-03-08T09:00:00Z'); t += 5 * 60_000) await s.tick({ now: t })
      const slots = (await ready(s)).map((id) => new Date(Number(id.split('@')[1])).toISOString())
      expect(slots).toEqual([
        '2026-03-08T04:30:00.000Z', '2026-03-08T05:00:00.000Z', '2026-03-08T05:30:00.000Z', // 23:30, 00:00, 00:30 EST
        '2026-03-08T06:00:00.000Z', '2026-03-08T06:30:00.000Z', // 01:00, 01:30 EST
        '2026-03-08T07:00:00.000Z', // 02:00 and 02:30 do not exist: one run at 03:00 EDT
        '2026-03-08T07:30:00.000Z', '2026-03-08T08:00:00.000Z', '2026-03-08T08:30:00.000Z', '2026-03-08T09:00:00.000Z',
      ])
    })

    it('cron at fall-back in New York runs the repeated hour once', async () => {
      const start = Date.parse('2026-11-01T04:10:00Z') // 00:10 EDT
      const s = new Scheduler({ redis: store.redis, namespace: store.namespace, clock: () => start })
      await s.cron('0,30 1 * * *', { ...spec, id: 'f', overlap: 'allow' }, { tz: NY })
      for (let t = start; t <= Date.parse('2026-11-01T08:00:00Z'); t += 5 * 60_000) await s.tick({ now: t })
      const slots = (await ready(s)).map((id) => new Date(Number(id.split('@')[1])).toISOString())
      expect(slots).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z']) // 01:00 and 01:30 EDT only
      expect((await s.getJob('f'))?.at?.toISOString()).toBe('2026-11-02T06:00:00.000Z') // 01:00 EST next day
    })
  })

  describe('the lock', () => {
    it('a second scheduler is not acquired, as a normal result', async () => {
      const a = make()
      const b = make()
      await a.enqueueAt(T - 1, spec)
      expect((await a.tick({ now: T })).acquired).toBe(true)
      const r = await b.tick({ now: T })
      expect(r).toMatchObject({ acquired: false, dispatched: 0 })
    })

    it('release only deletes the lock of its owner', async () => {
      const a = make()
      const b = make()
      await a.tick({ now: T })
      expect(await b.core.release()).toBe(false)
      expect(await store.admin.get(a.keys.lock)).toBe(a.core.token)
      expect(await a.core.release()).toBe(true)
      expect(await store.admin.exists(a.keys.lock)).toBe(0)
    })

    it('a scheduler whose lock expired mid-pass dispatches nothing more', async () => {
      const a = make({ batchSize: 10 })
      await a.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ at: T - 100 + i, spec })))
      await a.tick({ now: T - 1_000 }) // holds the lock, nothing due yet
      await store.admin.set(a.keys.lock, 'someone-else') // a's lock expired and another took it
      const r = await a.tick({ now: T })
      expect(r).toMatchObject({ acquired: false, dispatched: 0 })
      expect(await store.admin.llen(a.keys.ready('default'))).toBe(0)
      expect(await a.count()).toBe(30)
    })

    it('three schedulers racing over 10,000 due jobs, the lock forced to expire mid-pass: each run dispatched once', async () => {
      const ports = [store.open(), store.open(), store.open()]
      const schedulers = ports.map((redis) => new Scheduler({ redis, namespace: store.namespace, clock: () => T, batchSize: 250, lockTtlMs: 60_000 }))
      // Half plain (moved by `due` itself), half on a named queue (read by `due`, written by `dispatch`).
      await schedulers[0]!.enqueueMany(Array.from({ length: 10_000 }, (_, i) => ({ at: T - 10_000 + i, spec: { name: 'noop', data: { i }, ...(i % 2 ? { queue: 'emails' } : {}) } })))
      let expiries = 0
      const saboteur = (async () => {
        while ((await store.admin.zcard(schedulers[0]!.keys.schedule)) > 0 && expiries < 20) {
          await new Promise((r) => setTimeout(r, 5))
          if ((await store.admin.del(schedulers[0]!.keys.lock)) === 1) expiries++
        }
      })()
      const racers = schedulers.map(async (s) => {
        let dispatched = 0
        for (let i = 0; i < 400 && (await s.count({ until: T })) > 0; i++) dispatched += (await s.tick({ now: T })).dispatched
        return dispatched
      })
      const counts = await Promise.all(racers)
      await saboteur
      const queued = [...await ready(schedulers[0]!), ...await ready(schedulers[0]!, 'emails')]
      expect(expiries).toBeGreaterThan(0)
      expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000)
      expect(queued).toHaveLength(10_000)
      expect(new Set(queued).size).toBe(10_000)
      expect(await schedulers[0]!.count()).toBe(0)
    }, 60_000)
  })

  it('a cancel between the read and the write of a batch wins: the job is not queued', async () => {
    const s = make()
    // On a named queue, so that the entries go through `dispatch` (plain ones move in `due`).
    await s.enqueueAt(T - 2, { ...spec, id: 'keep', queue: 'emails' })
    await s.enqueueAt(T - 1, { ...spec, id: 'gone', queue: 'emails' })
    const other = new Scheduler({ redis: store.open(), namespace: store.namespace })
    // Intercept the dispatch script: cancel 'gone' just before it runs.
    const port: RedisPort = {
      driver: store.redis.driver,
      call: async (cmd: Command) => {
        if (cmd[0] === 'EVALSHA' && cmd[1] === (await import('../../lib/redis/scripts.ts')).scripts.dispatch.sha) await other.cancel('gone')
        return store.redis.call(cmd)
      },
      pipeline: (cmds) => store.redis.pipeline(cmds),
      close: async () => {},
    }
    const s2 = new Scheduler({ redis: port, namespace: store.namespace, clock: () => T })
    const r = await s2.tick({ now: T })
    expect(r).toMatchObject({ dispatched: 1, stale: 1 })
    expect(await ready(s, 'emails')).toEqual(['keep'])
    expect(await store.admin.exists(s.keys.job('gone'))).toBe(0)
  })

  it('plain jobs move without their record being read; a job with a route has it read, then loses the route', async () => {
    const s = make()
    await s.enqueueAt(T - 3, { ...spec, id: 'plain' })
    await s.enqueueAt(T - 2, { ...spec, id: 'emails', queue: 'emails' })
    await s.enqueueAt(T - 1, { ...spec, id: 'front', atFront: true })
    expect((await store.admin.hkeys(s.keys.routes)).sort()).toEqual(['emails', 'front'])
    await s.tick({ now: T })
    expect(await ready(s)).toEqual(['front', 'plain'])
    expect(await ready(s, 'emails')).toEqual(['emails'])
    expect(await store.admin.hlen(s.keys.routes)).toBe(0)
  })

  it('plain jobs move in the read step itself: no dispatch call, and a replace right after goes through the schedule again', async () => {
    const s = make()
    for (let i = 0; i < 5; i++) await s.enqueueAt(T - 5 + i, { ...spec, id: `plain-${i}` })
    const other = new Scheduler({ redis: store.open(), namespace: store.namespace })
    const { scripts } = await import('../../lib/redis/scripts.ts')
    const calls: string[] = []
    const port: RedisPort = {
      driver: store.redis.driver,
      call: async (cmd: Command) => {
        const reply = await store.redis.call(cmd)
        if (cmd[0] === 'EVALSHA') {
          const name = Object.values(scripts).find((x) => x.sha === cmd[1])?.name ?? '?'
          calls.push(name)
          // Replaced just after the read step moved it: scheduled again, on another queue.
          if (name === 'due' && calls.length === 1) await other.enqueueAt(T - 1, { ...spec, id: 'plain-4', queue: 'emails' })
        }
        return reply
      },
      pipeline: (cmds) => store.redis.pipeline(cmds),
      close: async () => {},
    }
    const s2 = new Scheduler({ redis: port, namespace: store.namespace, clock: () => T })
    expect(await s2.tick({ now: T })).toMatchObject({ dispatched: 5, stale: 0 })
    expect(calls).toEqual(['due'])
    expect(await ready(s)).toEqual(['plain-0', 'plain-1', 'plain-2', 'plain-3', 'plain-4'])
    // The next pass sends the replaced job, now routed, to its new queue through `dispatch` (its
    // old id in `default` runs nothing twice: claiming either copy makes the other one 'done').
    expect(await s2.tick({ now: T })).toMatchObject({ dispatched: 1 })
    expect(calls).toEqual(['due', 'due', 'dispatch'])
    expect(await ready(s, 'emails')).toEqual(['plain-4'])
    expect(await s.count()).toBe(0)
  })

  it('a poison job among good ones: good ones dispatched, the poison one failed with its reason', async () => {
    const jobs = { names: () => ['noop'] }
    const s = make({ jobs })
    await s.enqueueAt(T - 3, { ...spec, id: 'good-1' })
    // Written by a client without the registry; routed (atFront), so dispatch reads its record.
    await make().enqueueAt(T - 2, { name: 'nobodyKnowsMe', id: 'unknown-handler', atFront: true })
    await s.schedule({ at: T - 2, everyMs: 1000 }, { ...spec, id: 'corrupt-rec' })
    await store.admin.hset(s.keys.recurring, 'corrupt-rec', '{not json')
    await s.enqueueAt(T - 1, { ...spec, id: 'corrupt-record', atFront: true })
    await store.admin.hdel(s.keys.job('corrupt-record'), 'n', 'q')
    await s.enqueueAt(T, { ...spec, id: 'good-2' })
    const r = await s.tick({ now: T })
    expect(r).toMatchObject({ dispatched: 2, failed: 3 })
    expect(await ready(s)).toEqual(['good-1', 'good-2'])
    const failed = await store.admin.zrange(s.keys.failed('default'), 0, '-1')
    expect(failed.sort()).toEqual(['corrupt-rec', 'corrupt-record', 'unknown-handler'])
    expect((await s.getJob('unknown-handler'))?.error).toBe('unknown handler "nobodyKnowsMe"')
    expect((await s.getJob('corrupt-rec'))?.error).toMatch(/^corrupt recurrence/)
    expect((await s.getJob('corrupt-record'))?.error).toMatch(/^corrupt record/)
    expect(await s.count()).toBe(0)
  })

  it('with a registry, an unknown name is refused when scheduled, and nothing is written', async () => {
    const s = make({ jobs: { names: () => ['noop', 'sendEmail'] } })
    await expect(s.enqueueAt(T, { name: 'sendEmial', id: 'typo' })).rejects.toMatchObject({
      code: 'UNKNOWN_HANDLER', field: 'spec.name', message: 'Expected `spec.name` to name a registered handler ("noop", "sendEmail"), got "sendEmial"',
    })
    await expect(s.enqueueMany([{ at: T, spec: { ...spec, id: 'fine' } }, { at: T, spec: { name: 'ghost' } }])).rejects.toMatchObject({ code: 'UNKNOWN_HANDLER', field: 'entries[1].spec.name' })
    expect(await s.count()).toBe(0)
    expect(await store.admin.exists(s.keys.job('typo'), s.keys.job('fine'))).toBe(0)
  })

  describe('SQS target through the outbox (mocked SQS sender)', () => {
    const collecting = (failIds: (id: string) => boolean = () => false) => {
      const sent: { queue: string; id: string; body: string }[] = []
      const sender: SqsSender & { sent: typeof sent } = {
        sent,
        send: async (queue, messages) => {
          const failed = messages.filter((m) => failIds(m.id)).map((m) => m.id)
          for (const m of messages) if (!failed.includes(m.id)) sent.push({ queue, ...m })
          return { failed }
        },
      }
      return sender
    }

    it('sends each due run once with its namespace and run id, and acknowledges it', async () => {
      const sender = collecting()
      const s = make({ target: { kind: 'sqs', sender, leaseMs: 5_000 } })
      await s.enqueueAt(T - 1, { ...spec, id: 'a' })
      await s.enqueueAt(T - 1, { ...spec, id: 'b', queue: 'emails' })
      const r = await s.tick({ now: T })
      expect(r.dispatched).toBe(2)
      expect(sender.sent.map((m) => [m.queue, JSON.parse(m.body)])).toEqual([
        ['default', { v: 1, ns: store.namespace, run: 'a', q: 'default' }],
        ['emails', { v: 1, ns: store.namespace, run: 'b', q: 'emails' }],
      ])
      expect(await store.admin.zcard(s.keys.outbox)).toBe(0)
      expect(await ready(s)).toEqual([])
    })

    it('a pass killed between the outbox move and the send: the run is sent on a later pass', async () => {
      const crashing: SqsSender = { send: async () => { throw new Error('process killed') } }
      const s = make({ target: { kind: 'sqs', sender: crashing, leaseMs: 5_000 } })
      await s.enqueueAt(T - 1, { ...spec, id: 'a' })
      await s.tick({ now: T })
      expect(await store.admin.zscore(s.keys.outbox, 'a')).toBe(String(T + 5_000))
      const sender = collecting()
      const next = make({ target: { kind: 'sqs', sender, leaseMs: 5_000 } })
      await store.admin.del(s.keys.lock) // the crashed process's lock expired
      await next.tick({ now: T + 1_000 }) // lease not expired yet: nothing sent
      expect(sender.sent).toEqual([])
      const r = await next.tick({ now: T + 5_000 })
      expect(r.resent).toBe(1)
      expect(sender.sent.map((m) => JSON.parse(m.body).run)).toEqual(['a'])
      expect(await store.admin.zcard(s.keys.outbox)).toBe(0)
    })

    it('SendMessageBatch partial failure: failed entries stay leased and are retried', async () => {
      let failing = true
      const sender = collecting((id) => failing && id === 'b')
      const s = make({ target: { kind: 'sqs', sender, leaseMs: 5_000 } })
      for (const id of ['a', 'b', 'c']) await s.enqueueAt(T - 1, { ...spec, id })
      await s.tick({ now: T })
      expect(sender.sent.map((m) => JSON.parse(m.body).run)).toEqual(['a', 'c'])
      expect(await store.admin.zrange(s.keys.outbox, 0, '-1')).toEqual(['b'])
      failing = false
      await s.tick({ now: T + 4_999 })
      expect(sender.sent).toHaveLength(2)
      await s.tick({ now: T + 5_000 })
      expect(sender.sent.map((m) => JSON.parse(m.body).run)).toEqual(['a', 'c', 'b'])
      expect(await store.admin.zcard(s.keys.outbox)).toBe(0)
    })
  })
})
