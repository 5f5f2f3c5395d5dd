/**
 * The HTTP API's one error handler. Every error a client can act on carries a stable string
 * `code`; ONE table (STATUS) turns codes into HTTP statuses. Whatever is not a DueqError or an
 * ApiError is an internal failure: it is logged here with its stack and reaches the client only
 * as a generic 500 naming the request id, so logs and reports can be matched.
 *
 * Response body of every error: `{ "error": { "code", "message", "field"? } }`.
 */
import type { MiddlewareObj } from '@middy/core'
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { DueqError, type DueqErrorCode } from '../../lib/core/errors.ts'
import { json } from './serialize.ts'

/** Codes only the HTTP layer raises; they have no meaning inside lib/. */
export type HttpOnlyCode =
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NO_API_KEY' // the deployment has no API key configured: refuse rather than run open
  | 'UNAVAILABLE'
  | 'INTERNAL'

export type ApiErrorCode = DueqErrorCode | HttpOnlyCode

/** The one table. `Record` makes the compiler insist that every code has a status. */
export const STATUS: Record<ApiErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNKNOWN_OPTION: 400,
  INVALID_DATE: 400,
  INVALID_CRON: 400,
  INVALID_TIMEZONE: 400,
  INVALID_REPEAT: 400,
  INVALID_INTERVAL: 400,
  NOT_JSON: 400,
  UNKNOWN_HANDLER: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  JOB_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  JOB_NOT_SCHEDULED: 409,
  JOB_NOT_FAILED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CONFIG: 500,
  STORE: 500,
  INTERNAL: 500,
  NO_API_KEY: 503,
  UNAVAILABLE: 503,
}

/** An error of the HTTP layer itself (routing, auth, transport), with extra response headers. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly options: { field?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
  }

  get field(): string | undefined {
    return this.options.field
  }
}

type Known = DueqError | ApiError

const isKnown = (e: unknown): e is Known => e instanceof DueqError || e instanceof ApiError

/** The status of a known error: the table, with the one exception below. */
export function statusOf(e: Known): number {
  // A missing job named in the request body (`dependsOn`) is a bad request: the resource the URL
  // names exists (or is being created); 404 would read as "no such route or job".
  if (e.code === 'JOB_NOT_FOUND' && e.field !== undefined && e.field !== 'id') return 400
  return STATUS[e.code]
}

export interface Logger {
  error(message: string, fields: Record<string, unknown>): void
}

const consoleLog: Logger = { error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })) }

/** The error response for `e`. Only errors with a status below 500, or 503s we raise ourselves, show their message. */
export function errorResponse(e: unknown, requestId: string, log: Logger = consoleLog): APIGatewayProxyStructuredResultV2 {
  if (isKnown(e)) {
    const status = statusOf(e)
    if (status !== 500) {
      const headers = e instanceof ApiError ? e.options.headers : undefined
      return json(status, { error: { code: e.code, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) } }, headers)
    }
  }
  // Internal: log everything we know, tell the client nothing but where to look.
  const err = e instanceof Error ? e : new Error(String(e))
  log.error('unhandled error in the HTTP API', {
    requestId, error: `${err.name}: ${err.message}`, stack: err.stack,
    ...(isKnown(e) ? { code: e.code } : {}),
    ...(err.cause === undefined ? {} : { cause: String(err.cause) }),
  })
  return json(500, { error: { code: 'INTERNAL', message: `Internal error; the server logged it under request id ${requestId}` } })
}

/** middy onError middleware: the only place errors become responses. */
export function httpErrorHandler(o: { log?: Logger } = {}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const requestId = request.event?.requestContext?.requestId ?? request.context?.awsRequestId ?? 'unknown'
      request.response = errorResponse(request.error, requestId, o.log)
    },
  }
}
