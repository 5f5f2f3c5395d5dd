/**
 * The one error family of dueq. Every error a caller can act on carries a stable string `code`;
 * `functions/` maps codes to HTTP statuses in one table. Anything that is not a DueqError is an
 * internal failure and reaches clients only as a generic 500.
 */
export type DueqErrorCode =
  | 'INVALID_ARGUMENT' // a field has the wrong type, range or shape
  | 'UNKNOWN_OPTION' // an option the API does not know (typos must not pass silently)
  | 'INVALID_DATE'
  | 'INVALID_CRON'
  | 'INVALID_TIMEZONE'
  | 'INVALID_REPEAT'
  | 'INVALID_INTERVAL'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_JSON'
  | 'JOB_NOT_FOUND'
  | 'JOB_NOT_SCHEDULED'
  | 'JOB_NOT_FAILED'
  | 'UNKNOWN_HANDLER'
  | 'CONFIG'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'STORE'

export class DueqError extends Error {
  override readonly name = 'DueqError'
  readonly code: DueqErrorCode
  /** The input field the error is about, as the caller named it (e.g. `spec.data`, `at`). */
  readonly field: string | undefined

  constructor(code: DueqErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.field = options.field
  }
}

export const isDueqError = (e: unknown): e is DueqError => e instanceof DueqError

/** Describes a value for an "Expected `x` to be …, got …" message without dumping it whole. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'string') return value.length > 40 ? `string "${value.slice(0, 40)}…"` : `string "${value}"`
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `number ${value}`
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : `Date ${value.toISOString()}`
  if (Array.isArray(value)) return `array of length ${value.length}`
  return typeof value
}
