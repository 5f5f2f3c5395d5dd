/**
 * The OpenAPI 3.1 document of the HTTP API, written by hand (served at GET /v1/openapi.json).
 * test/integration/api.test.ts checks that it lists exactly the routes of routes.ts, so the two
 * cannot drift apart.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } })
const jsonResponse = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } })

const idParam = {
  name: 'id', in: 'path', required: true,
  description: 'A job id (1–128 of A–Z a–z 0–9 _ . : -); GET and requeue also take a run id `<id>@<slot ms>`',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}(@\\d{1,16})?$' },
}

const instant = {
  oneOf: [
    { type: 'string', format: 'date-time', description: 'ISO-8601 / RFC 3339 with an offset, e.g. 2030-01-01T12:00:00Z' },
    { type: 'integer', minimum: 0, description: 'epoch milliseconds' },
  ],
}

const ms = (description: string, minimum = 0) => ({ type: 'integer', minimum, description })
const json = { description: 'Any JSON value' }

const common = {
  401: errorResponse('No `Authorization: Bearer <key>` header (with `www-authenticate: Bearer`)'),
  403: errorResponse('The API key is not valid'),
  500: errorResponse('Internal error: a generic message naming the request id; details are only in the server log'),
  503: errorResponse('No API key is configured: the API refuses every authenticated route'),
}

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'dueq HTTP API',
    version: '1',
    description: 'Schedule jobs (at a time, after a delay, every N ms or on a cron line), inspect and cancel them. '
      + 'Every route but /health needs `Authorization: Bearer <API key>`. Errors are `{ "error": { "code", "message", "field"? } }`; '
      + '`code` is stable. Request bodies are JSON (`content-type: application/json`), at most 256 KiB. Instants in responses are ISO-8601 strings.',
  },
  security: [{ bearer: [] }],
  paths: {
    '/health': {
      get: {
        summary: 'Whether the store answers (no auth)',
        security: [],
        responses: {
          200: jsonResponse('The store answers', { type: 'object', properties: { ok: { const: true } }, required: ['ok'] }),
          503: jsonResponse('The store does not answer', { type: 'object', properties: { ok: { const: false }, error: ref('ErrorBody') }, required: ['ok'] }),
        },
      },
    },
    '/v1/openapi.json': {
      get: { summary: 'This document', responses: { 200: jsonResponse('OpenAPI 3.1 document', { type: 'object' }), ...common } },
    },
    '/v1/jobs': {
      post: {
        summary: 'Schedule a job (enqueue_at, enqueue_in, schedule, cron)',
        description: 'Exactly one of `at`, `in`, `cron`; or `every` alone (first run one interval from now); or `every` with `at` '
          + '(first run at `at`). `repeat` (total runs) only with `every` or `cron`; `tz` only with `cron`. Scheduling an existing `id` again replaces that job.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('JobRequest') } } },
        responses: {
          201: { ...jsonResponse('The job as scheduled', ref('Job')), headers: { location: { schema: { type: 'string' }, description: '/v1/jobs/{id}' } } },
          400: errorResponse('Invalid request: the error names the field (a `name` with no registered handler, UNKNOWN_HANDLER, and `dependsOn` naming a job that does not exist included)'),
          413: errorResponse('Body over 256 KiB, or the job payload (data and options) over 256 KiB'),
          415: errorResponse('Body is not `application/json`'),
          ...common,
        },
      },
      get: {
        summary: 'Scheduled jobs in due order (get_jobs)',
        parameters: [
          { name: 'until', in: 'query', description: 'Only jobs due at or before this instant (ISO-8601 with offset, or epoch ms)', schema: { type: 'string' } },
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'length', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 1000, default: 100 } },
          { name: 'withTimes', in: 'query', description: 'Pair each job with its due time', schema: { type: 'boolean', default: false } },
        ],
        responses: {
          200: jsonResponse('A page of scheduled jobs', {
            type: 'object', required: ['jobs'],
            properties: { jobs: { type: 'array', items: { oneOf: [ref('Job'), { type: 'object', properties: { job: ref('Job'), at: { type: 'string', format: 'date-time' } }, required: ['job', 'at'] }] } } },
          }),
          400: errorResponse('Invalid query parameter (unknown ones included)'),
          ...common,
        },
      },
    },
    '/v1/jobs/{id}': {
      parameters: [idParam],
      get: {
        summary: 'One job, or one run of a recurring job, with its status and result',
        responses: { 200: jsonResponse('The job', ref('Job')), 400: errorResponse('Invalid id'), 404: errorResponse('No such job'), ...common },
      },
      delete: {
        summary: 'Cancel a scheduled, queued or deferred job (cancel)',
        responses: { 204: { description: 'Canceled' }, 400: errorResponse('Invalid id'), 404: errorResponse('No such job, or it is already running or done'), ...common },
      },
      patch: {
        summary: 'Move a scheduled job to another time (change_execution_time)',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required: ['at'], properties: { at: instant } } } },
        },
        responses: {
          200: jsonResponse('The job, at its new time', ref('Job')),
          400: errorResponse('Invalid id or `at`'),
          409: errorResponse('The job is not scheduled (unknown, or already queued, running or done)'),
          413: errorResponse('Body over 256 KiB'),
          415: errorResponse('Body is not `application/json`'),
          ...common,
        },
      },
    },
    '/v1/jobs/{id}/requeue': {
      parameters: [idParam],
      post: {
        summary: 'Put a failed job or run back on its queue for a fresh set of attempts (requeue)',
        responses: {
          200: jsonResponse('The job, queued', ref('Job')),
          400: errorResponse('Invalid id'),
          404: errorResponse('No such job'),
          409: errorResponse('The job is not failed'),
          ...common,
        },
      },
    },
    '/v1/queues': {
      get: {
        summary: 'Queues with counts per registry (rq info)',
        responses: {
          200: jsonResponse('Counts', {
            type: 'object', required: ['namespace', 'scheduled', 'queues'],
            properties: { namespace: { type: 'string' }, scheduled: { type: 'integer' }, queues: { type: 'array', items: ref('QueueInfo') } },
          }),
          ...common,
        },
      },
    },
    '/v1/schedulers': {
      get: {
        summary: 'Live scheduler instances with their last pass',
        responses: { 200: jsonResponse('Schedulers', { type: 'object', required: ['schedulers'], properties: { schedulers: { type: 'array', items: ref('SchedulerInstance') } } }), ...common },
      },
    },
    '/v1/workers': {
      get: {
        summary: 'Live workers',
        responses: { 200: jsonResponse('Workers', { type: 'object', required: ['workers'], properties: { workers: { type: 'array', items: ref('WorkerInfo') } } }), ...common },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key from DUEQ_API_KEYS' } },
    schemas: {
      ErrorBody: {
        type: 'object', required: ['code', 'message'],
        properties: {
          code: { type: 'string', description: 'Stable: INVALID_ARGUMENT, UNKNOWN_OPTION, INVALID_DATE, INVALID_CRON, INVALID_TIMEZONE, INVALID_REPEAT, INVALID_INTERVAL, NOT_JSON, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, UNAUTHORIZED, FORBIDDEN, JOB_NOT_FOUND, ROUTE_NOT_FOUND, METHOD_NOT_ALLOWED, JOB_NOT_SCHEDULED, JOB_NOT_FAILED, NO_API_KEY, INTERNAL, …' },
          message: { type: 'string', description: 'For people: "Expected `x` to be …, got …"' },
          field: { type: 'string', description: 'The request field (or header, or query parameter) at fault, when there is one' },
        },
      },
      Error: { type: 'object', required: ['error'], properties: { error: ref('ErrorBody') } },
      Retry: {
        type: 'object', additionalProperties: false, required: ['max'],
        properties: { max: { type: 'integer', minimum: 0, maximum: 100 }, delaysMs: { type: 'array', maxItems: 100, items: ms('Delay before each retry; the last repeats') } },
      },
      JobRequest: {
        type: 'object', additionalProperties: false, required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$', description: 'A handler registered in code' },
          data: json,
          at: instant,
          in: ms('Run once, this many ms from now'),
          cron: { type: 'string', description: '5 fields (minute first) or 6 (second first)' },
          tz: { type: 'string', description: 'IANA time zone of `cron`, default UTC' },
          every: ms('Repeat every this many ms, anchored on the first run', 1),
          repeat: { type: 'integer', minimum: 1, description: 'Total runs (with `every` or `cron`); omitted = forever' },
          id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$', description: 'Stable id; scheduling it again replaces the job' },
          queue: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
          timeoutMs: ms('Run timeout', 1),
          resultTtlMs: ms('How long a result is kept'),
          failureTtlMs: ms('How long a failure is kept'),
          retry: ref('Retry'),
          description: { type: 'string', maxLength: 1024 },
          meta: { type: 'object', description: 'Your own JSON object, stored apart from dueq\'s fields' },
          dependsOn: { oneOf: [{ type: 'string' }, { type: 'array', maxItems: 100, items: { type: 'string' } }], description: 'Jobs that must finish first (existing ids; not on recurring jobs)' },
          misfire: { enum: ['coalesce', 'skip', 'all'] },
          overlap: { enum: ['skip', 'allow'] },
        },
      },
      Job: {
        type: 'object', required: ['id', 'name', 'data', 'queue', 'status', 'at', 'createdAt'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          data: json,
          queue: { type: 'string' },
          status: { enum: ['scheduled', 'queued', 'started', 'finished', 'failed', 'deferred', 'canceled'] },
          at: { type: ['string', 'null'], format: 'date-time', description: 'Next run; null once the job left the schedule' },
          createdAt: { type: 'string', format: 'date-time' },
          timeoutMs: { type: 'integer' }, ttlMs: { type: 'integer' }, resultTtlMs: { type: 'integer' }, failureTtlMs: { type: 'integer' },
          atFront: { type: 'boolean' }, onSuccess: { type: 'string' }, onFailure: { type: 'string' },
          description: { type: 'string' }, meta: { type: 'object' }, dependsOn: { type: 'array', items: { type: 'string' } }, retry: ref('Retry'),
          everyMs: { type: 'integer' }, cron: { type: 'string' }, tz: { type: 'string' },
          repeat: { type: 'integer', description: 'Runs left, counting the next one; absent = forever' },
          misfire: { enum: ['coalesce', 'skip', 'all'] }, overlap: { enum: ['skip', 'allow'] },
          result: json, error: { type: 'string', description: 'The error message of a failed run (never a stack)' }, attempts: { type: 'integer' },
        },
      },
      QueueInfo: {
        type: 'object',
        properties: {
          name: { type: 'string' }, queued: { type: 'integer' }, started: { type: 'integer' }, finished: { type: 'integer' },
          failed: { type: 'integer' }, deferred: { type: 'integer' }, canceled: { type: 'integer' },
        },
      },
      WorkerInfo: {
        type: 'object',
        properties: {
          name: { type: 'string' }, host: { type: 'string' }, pid: { type: 'integer' }, queues: { type: 'array', items: { type: 'string' } },
          birth: { type: 'string', format: 'date-time' }, heartbeat: { type: 'string', format: 'date-time' }, running: { type: 'integer' },
        },
      },
      SchedulerInstance: {
        type: 'object',
        properties: {
          name: { type: 'string' }, host: { type: 'string' }, pid: { type: 'integer' },
          birth: { type: 'string', format: 'date-time' }, heartbeat: { type: 'string', format: 'date-time' },
          lastPass: { type: ['object', 'null'], description: 'The last TickResult' },
        },
      },
    },
  },
} as const
