import { describe, expect, it } from 'vitest'
import { DueqError, Scheduler, type JobSpec } from '../../lib/index.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const T = Date.parse('2030-01-01T12:00:00.000Z')

/** Expects `fn` to reject with a DueqError of `code` whose message names `field`. */
async function rejects(fn: () => Promise<unknown>, code: string, field: string) {
  const err = await fn().then(() => null, (e: unknown) => e)
  expect(err, `expected ${code}`).toBeInstanceOf(DueqError)
  expect((err as DueqError).code).toBe(code)
  expect((err as DueqError).message).toContain(field)
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze)
    Object.freeze(o)
  }
  return o
}

describe.each(DRIVERS)('Scheduler on the %s driver', (driver) => {
  const store = useStore(driver)
  const make = (clock?: () => number) => new Scheduler({ redis: store.redis, namespace: store.namespace, queue: 'default', ...(clock ? { clock } : {}) })
  const rawKeys = () => store.admin.keys(`dueq:{${store.namespace}}:*`)
  const spec: JobSpec = { name: 'sendEmail', data: { to: 'a@b.c' } }

  it('enqueueAt stores a job that getJob, has and count see, at millisecond precision', async () => {
    const s = make()
    const at = new Date(T + 123)
    const job = await s.enqueueAt(at, spec)
    expect(job).toMatchObject({ name: 'sendEmail', data: { to: 'a@b.c' }, queue: 'default', status: 'scheduled', at })
    expect(job.id).toMatch(/^[A-Za-z0-9_-]{16}$/)
    expect(await s.getJob(job.id)).toEqual(job)
    expect(await s.has(job.id)).toBe(true)
    expect(await s.count()).toBe(1)
    expect(await store.admin.zscore(s.keys.schedule, job.id)).toBe(String(T + 123))
  })

  it('enqueueIn counts from the clock, in milliseconds', async () => {
    const s = make(() => T)
    const job = await s.enqueueIn(1_500, spec)
    expect(job.at).toEqual(new Date(T + 1_500))
    expect((await s.getJob(job.id))?.at).toEqual(new Date(T + 1_500))
  })

  it('an aware Date is an instant: the same instant from different offsets is the same due time', async () => {
    const s = make()
    const a = await s.enqueueAt(new Date('2030-01-01T07:00:00.250-05:00'), spec)
    const b = await s.enqueueAt(new Date('2030-01-01T12:00:00.250Z'), spec)
    expect(a.at!.getTime()).toBe(b.at!.getTime())
    expect(await s.count({ until: new Date(T + 249) })).toBe(0)
    expect(await s.count({ until: new Date(T + 250) })).toBe(2)
  })

  it('creating and replacing a scheduled job costs exactly one round trip each', async () => {
    const s = make()
    await s.enqueueAt(T, spec) // warm: the first call may load the script
    const rt = store.redis.roundTrips
    const http = store.httpRequests()
    await s.enqueueAt(T, { ...spec, id: 'one-trip' })
    await s.enqueueAt(T + 1, { ...spec, id: 'one-trip' })
    expect(store.redis.roundTrips - rt).toBe(2)
    if (driver === 'upstash') expect(store.httpRequests() - http).toBe(2)
  })

  it('replacing an id is an atomic upsert: no field of the old job survives', async () => {
    const s = make()
    await s.enqueueAt(T + 100, { name: 'dep', id: 'dep' })
    await s.enqueueAt(T, { name: 'old', id: 'job-1', data: { a: 1 }, meta: { owner: 'x' }, description: 'old one', atFront: true, dependsOn: ['dep'], queue: 'other' })
    expect(Object.keys(await store.admin.hgetall(s.keys.job('job-1'))).sort()).toEqual(['c', 'd', 'f', 'n', 'o', 'p', 'q', 'w'])
    const cron = await s.cron('*/5 * * * *', { name: 'old', id: 'job-1', meta: { owner: 'y' } }, { tz: 'Europe/Paris', repeat: 4 })
    expect(await s.getJob('job-1')).toEqual(cron)
    expect(cron).not.toHaveProperty('dependsOn')
    const fresh = await s.enqueueAt(T, { name: 'new', id: 'job-1' })
    const raw = await store.admin.hgetall(s.keys.job('job-1'))
    expect(Object.keys(raw).sort()).toEqual(['c', 'd', 'n'])
    const read = await s.getJob('job-1')
    expect(read).toEqual(fresh)
    expect(read).not.toHaveProperty('meta')
    expect(read).not.toHaveProperty('cron')
    expect(read?.queue).toBe('default')
    expect(await store.admin.hexists(s.keys.recurring, 'job-1')).toBe(0)
    expect(await s.count()).toBe(2)
  })

  it('dependsOn must name existing jobs, and is refused on recurring jobs', async () => {
    const s = make()
    await rejects(() => s.enqueueAt(T, { ...spec, dependsOn: 'ghost' }), 'JOB_NOT_FOUND', 'ghost')
    await rejects(() => s.schedule({ at: T, everyMs: 5 }, { ...spec, dependsOn: 'ghost' }), 'INVALID_ARGUMENT', 'dependsOn')
    expect(await rawKeys()).toEqual([])
    // a dependency created earlier in the same bulk call is fine
    const [a, b] = await s.enqueueMany([{ at: T, spec: { ...spec, id: 'a' } }, { at: T, spec: { ...spec, id: 'b', dependsOn: ['a'] } }])
    expect(b?.dependsOn).toEqual(['a'])
    expect(a?.id).toBe('a')
    expect(await store.admin.smembers(s.keys.dependents('a'))).toEqual(['default\tb'])
  })

  it("a user's meta never collides with the scheduler's own fields", async () => {
    const s = make()
    const meta = { s: 'finished', n: 'evil', q: 'x', status: 'failed', name: 'other', at: 1 }
    const job = await s.enqueueAt(T, { ...spec, meta })
    const read = await s.getJob(job.id)
    expect(read).toMatchObject({ name: 'sendEmail', status: 'scheduled', queue: 'default', meta })
  })

  it("never mutates the caller's objects", async () => {
    const s = make()
    const frozenSpec = deepFreeze({ name: 'x', data: { list: [1, 2], nested: { a: 'b' } }, meta: { k: 'v' }, retry: { max: 2, delaysMs: [10] } })
    const options = deepFreeze({ at: new Date(T), everyMs: 1000, repeat: 3 })
    const before = JSON.stringify([frozenSpec, options])
    const job = await s.schedule(options, frozenSpec)
    await s.enqueueMany(deepFreeze([{ at: T, spec: frozenSpec }]))
    expect(JSON.stringify([frozenSpec, options])).toBe(before)
    expect(job.data).not.toBe(frozenSpec.data)
    expect(job.data).toEqual(frozenSpec.data)
  })

  it('schedule with everyMs and repeat stores the recurrence, first run at `at`', async () => {
    const s = make(() => T)
    const job = await s.schedule({ at: new Date(T + 5), everyMs: 10_000, repeat: 3 }, spec)
    expect(job).toMatchObject({ everyMs: 10_000, repeat: 3, misfire: 'coalesce', overlap: 'skip', at: new Date(T + 5) })
    expect(await s.getJob(job.id)).toEqual(job)
    const now = await s.schedule({ everyMs: 60_000 }, spec)
    expect(now.at).toEqual(new Date(T))
    expect(now).not.toHaveProperty('repeat')
  })

  it.each([
    [{ batchSize: 0 }, 'options.batchSize'],
    [{ batchSize: 1001 }, 'options.batchSize'],
    [{ batchSize: 2.5 }, 'options.batchSize'],
    [{ lockTtlMs: 10 }, 'options.lockTtlMs'],
    [{ lockTtlMs: '30000' as unknown as number }, 'options.lockTtlMs'],
  ])('refuses scheduler options out of range: %o', (bad, field) => {
    let err: unknown
    try { new Scheduler({ redis: store.redis, namespace: store.namespace, ...bad }) } catch (e) { err = e }
    expect(err).toBeInstanceOf(DueqError)
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field })
  })

  it('cron schedules the first run at the next match in the time zone, DST included', async () => {
    // 01:59 EST on the spring-forward day: 02:30 does not exist; it runs at 03:00 EDT.
    const s = make(() => Date.parse('2026-03-08T06:59:00Z'))
    const job = await s.cron('30 2 * * *', spec, { tz: 'America/New_York', repeat: 10 })
    expect(job).toMatchObject({ cron: '30 2 * * *', tz: 'America/New_York', repeat: 10 })
    expect(job.at?.toISOString()).toBe('2026-03-08T07:00:00.000Z')
    const utc = await s.cron('0 0 12 * * *', spec)
    expect(utc.tz).toBe('UTC')
    expect(utc.at?.toISOString()).toBe('2026-03-08T12:00:00.000Z')
  })

  describe('bad input is a DueqError naming the field, and writes nothing', () => {
    const cases: [string, (s: Scheduler) => Promise<unknown>, string, string][] = [
      ['repeat 0', (s) => s.schedule({ at: T, everyMs: 1000, repeat: 0 }, spec), 'INVALID_REPEAT', 'repeat'],
      ['repeat -1', (s) => s.schedule({ at: T, everyMs: 1000, repeat: -1 }, spec), 'INVALID_REPEAT', 'repeat'],
      ['repeat 1.5', (s) => s.schedule({ at: T, everyMs: 1000, repeat: 1.5 }, spec), 'INVALID_REPEAT', 'repeat'],
      ['repeat "3"', (s) => s.cron('* * * * *', spec, { repeat: '3' as unknown as number }), 'INVALID_REPEAT', 'repeat'],
      ['everyMs 0', (s) => s.schedule({ at: T, everyMs: 0 }, spec), 'INVALID_INTERVAL', 'everyMs'],
      ['everyMs 0.5', (s) => s.schedule({ at: T, everyMs: 0.5 }, spec), 'INVALID_INTERVAL', 'everyMs'],
      ['cron with 4 fields', (s) => s.cron('* * * *', spec), 'INVALID_CRON', 'cron'],
      ['cron with 3 fields (cron-parser accepts it)', (s) => s.cron('* * *', spec), 'INVALID_CRON', 'cron'],
      ['cron with 7 fields', (s) => s.cron('0 0 0 * * * 2030', spec), 'INVALID_CRON', 'cron'],
      ['cron out of range', (s) => s.cron('61 * * * *', spec), 'INVALID_CRON', 'cron'],
      ['cron that never matches', (s) => s.cron('0 0 30 2 *', spec), 'INVALID_CRON', 'cron'],
      ['cron garbage', (s) => s.cron('every day', spec), 'INVALID_CRON', 'cron'],
      ['unknown tz', (s) => s.cron('* * * * *', spec, { tz: 'Mars/Olympus_Mons' }), 'INVALID_TIMEZONE', 'tz'],
      ['tz without cron', (s) => s.schedule({ at: T, tz: 'UTC' }, spec), 'INVALID_ARGUMENT', 'tz'],
      ['invalid Date', (s) => s.enqueueAt(new Date('nope'), spec), 'INVALID_DATE', 'at'],
      ['date as string', (s) => s.enqueueAt('2030-01-01' as unknown as Date, spec), 'INVALID_DATE', 'at'],
      ['negative delay', (s) => s.enqueueIn(-1, spec), 'INVALID_ARGUMENT', 'delayMs'],
      ['unknown spec option', (s) => s.enqueueAt(T, { ...spec, priority: 1 } as unknown as JobSpec), 'UNKNOWN_OPTION', 'spec.priority'],
      ['unknown schedule option', (s) => s.schedule({ at: T, every: 5 } as never, spec), 'UNKNOWN_OPTION', 'options.every'],
      ['unknown cron option', (s) => s.cron('* * * * *', spec, { timezone: 'UTC' } as never), 'UNKNOWN_OPTION', 'options.timezone'],
      ['missing name', (s) => s.enqueueAt(T, { data: 1 } as unknown as JobSpec), 'INVALID_ARGUMENT', 'spec.name'],
      ['function in data', (s) => s.enqueueAt(T, { name: 'x', data: { f: () => 1 } as never }), 'NOT_JSON', 'spec.data.f'],
      ['NaN in data', (s) => s.enqueueAt(T, { name: 'x', data: [1, Number.NaN] }), 'NOT_JSON', 'spec.data[1]'],
      ['Date in data', (s) => s.enqueueAt(T, { name: 'x', data: { when: new Date() } as never }), 'NOT_JSON', 'spec.data.when'],
      ['BigInt in data', (s) => s.enqueueAt(T, { name: 'x', data: { n: 1n } as never }), 'NOT_JSON', 'spec.data.n'],
      ['circular data', (s) => { const o: Record<string, unknown> = {}; o.self = o; return s.enqueueAt(T, { name: 'x', data: o as never }) }, 'NOT_JSON', 'spec.data.self'],
      ['payload over 256 KiB', (s) => s.enqueueAt(T, { name: 'x', data: 'x'.repeat(256 * 1024) }), 'PAYLOAD_TOO_LARGE', 'spec.data'],
      ['meta not an object', (s) => s.enqueueAt(T, { ...spec, meta: [1] as never }), 'INVALID_ARGUMENT', 'spec.meta'],
      ['id with @', (s) => s.enqueueAt(T, { ...spec, id: 'a@b' }), 'INVALID_ARGUMENT', 'spec.id'],
      ['bad retry', (s) => s.enqueueAt(T, { ...spec, retry: { max: -1 } }), 'INVALID_ARGUMENT', 'spec.retry.max'],
      ['bad misfire', (s) => s.schedule({ everyMs: 5 }, { ...spec, misfire: 'later' as never }), 'INVALID_ARGUMENT', 'spec.misfire'],
      ['bulk: one bad entry', (s) => s.enqueueMany([{ at: T, spec }, { at: T, spec }, { at: Number.NaN, spec }]), 'INVALID_DATE', 'entries[2].at'],
      ['bulk: duplicate id', (s) => s.enqueueMany([{ at: T, spec: { ...spec, id: 'd' } }, { at: T, spec: { ...spec, id: 'd' } }]), 'INVALID_ARGUMENT', 'entries[1].spec.id'],
    ]
    it.each(cases)('%s', async (_title, act, code, field) => {
      await rejects(() => act(make()), code, field)
      expect(await rawKeys()).toEqual([])
    })
  })

  it('cancel removes the job and its record; false when unknown', async () => {
    const s = make()
    const job = await s.schedule({ at: T, everyMs: 1000 }, spec)
    expect(await s.cancel(job.id)).toBe(true)
    expect(await s.has(job.id)).toBe(false)
    expect(await s.getJob(job.id)).toBeNull()
    expect(await store.admin.exists(s.keys.job(job.id))).toBe(0)
    expect(await store.admin.hexists(s.keys.recurring, job.id)).toBe(0)
    expect(await s.cancel(job.id)).toBe(false)
    expect(await s.cancel('never-was')).toBe(false)
  })

  it('changeExecutionTime moves a scheduled job, and refuses one that is not scheduled', async () => {
    const s = make()
    const job = await s.enqueueAt(T, spec)
    await s.changeExecutionTime(job.id, new Date(T + 42))
    expect((await s.getJob(job.id))?.at).toEqual(new Date(T + 42))
    await rejects(() => s.changeExecutionTime('nope', new Date(T)), 'JOB_NOT_SCHEDULED', 'nope')
    expect(await store.admin.exists(s.keys.job('nope'))).toBe(0)
    await rejects(() => s.changeExecutionTime(job.id, new Date(Number.NaN)), 'INVALID_DATE', 'at')
  })

  it('count and getJobs see due order, until (inclusive), offset, length and times', async () => {
    const s = make()
    const c = await s.enqueueAt(T + 30, { ...spec, id: 'c' })
    const a = await s.enqueueAt(T + 10, { ...spec, id: 'a' })
    const b = await s.enqueueAt(T + 20, { ...spec, id: 'b' })
    expect(await s.count()).toBe(3)
    expect(await s.count({ until: new Date(T + 20) })).toBe(2)
    expect((await s.getJobs()).map((j) => j.id)).toEqual(['a', 'b', 'c'])
    expect((await s.getJobs({ until: new Date(T + 20) })).map((j) => j.id)).toEqual(['a', 'b'])
    expect((await s.getJobs({ offset: 1, length: 1 })).map((j) => j.id)).toEqual(['b'])
    expect(await s.getJobs({ length: 0 })).toEqual([])
    expect(await s.getJobs({ withTimes: true })).toEqual([{ job: a, at: a.at }, { job: b, at: b.at }, { job: c, at: c.at }])
    expect(await s.getJob('missing')).toBeNull()
  })

  it('enqueueMany writes thousands of jobs in one round trip', async () => {
    const s = make()
    await s.enqueueAt(T, spec) // warm the script cache
    const rt = store.redis.roundTrips
    const http = store.httpRequests()
    const jobs = await s.enqueueMany(Array.from({ length: 5000 }, (_, i) => ({ at: T + i, spec: { name: 'noop', data: { i } } })))
    expect(store.redis.roundTrips - rt).toBe(1)
    if (driver === 'upstash') expect(store.httpRequests() - http).toBe(1)
    expect(jobs).toHaveLength(5000)
    expect(await s.count()).toBe(5001)
    const sample = await s.getJob(jobs[4321]!.id)
    expect(sample).toMatchObject({ data: { i: 4321 }, at: new Date(T + 4321) })
  })

  it('enqueueMany accepts recurring entries and replaces existing ids', async () => {
    const s = make(() => T)
    await s.enqueueAt(T, { ...spec, id: 'x', meta: { old: true } })
    const [x, y] = await s.enqueueMany([
      { at: T + 1, spec: { name: 'n1', id: 'x' } },
      { cron: '0 * * * *', tz: 'Asia/Tokyo', repeat: 2, spec: { name: 'n2', id: 'y' } },
    ])
    expect(await s.getJob('x')).toEqual(x)
    expect(x).not.toHaveProperty('meta')
    expect(await s.getJob('y')).toEqual(y)
    expect(y).toMatchObject({ cron: '0 * * * *', tz: 'Asia/Tokyo', repeat: 2, at: new Date(T + 3_600_000) })
  })

  it('jobs on other queues share the namespace schedule and remember their queue', async () => {
    const s = make()
    const job = await s.enqueueAt(T, { ...spec, queue: 'emails' })
    expect((await s.getJob(job.id))?.queue).toBe('emails')
    expect(await store.admin.smembers(s.keys.queues)).toEqual(['emails'])
  })

  it.runIf(driver === 'tcp')('publishes a wake-up when a job becomes the earliest due', async () => {
    const s = make()
    await s.enqueueAt(T + 1000, spec)
    const messages: string[] = []
    const unsubscribe = await store.redis.subscribe!(s.keys.wake, (m) => messages.push(m))
    try {
      await s.enqueueAt(T + 5000, spec) // not the earliest: no message
      await s.enqueueAt(T + 10, spec) // the new earliest
      await new Promise((r) => setTimeout(r, 100))
      expect(messages).toEqual([String(T + 10)])
    } finally {
      await unsubscribe()
    }
  })
})
