/**
 * Where the scheduler core sends due runs: the Redis ready queues (the default), or SQS through
 * an outbox. The SQS client itself lives behind `SqsSender` (lib/sqs/), so lib/ stays free of AWS
 * imports elsewhere.
 */

/** One message for SQS: `id` is the run id, unique within a batch. */
export interface OutboundMessage {
  id: string
  body: string
}

/** Sends messages to the SQS queue of a dueq queue; reports the ids that failed. */
export interface SqsSender {
  send(queue: string, messages: OutboundMessage[]): Promise<{ failed: string[] }>
}

export type DispatchTarget =
  | { kind: 'redis' }
  /** Runs go to an outbox leased for `leaseMs` (default 30 s), then to SQS, then are acknowledged. */
  | { kind: 'sqs'; sender: SqsSender; leaseMs?: number }

/** The body of a run's SQS message: the worker claims the run by id from Redis. */
export interface RunMessage {
  v: 1
  /** Namespace */
  ns: string
  /** Run id */
  run: string
  /** Queue */
  q: string
}
