/**
 * The routes of the HTTP API, each a thin handler: read the request, call lib/, shape the reply.
 * Errors are thrown, never turned into responses here (errors.ts does that, in one place).
 * rq-scheduler's verbs name what each route does: enqueue_at / enqueue_in / schedule / cron,
 * get_jobs, cancel, change_execution_time, requeue.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { DueqError } from '../../lib/core/errors.ts'
import { info } from '../../lib/info.ts'
import type { Runtime } from '../shared/runtime.ts'
import type { Logger } from './errors.ts'
import { readJobRequest, scheduleJob } from './job-request.ts'
import { OPENAPI } from './openapi.ts'
import { boolParam, instantFromJson, instantFromQuery, intParam, query, rejectUnknown } from './request.ts'
import type { RouteDef } from './router.ts'
import { json, noContent, serializeJob } from './serialize.ts'

export interface RouteRequest {
  event: APIGatewayProxyEventV2
  params: Record<string, string>
  /** The parsed JSON object, for routes with `body: true`. */
  body: Record<string, unknown>
  runtime: () => Promise<Runtime>
  log: Logger
}

export type RouteHandler = (req: RouteRequest) => Promise<APIGatewayProxyStructuredResultV2>

/** GET /v1/jobs pages are bounded: one request must not read the whole schedule. */
export const MAX_PAGE = 1000
const DEFAULT_PAGE = 100
const HEALTH_TIMEOUT_MS = 2_000

const notFound = (id: string) => new DueqError('JOB_NOT_FOUND', `Job "${id}" does not exist`, { field: 'id' })

const createJob: RouteHandler = async ({ body, runtime }) => {
  const request = readJobRequest(body)
  const { scheduler } = await runtime()
  const job = await scheduleJob(scheduler, request)
  return json(201, serializeJob(job), { location: `/v1/jobs/${encodeURIComponent(job.id)}` })
}

const getJobs: RouteHandler = async ({ event, runtime }) => {
  const q = query(event)
  rejectUnknown(q, ['until', 'offset', 'length', 'withTimes'], 'query parameter')
  const options = {
    ...(q.until === undefined ? {} : { until: instantFromQuery(q.until, 'until') }),
    offset: intParam(q, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    length: intParam(q, 'length', { min: 0, max: MAX_PAGE, fallback: DEFAULT_PAGE }),
  }
  const withTimes = boolParam(q, 'withTimes') ?? false
  const { scheduler } = await runtime()
  if (withTimes) {
    const entries = await scheduler.getJobs({ ...options, withTimes: true })
    return json(200, { jobs: entries.map(({ job, at }) => ({ job: serializeJob(job), at })) })
  }
  const jobs = await scheduler.getJobs(options)
  return json(200, { jobs: jobs.map(serializeJob) })
}

const getJob: RouteHandler = async ({ params, runtime }) => {
  const id = params.id!
  const { scheduler } = await runtime()
  const job = await scheduler.getJob(id)
  if (!job) throw notFound(id)
  return json(200, serializeJob(job))
}

const cancel: RouteHandler = async ({ params, runtime }) => {
  const id = params.id!
  const { scheduler } = await runtime()
  if (!(await scheduler.cancel(id))) {
    throw new DueqError('JOB_NOT_FOUND', `No job "${id}" to cancel: it does not exist, or it is already running or done`, { field: 'id' })
  }
  return noContent()
}

const changeExecutionTime: RouteHandler = async ({ params, body, runtime }) => {
  rejectUnknown(body, ['at'], 'field')
  const at = instantFromJson(body.at, 'at')
  const id = params.id!
  const { scheduler } = await runtime()
  await scheduler.changeExecutionTime(id, at)
  const job = await scheduler.getJob(id)
  if (!job) throw notFound(id) // dispatched and expired in between: it is gone now
  return json(200, serializeJob(job))
}

const requeue: RouteHandler = async ({ params, runtime }) => {
  const id = params.id!
  const { scheduler } = await runtime()
  await scheduler.requeue(id)
  const job = await scheduler.getJob(id)
  if (!job) throw notFound(id)
  return json(200, serializeJob(job))
}

const queues: RouteHandler = async ({ runtime }) => {
  const { redis, scheduler } = await runtime()
  const i = await info(redis, scheduler.keys.namespace)
  return json(200, { namespace: i.namespace, scheduled: i.scheduled, queues: i.queues })
}

const workers: RouteHandler = async ({ runtime }) => {
  const { redis, scheduler } = await runtime()
  const i = await info(redis, scheduler.keys.namespace)
  return json(200, { workers: i.workers })
}

const schedulers: RouteHandler = async ({ runtime }) => {
  const { scheduler } = await runtime()
  return json(200, { schedulers: await scheduler.instances() })
}

const openapi: RouteHandler = async () => json(200, OPENAPI)

/** No auth: load balancers and uptime checks call it. Says only whether Redis answers. */
const health: RouteHandler = async ({ runtime, log }) => {
  let timer: NodeJS.Timeout | undefined
  try {
    const { redis } = await runtime()
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no PING reply within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS)
    })
    await Promise.race([redis.call(['PING']), timeout])
    return json(200, { ok: true })
  } catch (e) {
    log.error('health check failed', { error: String(e) })
    return json(503, { ok: false, error: { code: 'UNAVAILABLE', message: 'The store does not answer' } })
  } finally {
    clearTimeout(timer)
  }
}

/** Every route of the API. The OpenAPI document lists exactly these (a test holds them together). */
export const ROUTES: readonly RouteDef<RouteHandler>[] = [
  { method: 'GET', path: '/health', auth: false, body: false, handler: health },
  { method: 'GET', path: '/v1/openapi.json', auth: true, body: false, handler: openapi },
  { method: 'POST', path: '/v1/jobs', auth: true, body: true, handler: createJob },
  { method: 'GET', path: '/v1/jobs', auth: true, body: false, handler: getJobs },
  { method: 'GET', path: '/v1/jobs/{id}', auth: true, body: false, handler: getJob },
  { method: 'DELETE', path: '/v1/jobs/{id}', auth: true, body: false, handler: cancel },
  { method: 'PATCH', path: '/v1/jobs/{id}', auth: true, body: true, handler: changeExecutionTime },
  { method: 'POST', path: '/v1/jobs/{id}/requeue', auth: true, body: false, handler: requeue },
  { method: 'GET', path: '/v1/queues', auth: true, body: false, handler: queues },
  { method: 'GET', path: '/v1/schedulers', auth: true, body: false, handler: schedulers },
  { method: 'GET', path: '/v1/workers', auth: true, body: false, handler: workers },
]
