/**
 * Plans one dispatch batch: what the atomic dispatch step does with each due schedule entry.
 * Pure: the entries, their recurrences and `now` in, instructions out.
 */
import { planSlots, validateCron, validateTimeZone, type MisfirePolicy, type Recurrence } from './time.ts'

/** A due entry as the schedule holds it: a job id (or `<id>@<slot>` for a retried run) and its due time. */
export interface DueEntry {
  member: string
  /** Its due time: for a recurring job, the slot being run (one-off entries only need to be due). */
  score: number
  /** The recurrence JSON of a recurring job, exactly as stored; null for one-off jobs and runs. */
  recJson: string | null
}

export type Instruction =
  /** Move the one-off job or retried run to its queue. */
  | { kind: 'once'; member: string }
  /** Queue a run per slot (unless `skipIfActive` and a run is still active), then reschedule. */
  | { kind: 'recurring'; member: string; score: number; recJson: string; slots: number[]; skipIfActive: boolean; next: number | null; nextRecJson: string }
  /** Take the entry out of the schedule and into the failed registry. */
  | { kind: 'fail'; member: string; score: number; reason: string }

interface StoredRecurrence {
  every?: number
  cron?: string
  tz?: string
  misfire?: MisfirePolicy
  overlap?: 'skip' | 'allow'
  left?: number
}

function parseRecurrence(json: string): { rec: Recurrence; stored: StoredRecurrence } {
  const stored = JSON.parse(json) as StoredRecurrence
  if (typeof stored !== 'object' || stored === null) throw new Error('recurrence is not an object')
  if (typeof stored.every === 'number' && Number.isSafeInteger(stored.every) && stored.every >= 1) {
    return { rec: { kind: 'every', everyMs: stored.every }, stored }
  }
  if (typeof stored.cron === 'string') {
    return { rec: { kind: 'cron', cron: validateCron(stored.cron), tz: validateTimeZone(stored.tz ?? 'UTC') }, stored }
  }
  throw new Error('recurrence has neither a valid `every` nor `cron`')
}

export function planEntry(entry: DueEntry, now: number): Instruction {
  const { member, score, recJson } = entry
  if (recJson === null) return { kind: 'once', member }
  try {
    const { rec, stored } = parseRecurrence(recJson)
    const policy = stored.misfire ?? 'coalesce'
    if (policy !== 'coalesce' && policy !== 'skip' && policy !== 'all') throw new Error(`unknown misfire policy ${String(policy)}`)
    const left = stored.left === undefined ? null : stored.left
    const plan = planSlots(rec, score, now, policy, left)
    const nextStored: StoredRecurrence = { ...stored }
    if (plan.remaining === null) delete nextStored.left
    else nextStored.left = plan.remaining
    return {
      kind: 'recurring', member, score, recJson, slots: plan.run,
      skipIfActive: (stored.overlap ?? 'skip') === 'skip', next: plan.next, nextRecJson: JSON.stringify(nextStored),
    }
  } catch (e) {
    return { kind: 'fail', member, score, reason: `corrupt recurrence: ${(e as Error).message}` }
  }
}
