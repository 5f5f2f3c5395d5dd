/**
 * The scheduler core: one pass (`tick`) moves every due job to its queue, in batches of up to
 * `batchSize` entries: `due` reads up to four batches and moves the plain jobs among them (one
 * round trip for all of them), then the `dispatch` of each batch of the other entries writes
 * atomically, all four sent back to back (two round trips or fewer per batch).
 *
 * What can overlap, and why nothing is lost or doubled:
 *   - Several schedulers: only the lock owner dispatches. `due` and `dispatch` both check the
 *     owner token (and extend the lock) inside the script, so a scheduler whose lock expired
 *     mid-pass, e.g. paused by GC or a frozen Lambda, has its next batch refused as a whole.
 *   - A cancel, replace or changeExecutionTime between `due` and `dispatch`: `dispatch` re-checks
 *     that each entry is still scheduled and due (a recurring job: at the same slot, with the same
 *     recurrence) and skips what changed. Plain jobs have no such window: `due` moves them in the
 *     step that reads them.
 *   - SQS target: `due` and `dispatch` move runs into the outbox with a lease in the same atomic
 *     step that takes them off the schedule; the pass then sends and acknowledges. A pass that
 *     dies between the two leaves the runs leased; once the lease expires the next pass sends them
 *     again. So SQS gets every run at least once, a duplicate only after such a crash, and workers
 *     dedupe by run id.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { planEntry, type Instruction } from './core/plan.ts'
import type { DispatchTarget, OutboundMessage, RunMessage } from './dispatch.ts'
import type { Keys } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { listLive, registerInstance, type LifeEvent } from './lifecycle.ts'
import { runScript } from './redis/scripts.ts'

export interface TickResult {
  /** False when another scheduler holds the lock: a normal outcome, nothing was done. */
  acquired: boolean
  /** Runs moved to a ready queue or handed to SQS. */
  dispatched: number
  /** Recurring jobs rescheduled for their next slot (or ended). */
  rescheduled: number
  /** Runs not queued because a run of the same job was still active (overlap: skip). */
  skipped: number
  /** Entries moved to the failed registry (corrupt record, unknown handler). */
  failed: number
  /** Entries that changed between the read and the write of a batch; retried by the next batch. */
  stale: number
  /** Outbox runs sent again after their lease expired (SQS target). */
  resent: number
  batches: number
  /** Earliest due time left in the schedule, null when it is empty. */
  nextDueAt: number | null
}

export interface CoreOptions {
  redis: RedisPort
  keys: Keys
  defaultQueue: string
  clock: () => number
  target: DispatchTarget
  /** Names of the registered handlers; a job whose record dispatch reads and that names another
   *  one fails instead of being queued (plain jobs move unread: see Scheduler's `jobs`). */
  handlerNames?: () => readonly string[]
  lockTtlMs: number
  batchSize: number
  name: string
}

const MAX_BATCHES_PER_TICK = 2_000
/** Batches read at once and dispatched back to back. */
const READ_AHEAD = 4
const DEFAULT_LEASE_MS = 30_000

export const newInstanceName = () => `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}.${process.pid}.${randomBytes(3).toString('hex')}`

const empty = (acquired: boolean): TickResult => ({ acquired, dispatched: 0, rescheduled: 0, skipped: 0, failed: 0, stale: 0, resent: 0, batches: 0, nextDueAt: null })

export class SchedulerCore {
  readonly token = randomBytes(16).toString('hex')
  private holding = false

  constructor(readonly o: CoreOptions) {}

  /** Takes the lock if it is free (or already ours). "Not acquired" is a normal result. */
  async acquire(): Promise<boolean> {
    const { redis, keys, lockTtlMs } = this.o
    const set = await redis.call(['SET', keys.lock, this.token, 'NX', 'PX', lockTtlMs])
    this.holding = set === 'OK' || (await redis.call(['GET', keys.lock])) === this.token
    return this.holding
  }

  /** Releases the lock if it is still ours. */
  async release(): Promise<boolean> {
    this.holding = false
    return (await runScript(this.o.redis, 'release_lock', [this.o.keys.lock], [this.token])) === 1
  }

  /** One pass: every job due at `now` goes to its queue; recurring jobs get their next slot. */
  async tick(options: { now?: number } = {}): Promise<TickResult> {
    const now = options.now ?? this.o.clock()
    if (!this.holding && !(await this.acquire())) return empty(false)
    const result = empty(true)
    const { redis, keys, lockTtlMs, batchSize } = this.o
    while (result.batches < MAX_BATCHES_PER_TICK) {
      const read = await runScript(redis, 'due',
        [keys.lock, keys.schedule, keys.queues, keys.recurring, keys.outbox, keys.routes, keys.ready('default')],
        [this.token, lockTtlMs, now, batchSize * READ_AHEAD, this.o.target.kind, this.leaseMs(), keys.readyChannel])
      if (read === -1) return this.lost(result)
      const [joinedMembers, joinedScores, queues, recs, expired, earliest, moved, plainOutboxed] = read as [string, string, string[], (string | null | false)[], string[], string | null | false, number, string[]]
      result.nextDueAt = earliest ? Number(earliest) : null
      if (expired.length > 0 && this.o.target.kind === 'sqs') {
        const resent = await this.resend(expired, now)
        if (resent === -1) return this.lost(result)
        result.resent += resent
      }
      if (moved > 0) {
        result.dispatched += moved
        result.batches += 1
        if (plainOutboxed.length > 0) await this.sendAndAcknowledge(plainOutboxed)
      }
      if (joinedMembers === '') {
        if (moved === 0 || result.nextDueAt === null || result.nextDueAt > now) break
        continue
      }
      const members = joinedMembers.split('\n')
      const scores = joinedScores.split('\n')
      const plan = members.map((member, i) => planEntry({ member, score: Number(scores[i]), recJson: recs[i] || null }, now))
      // The batches of one read go out together: Redis runs one while Node encodes the next.
      const chunks: Instruction[][] = []
      for (let i = 0; i < plan.length; i += batchSize) chunks.push(plan.slice(i, i + batchSize))
      const written = await Promise.all(chunks.map((chunk) => this.dispatch(chunk, queues, now)))
      result.batches += chunks.length
      let next: number | null = null
      const outboxed: string[] = []
      let lost = false
      for (const w of written) {
        if (w === -1) { lost = true; continue }
        result.dispatched += w[0]
        result.rescheduled += w[1]
        result.skipped += w[2]
        result.failed += w[3]
        result.stale += w[4]
        outboxed.push(...w[5])
        // Over HTTP the batches may land in any order: the earliest report is the safe one.
        if (w[6]) next = next === null ? Number(w[6]) : Math.min(next, Number(w[6]))
      }
      if (outboxed.length > 0) await this.sendAndAcknowledge(outboxed)
      if (lost) return this.lost(result)
      result.nextDueAt = next
      if (result.nextDueAt === null || result.nextDueAt > now) break
    }
    return result
  }

  private leaseMs(): number {
    const target = this.o.target
    return target.kind === 'sqs' ? (target.leaseMs ?? DEFAULT_LEASE_MS) : 0
  }

  private lost(result: TickResult): TickResult {
    this.holding = false
    return { ...result, acquired: false }
  }

  private async dispatch(plan: Instruction[], queues: string[], now: number) {
    const { keys, lockTtlMs } = this.o
    const names = this.o.handlerNames?.() ?? []
    const keyList = [keys.lock, keys.schedule, keys.recurring, keys.outbox]
    for (const q of queues) keyList.push(keys.ready(q), keys.failed(q), keys.deferred(q))
    const args: (string | number)[] = [
      this.token, lockTtlMs, now, this.o.target.kind, this.leaseMs(),
      keys.readyChannel, names.join(' '), this.o.defaultQueue, queues.length, ...queues,
    ]
    // Three sections, in the order dispatch.lua reads them: one-off, recurring, failing.
    const once = plan.filter((p) => p.kind === 'once')
    const recurring = plan.filter((p) => p.kind === 'recurring')
    const failing = plan.filter((p) => p.kind === 'fail')
    args.push(once.length)
    for (const p of once) { keyList.push(keys.job(p.member)); args.push(p.member) }
    args.push(recurring.length)
    for (const p of recurring) {
      keyList.push(keys.job(p.member))
      args.push(p.member, p.score, p.recJson, p.nextRecJson, p.next ?? '', p.slots.join(','), p.skipIfActive ? '1' : '')
    }
    args.push(failing.length)
    for (const p of failing) { keyList.push(keys.job(p.member)); args.push(p.member, p.score, p.reason) }
    const runKeys = recurring.flatMap((p) => p.slots.map((slot) => keys.job(`${p.member}@${slot}`)))
    const reply = await runScript(this.o.redis, 'dispatch', [...keyList, ...runKeys, keys.routes], args)
    if (reply === -1) return -1
    const [d, r, s, f, st, outboxed, next] = reply as [number, number, number, number, number, string[], string | null | false]
    return [d, r, s, f, st, outboxed, next] as const
  }

  /** Re-leases expired outbox entries and sends them again. */
  private async resend(expired: string[], now: number): Promise<number> {
    const { keys, lockTtlMs } = this.o
    if (this.o.target.kind !== 'sqs') return 0
    const leased = await runScript(this.o.redis, 'lease_outbox', [keys.lock, keys.outbox, ...expired.map((id) => keys.job(id))], [this.token, lockTtlMs, now, this.leaseMs(), ...expired])
    if (leased === -1) return -1
    const flat = leased as string[]
    if (flat.length > 0) await this.sendAndAcknowledge(flat)
    return flat.length / 2
  }

  /**
   * Sends `[runId, queue, …]` to SQS, grouped by queue, then removes the sent ones from the outbox.
   * Failed entries stay leased and go again when their lease expires.
   */
  private async sendAndAcknowledge(flat: string[]): Promise<void> {
    const target = this.o.target
    if (target.kind !== 'sqs') return
    const byQueue = new Map<string, OutboundMessage[]>()
    for (let i = 0; i < flat.length; i += 2) {
      const run = flat[i]!
      const queue = flat[i + 1]!
      const body: RunMessage = { v: 1, ns: this.o.keys.namespace, run, q: queue }
      let list = byQueue.get(queue)
      if (!list) byQueue.set(queue, (list = []))
      list.push({ id: run, body: JSON.stringify(body) })
    }
    const outcomes = await Promise.allSettled([...byQueue].map(([queue, messages]) => target.sender.send(queue, messages)))
    const failed = new Set<string>()
    outcomes.forEach((outcome, i) => {
      const messages = [...byQueue.values()][i]!
      if (outcome.status === 'rejected') messages.forEach((m) => failed.add(m.id))
      else outcome.value.failed.forEach((id) => failed.add(id))
    })
    const sent: string[] = []
    for (let i = 0; i < flat.length; i += 2) if (!failed.has(flat[i]!)) sent.push(flat[i]!)
    if (sent.length > 0) await this.o.redis.call(['ZREM', this.o.keys.outbox, ...sent])
  }

  /** Records birth, a heartbeat or death of this instance in the registry. */
  register(event: LifeEvent, ttlMs: number, fields: Record<string, string | number> = {}): Promise<void> {
    const { keys, name } = this.o
    return registerInstance(this.o.redis, keys.schedulers, keys.scheduler(name), name, { event, now: this.o.clock(), ttlMs, fields })
  }
}

export interface SchedulerInstance {
  name: string
  host: string
  pid: number
  birth: Date
  heartbeat: Date
  lastPass: TickResult | null
}

/** Live scheduler instances: those whose last heartbeat is within `ttlMs`. */
export async function listInstances(redis: RedisPort, keys: Keys, now: number, ttlMs: number): Promise<SchedulerInstance[]> {
  return (await listLive(redis, keys.schedulers, keys.scheduler, now, ttlMs)).map(({ name, h }) => ({
    name, host: h.host ?? '', pid: Number(h.pid), birth: new Date(Number(h.birth)), heartbeat: new Date(Number(h.heartbeat)),
    lastPass: h.lastPass ? (JSON.parse(h.lastPass) as TickResult) : null,
  }))
}
