/**
 * Every Redis key dueq uses is built here, and only here. All keys of one namespace share the
 * hash tag `{namespace}`, so they live in one Redis Cluster slot and one Lua script may touch them
 * all; every key a script touches is still passed in KEYS.
 *
 *   dueq:{ns}:schedule       ZSET   job id (or `<id>@<slot>` for a retried run) → due time, ms
 *   dueq:{ns}:recurring      HASH   job id → JSON recurrence { every | cron, tz, misfire, overlap, left }
 *   dueq:{ns}:queues         SET    every queue name a job was scheduled on
 *   dueq:{ns}:routes         HASH   id → '1' for scheduled jobs whose dispatch must read their record
 *                                   (another queue than "default", atFront, dependsOn, ttlMs, a retry);
 *                                   the others move with batch commands alone
 *   dueq:{ns}:j:<id>         HASH   a job record (fields in record.ts); for a one-off job it is also the
 *                                   record of its one run. A run of a recurring job is `j:<id>@<slot>`:
 *                                   a copy of what to run (name, data, options) plus the run's state
 *   dueq:{ns}:q:<queue>      LIST   ready queue: run ids waiting for a worker
 *   dueq:{ns}:<registry>:<queue>  ZSET  per-queue registries of runs, registry one of
 *                                   started (score: lease deadline), finished and failed (score:
 *                                   when the record expires), deferred and canceled (score: since)
 *   dueq:{ns}:dependents:<id> SET   jobs waiting on job <id>, members "<queue>\t<job id>"
 *   dueq:{ns}:workers        ZSET   live worker → last heartbeat, ms
 *   dueq:{ns}:worker:<name>  HASH   one worker: host, pid, queues, birth, heartbeat, counts
 *   dueq:{ns}:outbox         ZSET   run id → lease deadline: runs handed to SQS, not yet acknowledged
 *   dueq:{ns}:lock           STRING the scheduler lock: owner token, PX TTL
 *   dueq:{ns}:schedulers     ZSET   live scheduler instance → last heartbeat, ms
 *   dueq:{ns}:scheduler:<n>  HASH   one scheduler instance: host, pid, birth, heartbeat, last pass
 *   dueq:{ns}:wake           channel: published when a job becomes the earliest in the schedule
 *   dueq:{ns}:ready          channel: published with a queue name and run ids when runs are queued
 */
import { DueqError } from '../core/errors.ts'

export const REGISTRIES = ['started', 'finished', 'failed', 'deferred', 'canceled'] as const
export type RegistryName = (typeof REGISTRIES)[number]
/** Registries scored by when their records expire: entries scored before now are dead. */
export const EXPIRING_REGISTRIES: ReadonlySet<RegistryName> = new Set(['finished', 'failed', 'canceled'])

const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/

export type Keys = ReturnType<typeof keysFor>

export function keysFor(namespace: string, prefix = 'dueq') {
  if (!NAMESPACE.test(namespace)) {
    throw new DueqError('INVALID_ARGUMENT', `Expected \`namespace\` to be 1–64 letters, digits or _ . : -, got "${namespace}"`, { field: 'namespace' })
  }
  const base = `${prefix}:{${namespace}}:`
  return {
    namespace,
    base,
    schedule: `${base}schedule`,
    recurring: `${base}recurring`,
    queues: `${base}queues`,
    routes: `${base}routes`,
    outbox: `${base}outbox`,
    lock: `${base}lock`,
    schedulers: `${base}schedulers`,
    scheduler: (name: string) => `${base}scheduler:${name}`,
    wake: `${base}wake`,
    readyChannel: `${base}ready`,
    job: (id: string) => `${base}j:${id}`,
    ready: (queue: string) => `${base}q:${queue}`,
    failed: (queue: string) => `${base}failed:${queue}`,
    started: (queue: string) => `${base}started:${queue}`,
    finished: (queue: string) => `${base}finished:${queue}`,
    deferred: (queue: string) => `${base}deferred:${queue}`,
    canceled: (queue: string) => `${base}canceled:${queue}`,
    registry: (registry: RegistryName, queue: string) => `${base}${registry}:${queue}`,
    dependents: (id: string) => `${base}dependents:${id}`,
    workers: `${base}workers`,
    worker: (name: string) => `${base}worker:${name}`,
  }
}
