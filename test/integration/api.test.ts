import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { createApiHandler, type GetRuntime } from '../../functions/api.ts'
import type { Logger } from '../../functions/http/errors.ts'
import { OPENAPI } from '../../functions/http/openapi.ts'
import { ROUTES } from '../../functions/http/routes.ts'
import type { Runtime } from '../../functions/shared/runtime.ts'
import { loadConfig } from '../../lib/config.ts'
import { DueqError } from '../../lib/core/errors.ts'
import { JobRegistry, Scheduler, silentLogger, Worker, type RedisPort } from '../../lib/index.ts'
import { httpEvent, type HttpEventOptions } from '../fixtures/events/index.ts'
import { lambdaContext } from '../support/lambda.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const KEY = 'test-key-0123456789abcdef'
const SECOND_KEY = 'second-key-fedcba9876543210'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Handlers the test runtime knows: `fail` always throws (to get a failed job to requeue). */
const jobs = new JobRegistry()
  .define('noop', () => null)
  .define('add', (data) => (data as { a: number; b: number }).a + (data as { a: number; b: number }).b)
  .define('fail', () => { throw new Error('boom') })

function runtimeOf(redis: RedisPort, namespace: string, apiKeys: string[] = [KEY]): Runtime {
  return {
    config: { ...loadConfig({}), namespace, apiKeys },
    redis,
    scheduler: new Scheduler({ redis, namespace, jobs }),
    jobs,
  }
}

interface Reply {
  status: number
  headers: Record<string, unknown>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
  raw: string
}

/** Invokes the real middy handler with a fixture event; `apiKey: KEY` unless the options say otherwise. */
function client(getRuntime: GetRuntime, log: Logger = { error: () => {} }) {
  const api = createApiHandler(getRuntime, { log })
  return async (o: HttpEventOptions): Promise<Reply> => {
    const res = (await api(httpEvent({ apiKey: KEY, ...o }), lambdaContext(30_000))) as APIGatewayProxyStructuredResultV2
    const raw = res.body ?? ''
    return { status: res.statusCode ?? 0, headers: res.headers ?? {}, body: raw === '' ? undefined : JSON.parse(raw), raw }
  }
}

/** A store whose every command fails the way a dead Redis does, with internals in the message. */
const brokenStore: RedisPort = {
  driver: 'tcp',
  call: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379 (password hunter2)')),
  pipeline: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379 (password hunter2)')),
  close: () => Promise.resolve(),
}

describe('the OpenAPI document', () => {
  const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options']
  it('lists every routed path and method, and routes every path and method it lists', () => {
    const routed = ROUTES.map((r) => `${r.method} ${r.path}`).sort()
    const documented = Object.entries(OPENAPI.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`)).sort()
    expect(documented).toEqual(routed)
    expect(OPENAPI.openapi).toBe('3.1.0')
  })

  it('marks only /health as open, as the router does', () => {
    const open = ROUTES.filter((r) => !r.auth).map((r) => r.path)
    expect(open).toEqual(['/health'])
    expect(OPENAPI.paths['/health'].get.security).toEqual([])
    expect(OPENAPI.security).toEqual([{ bearer: [] }])
  })
})

describe.each(DRIVERS)('HTTP API on the %s driver', (driver) => {
  const store = useStore(driver)
  const rt = () => runtimeOf(store.redis, store.namespace)
  const call = client(async () => rt())
  const scheduler = () => rt().scheduler

  describe('routes', () => {
    it('GET /health answers 200 without a key', async () => {
      const r = await call({ path: '/health', apiKey: undefined })
      expect(r.status).toBe(200)
      expect(r.body).toEqual({ ok: true })
    })

    it('POST /v1/jobs with `at` (ISO) schedules a job: 201, Location, dates as ISO strings', async () => {
      const r = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'add', data: { a: 1, b: 2 }, at: '2030-01-01T12:00:00.250+01:00' } })
      expect(r.status).toBe(201)
      expect(r.body).toMatchObject({ name: 'add', data: { a: 1, b: 2 }, queue: 'default', status: 'scheduled', at: '2030-01-01T11:00:00.250Z' })
      expect(r.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(r.headers.location).toBe(`/v1/jobs/${r.body.id}`)
      expect(await scheduler().getJob(r.body.id)).toMatchObject({ at: new Date('2030-01-01T11:00:00.250Z') })
      const got = await call({ path: `/v1/jobs/${r.body.id}` })
      expect(got.status).toBe(200)
      expect(got.body).toEqual(r.body)
    })

    it('POST /v1/jobs with `at` as epoch ms, `in`, `cron` (+ tz, repeat), `every` alone and `every` with `at`', async () => {
      const at = Date.parse('2030-06-01T00:00:00Z')
      const byMs = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', at } })
      expect(byMs.status).toBe(201)
      expect(byMs.body.at).toBe('2030-06-01T00:00:00.000Z')

      const before = Date.now()
      const delayed = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 60_000 } })
      expect(delayed.status).toBe(201)
      expect(Date.parse(delayed.body.at)).toBeGreaterThanOrEqual(before + 60_000)
      expect(Date.parse(delayed.body.at)).toBeLessThanOrEqual(Date.now() + 60_000)

      const cron = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', cron: '0 9 * * 1', tz: 'Europe/Paris', repeat: 3, misfire: 'skip', overlap: 'allow' } })
      expect(cron.status).toBe(201)
      expect(cron.body).toMatchObject({ cron: '0 9 * * 1', tz: 'Europe/Paris', repeat: 3, misfire: 'skip', overlap: 'allow', status: 'scheduled' })
      const next = new Date(cron.body.at)
      expect(next.getTime()).toBeGreaterThan(Date.now())
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('Mon 09:00')

      const t0 = Date.now()
      const every = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', every: 600_000 } })
      expect(every.status).toBe(201)
      expect(every.body.everyMs).toBe(600_000)
      // One interval from now, not now: "every 10 minutes" starts in 10 minutes.
      expect(Date.parse(every.body.at)).toBeGreaterThanOrEqual(t0 + 600_000)
      expect(Date.parse(every.body.at)).toBeLessThanOrEqual(Date.now() + 600_000)

      const anchored = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', at: '2030-01-01T00:00:00Z', every: 1000, repeat: 5 } })
      expect(anchored.status).toBe(201)
      expect(anchored.body).toMatchObject({ at: '2030-01-01T00:00:00.000Z', everyMs: 1000, repeat: 5 })
    })

    it('POST /v1/jobs passes every spec field through, and the same id replaces the job', async () => {
      const dep = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id: 'dep-1', at: '2030-01-01T00:00:00Z' } })
      expect(dep.status).toBe(201)
      const body = {
        name: 'add', id: 'full-1', data: { a: 1, b: 2 }, queue: 'reports', at: '2030-01-02T00:00:00Z', timeoutMs: 5000, resultTtlMs: 60_000,
        failureTtlMs: 120_000, retry: { max: 2, delaysMs: [100, 200] }, description: 'all the fields', meta: { owner: 'team-a' }, dependsOn: ['dep-1'],
      }
      const r = await call({ method: 'POST', path: '/v1/jobs', body })
      expect(r.status).toBe(201)
      expect(r.body).toMatchObject({ ...body, at: '2030-01-02T00:00:00.000Z', status: 'scheduled' })
      const replaced = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id: 'full-1', at: '2030-01-03T00:00:00Z' } })
      expect(replaced.status).toBe(201)
      const got = await call({ path: '/v1/jobs/full-1' })
      expect(got.body).toEqual(replaced.body)
      expect(got.body).not.toHaveProperty('meta')
      expect(got.body.queue).toBe('default')
    })

    it('GET /v1/jobs lists scheduled jobs in due order, with until, offset, length and withTimes', async () => {
      for (const [id, at] of [['c', '2030-01-03T00:00:00Z'], ['a', '2030-01-01T00:00:00Z'], ['b', '2030-01-02T00:00:00Z']]) {
        expect((await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id, at } })).status).toBe(201)
      }
      const all = await call({ path: '/v1/jobs' })
      expect(all.status).toBe(200)
      expect(all.body.jobs.map((j: { id: string }) => j.id)).toEqual(['a', 'b', 'c'])
      const until = await call({ path: '/v1/jobs', query: { until: '2030-01-02T00:00:00Z' } })
      expect(until.body.jobs.map((j: { id: string }) => j.id)).toEqual(['a', 'b'])
      const untilMs = await call({ path: '/v1/jobs', query: { until: String(Date.parse('2030-01-01T00:00:00Z')) } })
      expect(untilMs.body.jobs.map((j: { id: string }) => j.id)).toEqual(['a'])
      const page = await call({ path: '/v1/jobs', query: { offset: '1', length: '1', withTimes: 'true' } })
      expect(page.body).toEqual({ jobs: [{ job: expect.objectContaining({ id: 'b' }), at: '2030-01-02T00:00:00.000Z' }] })
      expect((await call({ path: '/v1/jobs', query: { length: '0' } })).body).toEqual({ jobs: [] })
    })

    it('GET /v1/jobs/{id} takes run ids `<id>@<slot>` of a recurring job', async () => {
      const at = Date.now() - 1000
      expect((await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id: 'rec', at, every: 3_600_000 } })).status).toBe(201)
      await scheduler().tick()
      const run = await call({ path: `/v1/jobs/rec@${at}` })
      expect(run.status).toBe(200)
      expect(run.body).toMatchObject({ id: `rec@${at}`, name: 'noop', status: 'queued' })
      const job = await call({ path: '/v1/jobs/rec' })
      expect(job.body).toMatchObject({ status: 'scheduled', at: new Date(at + 3_600_000).toISOString() })
      expect((await call({ path: `/v1/jobs/rec@${at + 1}` })).status).toBe(404)
    })

    it('GET /v1/jobs/{id} of an unknown job is 404 JOB_NOT_FOUND', async () => {
      const r = await call({ path: '/v1/jobs/nope' })
      expect(r.status).toBe(404)
      expect(r.body.error).toEqual({ code: 'JOB_NOT_FOUND', message: 'Job "nope" does not exist', field: 'id' })
    })

    it('DELETE /v1/jobs/{id} cancels: 204, then 404', async () => {
      await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id: 'gone', at: '2030-01-01T00:00:00Z' } })
      const r = await call({ method: 'DELETE', path: '/v1/jobs/gone' })
      expect(r.status).toBe(204)
      expect(r.raw).toBe('')
      expect(await scheduler().has('gone')).toBe(false)
      expect((await call({ path: '/v1/jobs/gone' })).status).toBe(404)
      const again = await call({ method: 'DELETE', path: '/v1/jobs/gone' })
      expect(again.status).toBe(404)
      expect(again.body.error).toMatchObject({ code: 'JOB_NOT_FOUND', field: 'id' })
    })

    it('PATCH /v1/jobs/{id} moves a scheduled job (200), and is 409 once it is no longer scheduled', async () => {
      await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', id: 'move', at: '2030-01-01T00:00:00Z' } })
      const moved = await call({ method: 'PATCH', path: '/v1/jobs/move', body: { at: '2031-01-01T00:00:00Z' } })
      expect(moved.status).toBe(200)
      expect(moved.body).toMatchObject({ id: 'move', at: '2031-01-01T00:00:00.000Z', status: 'scheduled' })
      const byMs = await call({ method: 'PATCH', path: '/v1/jobs/move', body: { at: Date.now() - 1 } })
      expect(byMs.status).toBe(200)
      await scheduler().tick()
      const late = await call({ method: 'PATCH', path: '/v1/jobs/move', body: { at: '2031-01-01T00:00:00Z' } })
      expect(late.status).toBe(409)
      expect(late.body.error).toMatchObject({ code: 'JOB_NOT_SCHEDULED', field: 'id' })
    })

    it('POST /v1/jobs/{id}/requeue puts a failed job back (200); 409 when not failed, 404 when unknown', async () => {
      const created = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'fail', id: 'fails', in: 0 } })
      expect(created.status).toBe(201)
      await scheduler().tick()
      const worker = new Worker({ redis: store.redis, namespace: store.namespace, jobs, logger: silentLogger })
      expect(await worker.work({ burst: true })).toEqual({ processed: 1, failed: 1 })
      const failed = await call({ path: '/v1/jobs/fails' })
      expect(failed.body).toMatchObject({ status: 'failed', error: 'Error: boom' })
      // The stack is kept in Redis for operators and never sent.
      const record = await store.admin.hgetall(rt().scheduler.keys.job('fails'))
      expect(Object.values(record).some((v) => /boom\n\s+at /.test(v))).toBe(true)
      expect(failed.raw).not.toMatch(/\s+at /)
      expect(Object.keys(failed.body).sort()).toEqual(['at', 'attempts', 'createdAt', 'data', 'error', 'id', 'name', 'queue', 'status'])

      const r = await call({ method: 'POST', path: '/v1/jobs/fails/requeue' })
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ id: 'fails', status: 'queued' })
      expect(r.body).not.toHaveProperty('error')

      const notFailed = await call({ method: 'POST', path: '/v1/jobs/fails/requeue' })
      expect(notFailed.status).toBe(409)
      expect(notFailed.body.error).toMatchObject({ code: 'JOB_NOT_FAILED', field: 'id' })
      const unknown = await call({ method: 'POST', path: '/v1/jobs/nobody/requeue' })
      expect(unknown.status).toBe(404)
      expect(unknown.body.error).toMatchObject({ code: 'JOB_NOT_FOUND', field: 'id' })
    })

    it('GET /v1/queues shows the counts per registry', async () => {
      await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 0 } })
      await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', queue: 'later', at: '2030-01-01T00:00:00Z' } })
      await scheduler().tick()
      const r = await call({ path: '/v1/queues' })
      expect(r.status).toBe(200)
      expect(r.body).toEqual({
        namespace: store.namespace,
        scheduled: 1,
        queues: [
          { name: 'default', queued: 1, started: 0, finished: 0, failed: 0, deferred: 0, canceled: 0 },
          { name: 'later', queued: 0, started: 0, finished: 0, failed: 0, deferred: 0, canceled: 0 },
        ],
      })
    })

    it('GET /v1/schedulers and GET /v1/workers show live instances, dates as ISO strings', async () => {
      expect((await call({ path: '/v1/schedulers' })).body).toEqual({ schedulers: [] })
      expect((await call({ path: '/v1/workers' })).body).toEqual({ workers: [] })
      const stop = new AbortController()
      const s = new Scheduler({ redis: store.redis, namespace: store.namespace, name: 'sched-1' })
      const w = new Worker({ redis: store.redis, namespace: store.namespace, jobs, name: 'worker-1', queues: ['default', 'other'], logger: silentLogger })
      const running = [s.run({ signal: stop.signal, intervalMs: 100 }), w.work({ signal: stop.signal, pollMs: 50 })]
      try {
        let schedulers: Reply | undefined
        let workers: Reply | undefined
        for (let i = 0; i < 100; i++) {
          schedulers = await call({ path: '/v1/schedulers' })
          workers = await call({ path: '/v1/workers' })
          if (schedulers.body.schedulers.length > 0 && workers.body.workers.length > 0) break
          await sleep(20)
        }
        expect(schedulers!.status).toBe(200)
        expect(schedulers!.body.schedulers).toEqual([expect.objectContaining({ name: 'sched-1', pid: process.pid, birth: expect.stringMatching(/Z$/), heartbeat: expect.stringMatching(/Z$/) })])
        expect(workers!.status).toBe(200)
        expect(workers!.body.workers).toEqual([expect.objectContaining({ name: 'worker-1', queues: ['default', 'other'], pid: process.pid, birth: expect.stringMatching(/Z$/) })])
      } finally {
        stop.abort()
        await Promise.all(running)
      }
    })

    it('GET /v1/openapi.json serves the document (with a key)', async () => {
      const r = await call({ path: '/v1/openapi.json' })
      expect(r.status).toBe(200)
      expect(r.body).toEqual(JSON.parse(JSON.stringify(OPENAPI)))
      expect((await call({ path: '/v1/openapi.json', apiKey: undefined })).status).toBe(401)
    })

    it('routes under a named stage, whose name API Gateway keeps in rawPath', async () => {
      const r = await call({ path: '/v1/jobs/nope', stage: 'prod' })
      expect(r.status).toBe(404)
      expect(r.body.error.code).toBe('JOB_NOT_FOUND')
      expect((await call({ path: '/health', stage: 'prod' })).status).toBe(200)
    })

    it('400 UNKNOWN_HANDLER for a name no handler is registered under; nothing is written', async () => {
      const r = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'sendEmial', id: 'typo', in: 1000 } })
      expect(r.status).toBe(400)
      expect(r.body.error).toMatchObject({ code: 'UNKNOWN_HANDLER', field: 'name' })
      expect(r.body.error.message).toContain('"sendEmial"')
      expect((await call({ path: '/v1/jobs/typo' })).status).toBe(404)
    })

    it('reads a base64-encoded JSON body (API Gateway encodes some content types)', async () => {
      const r = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', data: 'é ✓', at: '2030-01-01T00:00:00Z' }, base64: true })
      expect(r.status).toBe(201)
      expect(r.body.data).toBe('é ✓')
    })
  })

  describe('auth', () => {
    it('401 without a key, with www-authenticate: Bearer; also for a non-Bearer scheme or an empty key', async () => {
      for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer ', KEY]) {
        const r = await call({ path: '/v1/queues', apiKey: undefined, headers: { authorization } })
        expect(r.status, String(authorization)).toBe(401)
        expect(r.headers['www-authenticate']).toBe('Bearer')
        expect(r.body.error).toMatchObject({ code: 'UNAUTHORIZED', field: 'authorization' })
      }
    })

    it('403 with a wrong key, however close; the scheme is case-insensitive', async () => {
      for (const key of [`${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase(), 'x'.repeat(4096)]) {
        const r = await call({ path: '/v1/queues', apiKey: key })
        expect(r.status).toBe(403)
        expect(r.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'authorization' })
      }
      expect((await call({ path: '/v1/queues', apiKey: undefined, headers: { authorization: `bearer ${KEY}` } })).status).toBe(200)
    })

    it('accepts any of several configured keys', async () => {
      const two = client(async () => runtimeOf(store.redis, store.namespace, [KEY, SECOND_KEY]))
      expect((await two({ path: '/v1/queues', apiKey: KEY })).status).toBe(200)
      expect((await two({ path: '/v1/queues', apiKey: SECOND_KEY })).status).toBe(200)
      expect((await two({ path: '/v1/queues', apiKey: 'third-key-0000000000000000' })).status).toBe(403)
    })

    it('with no key configured, refuses every authenticated route with 503 NO_API_KEY, and /health still answers', async () => {
      const open = client(async () => runtimeOf(store.redis, store.namespace, []))
      for (const o of [{ path: '/v1/queues' }, { path: '/v1/queues', apiKey: undefined }, { method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 0 } }]) {
        const r = await open(o)
        expect(r.status).toBe(503)
        expect(r.body.error.code).toBe('NO_API_KEY')
        expect(r.body.error.message).toMatch(/No API key is configured.*DUEQ_API_KEYS/)
      }
      expect((await open({ path: '/health', apiKey: undefined })).status).toBe(200)
      expect(await store.admin.keys(`dueq:{${store.namespace}}:*`)).toEqual([])
    })
  })

  describe('error statuses', () => {
    it('400 names the code, the problem and the field, in the request\'s own terms', async () => {
      const r = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', every: 0 } })
      expect(r.status).toBe(400)
      expect(r.body).toEqual({ error: { code: 'INVALID_INTERVAL', message: 'Expected `every` to be a whole number of milliseconds ≥ 1, got number 0', field: 'every' } })
      const spec = await call({ method: 'POST', path: '/v1/jobs', body: { name: '1bad', in: 0 } })
      expect(spec.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'name' })
      expect(spec.body.error.message).toMatch(/^Expected `name` to be a handler name/)
      const nested = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 0, retry: { max: 1, backoff: 2 } } })
      expect(nested.body.error).toMatchObject({ code: 'UNKNOWN_OPTION', field: 'retry.backoff' })
      expect(nested.body.error.message).toMatch(/`retry\.backoff`/)
      const delay = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: -5 } })
      expect(delay.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'in' })
      expect(delay.body.error.message).toMatch(/^Expected `in` to be/)
    })

    it('400 for a dependsOn naming a job that does not exist (not 404: the route exists)', async () => {
      const r = await call({ method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 1000, dependsOn: ['ghost'] } })
      expect(r.status).toBe(400)
      expect(r.body.error).toMatchObject({ code: 'JOB_NOT_FOUND', field: 'dependsOn' })
      expect(r.body.error.message).toMatch(/`dependsOn`.*"ghost"/)
      expect(await store.admin.keys(`dueq:{${store.namespace}}:*`)).toEqual([])
    })

    it('404 for an unknown route, 405 with Allow for a known path with a wrong method', async () => {
      const unknown = await call({ path: '/v1/nothing-here' })
      expect(unknown.status).toBe(404)
      expect(unknown.body.error.code).toBe('ROUTE_NOT_FOUND')
      const wrong = await call({ method: 'PUT', path: '/v1/jobs' })
      expect(wrong.status).toBe(405)
      expect(wrong.headers.allow).toBe('POST, GET')
      expect(wrong.body.error.code).toBe('METHOD_NOT_ALLOWED')
      const wrongId = await call({ method: 'POST', path: '/v1/jobs/abc' })
      expect(wrongId.status).toBe(405)
      expect(wrongId.headers.allow).toBe('GET, DELETE, PATCH')
    })

    it('413 for a body over 256 KiB, plain or base64, before it is parsed', async () => {
      const big = JSON.stringify({ name: 'noop', in: 0, data: 'x'.repeat(256 * 1024) })
      for (const base64 of [false, true]) {
        const r = await call({ method: 'POST', path: '/v1/jobs', body: big, base64, headers: { 'content-type': 'application/json' } })
        expect(r.status).toBe(413)
        expect(r.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' })
      }
      // Not JSON at all, but too large: the size is checked first.
      const junk = await call({ method: 'POST', path: '/v1/jobs', body: '{'.repeat(300_000), headers: { 'content-type': 'application/json' } })
      expect(junk.status).toBe(413)
      expect(await store.admin.keys(`dueq:{${store.namespace}}:*`)).toEqual([])
    })

    it('413 for a job payload over 256 KiB inside a smaller body (1e5 serializes to 100000)', async () => {
      const data = `[${Array(50_000).fill('1e5').join(',')}]`
      const body = `{"name":"noop","in":0,"data":${data}}`
      expect(Buffer.byteLength(body)).toBeLessThan(256 * 1024)
      const r = await call({ method: 'POST', path: '/v1/jobs', body, headers: { 'content-type': 'application/json' } })
      expect(r.status).toBe(413)
      expect(r.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'data' })
      expect(await store.admin.keys(`dueq:{${store.namespace}}:*`)).toEqual([])
    })

    it('415 for a POST or PATCH that is not application/json', async () => {
      for (const type of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) {
        const r = await call({ method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}', headers: { 'content-type': type } })
        expect(r.status, String(type)).toBe(415)
        expect(r.body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' })
      }
      const patch = await call({ method: 'PATCH', path: '/v1/jobs/x', body: '{"at":0}' })
      expect(patch.status).toBe(415)
      const ok = await call({ method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}', headers: { 'content-type': 'Application/JSON; charset=UTF-8' } })
      expect(ok.status).toBe(201)
    })

    it('500 for a failing store: a generic message naming the request id, the details only in the log', async () => {
      const logged: Record<string, unknown>[] = []
      const broken = client(async () => runtimeOf(brokenStore, store.namespace), { error: (message, fields) => logged.push({ message, ...fields }) })
      for (const o of [{ path: '/v1/jobs/x' }, { method: 'POST', path: '/v1/jobs', body: { name: 'noop', in: 0 } }, { path: '/v1/queues' }]) {
        const r = await broken(o)
        expect(r.status).toBe(500)
        expect(r.body.error.code).toBe('INTERNAL')
        expect(r.body.error.message).toMatch(/^Internal error; the server logged it under request id req-/)
        expect(r.raw).not.toMatch(/ECONNREFUSED|hunter2|10\.1\.2\.3|\.ts:\d+/)
      }
      expect(logged).toHaveLength(3)
      expect(logged[0]).toMatchObject({ message: 'unhandled error in the HTTP API', error: expect.stringContaining('ECONNREFUSED'), stack: expect.any(String) })
    })

    it('500 (generic) for a configuration error, and for a runtime that cannot start', async () => {
      const logged: unknown[] = []
      const log = { error: (_m: string, f: Record<string, unknown>) => { logged.push(f) } }
      const config = client(async () => { throw new DueqError('CONFIG', 'REDIS_URL is not a URL ("secret://x")') }, log)
      const r = await config({ path: '/v1/queues' })
      expect(r.status).toBe(500)
      expect(r.raw).not.toMatch(/REDIS_URL|secret/)
      expect(logged).toEqual([expect.objectContaining({ code: 'CONFIG', error: expect.stringContaining('REDIS_URL') })])
    })

    it('GET /health is 503 when the store does not answer', async () => {
      const broken = client(async () => runtimeOf(brokenStore, store.namespace))
      const r = await broken({ path: '/health', apiKey: undefined })
      expect(r.status).toBe(503)
      expect(r.body).toEqual({ ok: false, error: { code: 'UNAVAILABLE', message: 'The store does not answer' } })
      expect(r.raw).not.toMatch(/ECONNREFUSED/)
    })
  })
})
