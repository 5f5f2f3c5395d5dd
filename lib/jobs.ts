/**
 * The handler registry. Workers run only functions registered here, in code, by name; a name read
 * from Redis is only ever looked up in this map, never loaded.
 */
import { DueqError } from './core/errors.ts'
import { checkRetry, HANDLER_NAME, type Job, type Json, type RetryPolicy } from './core/job.ts'

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

/** Writes one JSON line per entry to stderr. */
export const consoleLogger: Logger = {
  info: (message, fields) => console.error(JSON.stringify({ level: 'info', message, ...fields })),
  warn: (message, fields) => console.error(JSON.stringify({ level: 'warn', message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })),
}

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} }

export interface JobContext {
  /** The run being executed: for a recurring job, its run record (`<id>@<slot>`). */
  job: Job
  /** 1 for the first attempt. */
  attempt: number
  /** Aborted when the run times out or its worker loses its lease on it. */
  signal: AbortSignal
  log: Logger
}

export type Handler = (data: Json, ctx: JobContext) => unknown

export interface HandlerOptions {
  /** Default timeout for this handler's runs, ms (a job's own `timeoutMs` wins). */
  timeoutMs?: number
  /** Default retry policy for this handler's runs (a job's own `retry` wins). */
  retry?: RetryPolicy
}

/** Called after a run finished (`result`) or failed for good (`error`). */
export type Callback = (job: Job, outcome: { result?: Json; error?: string }) => unknown

export class JobRegistry {
  private readonly handlers = new Map<string, { fn: Handler; options: HandlerOptions }>()
  private readonly callbacks = new Map<string, Callback>()

  /** Registers `fn` under `name`; a job's `name` selects it. */
  define(name: string, fn: Handler, options: HandlerOptions = {}): this {
    if (!HANDLER_NAME.test(name)) throw new DueqError('INVALID_ARGUMENT', `Expected a handler name (letters, digits, _ . : -), got "${name}"`, { field: 'name' })
    if (typeof fn !== 'function') throw new DueqError('INVALID_ARGUMENT', `Expected handler "${name}" to be a function`, { field: 'fn' })
    if (options.timeoutMs !== undefined && (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs < 1)) {
      throw new DueqError('INVALID_ARGUMENT', `Expected \`timeoutMs\` of "${name}" to be a whole number of ms ≥ 1, got ${options.timeoutMs}`, { field: 'timeoutMs' })
    }
    const retry = options.retry === undefined ? undefined : checkRetry(options.retry, 'retry')
    this.handlers.set(name, { fn, options: { ...options, ...(retry ? { retry } : {}) } })
    return this
  }

  /** Registers a callback that jobs name in `onSuccess` / `onFailure`. */
  callback(name: string, fn: Callback): this {
    if (!HANDLER_NAME.test(name)) throw new DueqError('INVALID_ARGUMENT', `Expected a callback name (letters, digits, _ . : -), got "${name}"`, { field: 'name' })
    this.callbacks.set(name, fn)
    return this
  }

  get(name: string): { fn: Handler; options: HandlerOptions } | undefined {
    return this.handlers.get(name)
  }

  getCallback(name: string): Callback | undefined {
    return this.callbacks.get(name)
  }

  names(): string[] {
    return [...this.handlers.keys()]
  }
}
