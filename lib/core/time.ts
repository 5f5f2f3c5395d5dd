/**
 * Time math for at / in / every / cron, pure: every function takes the instants it needs as
 * arguments and never reads a clock. All instants are epoch milliseconds.
 *
 * Cron runs on wall-clock time in the job's IANA time zone. The rule at daylight-saving changes:
 * - spring forward (a wall-clock hour does not exist): a match inside the gap runs once, at the
 *   first instant after the gap; matches inside one gap coalesce into that one run;
 * - fall back (a wall-clock hour happens twice): each matching wall-clock time runs once, in its
 *   first occurrence; the repeated hour runs nothing.
 * cron-parser only ever sees naive wall-clock times in UTC, where no DST exists; this module maps
 * wall-clock times to instants itself.
 */
import { CronExpressionParser } from 'cron-parser'
import { DueqError, describe } from './errors.ts'

export const MAX_TIME_MS = 8.64e15 // the largest instant a Date holds

/** Throws unless `tz` is an IANA zone this runtime knows. Returns the canonical spelling. */
export function validateTimeZone(tz: unknown, field = 'tz'): string {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64) {
    throw new DueqError('INVALID_TIMEZONE', `Expected \`${field}\` to be an IANA time zone such as "Europe/Paris", got ${describe(tz)}`, { field })
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone
  } catch {
    throw new DueqError('INVALID_TIMEZONE', `Expected \`${field}\` to be an IANA time zone such as "Europe/Paris", got unknown zone "${tz}"`, { field })
  }
}

/** Throws unless `expr` is a 5-field (minute first) or 6-field (second first) cron line. */
export function validateCron(expr: unknown, field = 'cron'): string {
  if (typeof expr !== 'string' || expr.length > 256) {
    throw new DueqError('INVALID_CRON', `Expected \`${field}\` to be a cron line of 5 or 6 fields, got ${describe(expr)}`, { field })
  }
  const trimmed = expr.trim().replace(/\s+/g, ' ')
  const fields = trimmed === '' ? 0 : trimmed.split(' ').length
  if (fields !== 5 && fields !== 6) {
    throw new DueqError('INVALID_CRON', `Expected \`${field}\` to have 5 fields (minute hour day month weekday) or 6 (second first), got ${fields} in "${expr}"`, { field })
  }
  try {
    const it = CronExpressionParser.parse(trimmed, { currentDate: new Date(0), tz: 'UTC' })
    it.next() // rejects lines that can never match, such as "0 0 30 2 *"
  } catch (e) {
    throw new DueqError('INVALID_CRON', `Expected \`${field}\` to be a valid cron line, got "${expr}": ${(e as Error).message}`, { field, cause: e })
  }
  return trimmed
}

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    })
    formatters.set(tz, f)
  }
  return f
}

/** The wall-clock time of instant `t` in `tz`, as a naive timestamp (the same digits read as UTC). */
export function wallClock(t: number, tz: string): number {
  if (tz === 'UTC') return t
  const p: Record<string, number> = {}
  for (const part of formatter(tz).formatToParts(new Date(t))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value)
  }
  const ms = ((t % 1000) + 1000) % 1000
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!, ms)
}

const offsetAt = (t: number, tz: string) => wallClock(t, tz) - t

/**
 * The instant at which wall-clock time `wall` (naive, read as UTC) happens in `tz`: the earlier
 * one when it happens twice, the first instant after the gap when it never happens.
 */
export function instantOf(wall: number, tz: string): number {
  if (tz === 'UTC') return wall
  const DAY = 86_400_000 // no zone changes its offset twice within two days
  const before = offsetAt(wall - DAY, tz)
  const after = offsetAt(wall + DAY, tz)
  const candidates = [wall - before, wall - after].filter((t) => wallClock(t, tz) === wall)
  if (candidates.length > 0) return Math.min(...candidates)
  // In a gap: binary search for the first instant that already has the later offset.
  let lo = Math.min(wall - before, wall - after)
  let hi = Math.max(wall - before, wall - after)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(mid, tz) === after) hi = mid
    else lo = mid
  }
  return hi
}

/** The first instant strictly after `after` at which the cron line `expr` matches in `tz`. */
export function nextCron(expr: string, tz: string, after: number): number {
  let wall = wallClock(after, tz)
  // A few iterations at most: only wall times already passed in a repeated hour are skipped.
  for (let guard = 0; guard < 1000; guard++) {
    const it = CronExpressionParser.parse(expr, { currentDate: new Date(wall), tz: 'UTC' })
    wall = it.next().getTime()
    const t = instantOf(wall, tz)
    if (t > after) return t
  }
  throw new DueqError('INVALID_CRON', `cron line "${expr}" has no next run in ${tz}`, { field: 'cron' })
}

/** How a recurring job repeats: a fixed interval anchored on its first slot, or a cron line. */
export type Recurrence =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; cron: string; tz: string }

/** The slot after `slot`, anchored: never derived from "now", so intervals do not drift. */
export function nextSlot(rec: Recurrence, slot: number): number {
  return rec.kind === 'every' ? slot + rec.everyMs : nextCron(rec.cron, rec.tz, slot)
}

/** What to do with slots missed while no scheduler ran. */
export type MisfirePolicy = 'coalesce' | 'skip' | 'all'

/** `all` runs each missed slot, up to this many per pass, so a long outage cannot flood the queues. */
export const MISFIRE_ALL_CAP = 100

/**
 * Plans one pass for a recurring job whose slot `slot` is due at `now` (slot <= now).
 * Returns the slots to run now (oldest first) and the next slot to schedule, or `next: null`
 * when `remaining` runs are used up (remaining = runs left including this one; null = forever).
 *
 * - coalesce: one run now (for `slot`), then the first slot after `now`.
 * - skip: runs only when `slot` itself was not missed, i.e. no later slot is also due; otherwise
 *   the missed slots are dropped and the job waits for the first slot after `now`.
 * - all: runs every due slot up to MISFIRE_ALL_CAP, then continues from the slot after the last.
 */
export function planSlots(rec: Recurrence, slot: number, now: number, policy: MisfirePolicy, remaining: number | null): { run: number[]; next: number | null; remaining: number | null } {
  const run: number[] = []
  let cursor = slot
  let left = remaining
  const take = (s: number) => {
    run.push(s)
    if (left !== null) left -= 1
  }
  if (policy === 'all') {
    while (cursor <= now && run.length < MISFIRE_ALL_CAP && (left === null || left > 0)) {
      take(cursor)
      cursor = nextSlot(rec, cursor)
    }
  } else {
    let following = nextSlot(rec, cursor)
    const missed = following <= now
    while (following <= now) following = skipAhead(rec, following, now)
    if (policy === 'coalesce' || !missed) take(slot)
    cursor = following
  }
  if (left !== null && left <= 0) return { run, next: null, remaining: 0 }
  return { run, next: cursor, remaining: left }
}

/** Advances past `now` quickly for fixed intervals (a long outage must not loop per slot). */
function skipAhead(rec: Recurrence, slot: number, now: number): number {
  if (rec.kind === 'every') return slot + Math.floor((now - slot) / rec.everyMs + 1) * rec.everyMs
  return nextCron(rec.cron, rec.tz, Math.max(slot, now))
}
