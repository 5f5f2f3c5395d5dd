/**
 * Lambda test doubles for the function handlers: a full Lambda context whose remaining time runs
 * down with the wall clock, and a logger that keeps what it was told.
 */
import type { Context } from 'aws-lambda'
import type { Logger } from '../../lib/jobs.ts'

/** A Lambda context with `remainingMs` left from now (getRemainingTimeInMillis counts down). */
export function lambdaContext(remainingMs: number, functionName = 'dueq-test-fn', awsRequestId = 'req-1'): Context {
  const deadline = Date.now() + remainingMs
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2030/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error'
  message: string
  fields: Record<string, unknown>
}

/** A Logger that records every entry. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const at = (level: LogEntry['level']) => (message: string, fields: Record<string, unknown> = {}) => { entries.push({ level, message, fields }) }
  return { entries, info: at('info'), warn: at('warn'), error: at('error') }
}
