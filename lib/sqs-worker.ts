/**
 * The SQS side of the workers: a batch of SQS messages, each naming a run (`{ v, ns, run, q }`),
 * is claimed, executed and finished on the same scripts as the polling worker: one round trip
 * claims the whole batch, one records every outcome.
 *
 * What each message comes to (Lambda's ReportBatchItemFailures: only failures are listed):
 *   - the run finished, or failed an attempt that will be retried through the schedule → done
 *   - the run was already finished / canceled / gone (a redelivery, a duplicate send) → done,
 *     without running the handler again
 *   - the run failed for good → failure, now and on each redelivery, so SQS moves the message
 *     to its DLQ after maxReceiveCount receives
 *   - the run is being executed elsewhere with a live lease, or Redis could not be reached →
 *     failure: SQS delivers it again later
 */
import type { RunMessage } from './dispatch.ts'
import { consoleLogger, type JobRegistry, type Logger } from './jobs.ts'
import { keysFor, type Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { runScripts, type ScriptCall } from './redis/scripts.ts'
import { claimCall, execute, finishCalls, parseClaim, parseFinish, runCallback, type ClaimedRun, type Outcome } from './runs.ts'

/** The parts of an SQS event record dueq reads. */
export interface SqsRecordLike {
  messageId: string
  body: string
}

export interface SqsBatchOptions {
  redis: RedisPort
  jobs: JobRegistry
  prefix?: string
  /** How long a claimed run is leased, ms; keep it above the function timeout. Default 900,000. */
  leaseMs?: number
  /** Handlers running at once. Default: the whole batch. */
  concurrency?: number
  worker?: string
  clock?: () => number
  random?: () => number
  logger?: Logger
}

interface Item {
  messageId: string
  /** Another message of this batch names the same run: it shares that message's fate. */
  sameAs?: Item
  keys: Keys
  queue: string
  runId: string
  run?: ClaimedRun
  outcome?: Outcome
  failed: boolean
}

export async function processSqsBatch(event: { Records: SqsRecordLike[] }, o: SqsBatchOptions): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const clock = o.clock ?? Date.now
  const log = o.logger ?? consoleLogger
  const failures = new Set<string>()
  const items: Item[] = []
  const duplicates: Item[] = []
  const byRun = new Map<string, Item>()
  // One Keys per namespace: finish calls are grouped by it, one call per queue of a namespace.
  const keysByNs = new Map<string, Keys>()
  for (const record of event.Records ?? []) {
    try {
      const m = JSON.parse(record.body) as RunMessage
      if (m?.v !== 1 || typeof m.run !== 'string' || typeof m.ns !== 'string' || typeof m.q !== 'string') throw new Error('not a dueq run message')
      let keys = keysByNs.get(m.ns)
      if (!keys) keysByNs.set(m.ns, (keys = keysFor(m.ns, o.prefix)))
      const item: Item = { messageId: record.messageId, keys, queue: m.q, runId: m.run, failed: false }
      const first = byRun.get(`${m.ns}\n${m.run}`)
      if (first) duplicates.push({ ...item, sameAs: first })
      else {
        byRun.set(`${m.ns}\n${m.run}`, item)
        items.push(item)
      }
    } catch (e) {
      log.error('unreadable SQS message: left for the DLQ', { messageId: record.messageId, error: String(e) })
      failures.add(record.messageId)
    }
  }

  // One round trip claims every run of the batch.
  const claims: ScriptCall[] = items.map((it) => claimCall(it.keys, it.queue, [it.runId], { now: clock(), leaseMs: o.leaseMs ?? 900_000, worker: o.worker ?? 'sqs', mode: 'sqs', peek: 0 }))
  try {
    const replies = await runScripts(o.redis, claims)
    items.forEach((it, i) => {
      const outcome = parseClaim(it.queue, [it.runId], replies[i]).outcomes[0]!
      if (outcome.kind === 'claimed') it.run = outcome.run
      else if (outcome.kind === 'busy' || outcome.kind === 'failed') it.failed = true
    })
  } catch (e) {
    log.error('claiming the SQS batch failed: SQS will deliver it again', { error: String(e) })
    return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }
  }

  const toRun = items.filter((it) => it.run)
  const limit = o.concurrency ?? Math.max(1, toRun.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, toRun.length) }, async () => {
    while (next < toRun.length) {
      const it = toRun[next++]!
      it.outcome = await execute(it.run!, o.jobs, { clock, random: o.random ?? Math.random, log })
      if (it.outcome.kind === 'fail') it.failed = true
    }
  }))

  // One round trip records every outcome (again for those whose dependents changed meanwhile).
  let open: { it: Item; dependents: string[] }[] = toRun.map((it) => ({ it, dependents: it.run!.dependents }))
  for (let round = 0; open.length > 0 && round < 5; round++) {
    // Grouped by namespace: each group's finish calls use that namespace's keys.
    const byNs = new Map<Keys, typeof open>()
    for (const entry of open) {
      const list = byNs.get(entry.it.keys)
      if (list) list.push(entry)
      else byNs.set(entry.it.keys, [entry])
    }
    const batches = [...byNs].map(([keys, entries]) => {
      const itemOf = new Map(entries.map(({ it }) => [it.run!, it]))
      const { calls, groups } = finishCalls(keys, entries.map(({ it, dependents }) => ({ run: it.run!, outcome: it.outcome!, dependents })), clock())
      return { calls, items: groups.map((g) => g.map((f) => itemOf.get(f.run)!)) }
    })
    let replies: unknown[]
    try {
      replies = await runScripts(o.redis, batches.flatMap((b) => b.calls))
    } catch (e) {
      log.error('recording outcomes failed: SQS will deliver those runs again', { error: String(e) })
      for (const { it } of open) it.failed = true
      open = []
      break
    }
    const again: typeof open = []
    let r = 0
    for (const b of batches) {
      for (const groupItems of b.items) {
        parseFinish(replies[r++]).forEach((result, j) => {
          const it = groupItems[j]!
          if (result.kind === 'dependents') again.push({ it, dependents: result.members })
          else if (result.kind === 'recorded') void runCallback(it.run!, it.outcome!, o.jobs, log)
        })
      }
    }
    open = again
  }
  for (const { it } of open) it.failed = true

  for (const it of items) if (it.failed) failures.add(it.messageId)
  for (const it of duplicates) if (it.sameAs!.failed) failures.add(it.messageId)
  return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) }
}
