/**
 * Small helpers the non-HTTP functions (tick, worker-sqs, worker-poll) share: time budgets from the
 * Lambda context, whole-number settings from the environment, one JSON log line per failed
 * invocation, and CloudWatch metrics as embedded metric format (EMF) log lines, which CloudWatch
 * Logs turns into metrics without an SDK call or a cloudwatch:PutMetricData permission.
 */
import type { MiddlewareObj } from '@middy/core'
import { DueqError, isDueqError } from '../../lib/core/errors.ts'
import type { Logger } from '../../lib/jobs.ts'

/** The part of the Lambda context the functions read (tests pass a plain object). */
export interface TimedContext {
  getRemainingTimeInMillis(): number
  functionName?: string
  awsRequestId?: string
}

/** A whole-number setting from the environment: `fallback` when unset, a CONFIG error naming the variable when invalid. */
export function intSetting(env: Record<string, string | undefined>, variable: string, fallback: number, o: { min?: number; max?: number } = {}): number {
  const raw = env[variable]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  const min = o.min ?? 0
  const max = o.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new DueqError('CONFIG', `${variable} is "${raw}": set it to a whole number from ${min} to ${max}`, { field: variable })
  }
  return value
}

/** Comma-separated list setting; `fallback` when unset or empty. */
export function listSetting(env: Record<string, string | undefined>, variable: string, fallback: string[]): string[] {
  const list = (env[variable] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  return list.length > 0 ? list : fallback
}

/**
 * Logs a failed invocation as one JSON line (the DueqError code and field when there is one), then
 * lets the error through: Lambda counts it in the function's Errors metric (alarmed on), and an
 * SQS batch whose handler threw is delivered again as a whole.
 */
export function logFailures(name: string, log: Logger): MiddlewareObj {
  return {
    onError: (request) => {
      const e = request.error
      log.error('invocation failed', {
        function: name,
        ...(isDueqError(e) ? { code: e.code, field: e.field } : {}),
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      })
    },
  }
}

export interface MetricsOptions {
  /** CloudWatch namespace, default `dueq` (DUEQ_METRICS_NAMESPACE). */
  namespace: string
  /** Dimension name → value, e.g. { Service: 'dueq', Stage: 'prod' }. */
  dimensions: Record<string, string>
  /** Where the line goes; default stdout, which Lambda sends to CloudWatch Logs. */
  write?: (line: string) => void
  /** ms since the epoch; default now. */
  timestamp?: number
}

/** Writes one EMF line carrying `values` (all unit Count) under `o.namespace` with `o.dimensions`. */
export function emitMetrics(values: Record<string, number>, o: MetricsOptions): string {
  const line = JSON.stringify({
    _aws: {
      Timestamp: o.timestamp ?? Date.now(),
      CloudWatchMetrics: [{
        Namespace: o.namespace,
        Dimensions: [Object.keys(o.dimensions)],
        Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })),
      }],
    },
    ...o.dimensions,
    ...values,
  })
  ;(o.write ?? ((l: string) => process.stdout.write(`${l}\n`)))(line)
  return line
}

/** The metrics options the deployed functions use: namespace and dimensions from the environment. */
export function metricsFromEnv(env: Record<string, string | undefined>): MetricsOptions {
  return {
    namespace: env.DUEQ_METRICS_NAMESPACE || 'dueq',
    dimensions: { Service: env.DUEQ_SERVICE || 'dueq', Stage: env.DUEQ_STAGE || 'dev' },
  }
}
