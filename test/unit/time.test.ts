import { describe, expect, it } from 'vitest'
import { DueqError } from '../../lib/core/errors.ts'
import { instantOf, nextCron, nextSlot, planSlots, validateCron, validateTimeZone, wallClock, type Recurrence } from '../../lib/core/time.ts'

const NY = 'America/New_York'
const iso = (t: number) => new Date(t).toISOString()
const at = (s: string) => Date.parse(s)

/** Every run of `expr` in (from, to], as ISO instants. */
function runs(expr: string, tz: string, from: string, to: string): string[] {
  const out: string[] = []
  for (let t = nextCron(expr, tz, at(from)); t <= at(to); t = nextCron(expr, tz, t)) out.push(iso(t))
  return out
}

describe('wall clock ↔ instant in a time zone', () => {
  it('maps an ordinary New York time both ways', () => {
    expect(iso(wallClock(at('2026-07-04T16:00:00.123Z'), NY))).toBe('2026-07-04T12:00:00.123Z')
    expect(iso(instantOf(at('2026-07-04T12:00:00.123Z'), NY))).toBe('2026-07-04T16:00:00.123Z')
  })
  it('a wall time in the spring-forward gap maps to the first instant after the gap', () => {
    // 2026-03-08 02:00 EST → 03:00 EDT; 02:30 never happens.
    expect(iso(instantOf(at('2026-03-08T02:30:00Z'), NY))).toBe('2026-03-08T07:00:00.000Z')
  })
  it('a wall time in the repeated fall-back hour maps to its first occurrence', () => {
    // 2026-11-01 02:00 EDT → 01:00 EST; 01:30 happens at 05:30Z and at 06:30Z.
    expect(iso(instantOf(at('2026-11-01T01:30:00Z'), NY))).toBe('2026-11-01T05:30:00.000Z')
  })
})

describe('cron in America/New_York across DST', () => {
  it('spring forward: a daily 02:30 runs once, at 03:00 EDT, and normally the days around it', () => {
    expect(runs('30 2 * * *', NY, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:00:00.000Z', // gap → 03:00 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
    ])
  })
  it('spring forward: matches inside the gap coalesce into one run at the end of the gap', () => {
    expect(runs('*/20 * * * *', NY, '2026-03-08T06:30:00Z', '2026-03-08T07:45:00Z')).toEqual([
      '2026-03-08T06:40:00.000Z', // 01:40 EST
      '2026-03-08T07:00:00.000Z', // 02:00, 02:20, 02:40 (gap) and 03:00 EDT: one run
      '2026-03-08T07:20:00.000Z', // 03:20 EDT
      '2026-03-08T07:40:00.000Z',
    ])
  })
  it('fall back: a daily 01:30 runs once, in the first 01:30', () => {
    expect(runs('30 1 * * *', NY, '2026-10-31T00:00:00Z', '2026-11-02T12:00:00Z')).toEqual([
      '2026-10-31T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT, not again at 01:30 EST
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ])
  })
  it('fall back: each wall-clock time of the repeated hour runs exactly once', () => {
    const got = runs('*/30 * * * *', NY, '2026-11-01T04:45:00Z', '2026-11-01T07:45:00Z')
    expect(got).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      // 01:00 and 01:30 EST are the same wall-clock times: skipped
      '2026-11-01T07:00:00.000Z', // 02:00 EST
      '2026-11-01T07:30:00.000Z',
    ])
  })
  it('starting inside the repeated hour does not run a wall time that already happened', () => {
    // 01:10 EST (second pass): 01:15 EDT already happened an hour ago, so the next is 02:15 EST.
    expect(iso(nextCron('15 * * * *', NY, at('2026-11-01T06:10:00Z')))).toBe('2026-11-01T07:15:00.000Z')
  })
  it('six fields means seconds first', () => {
    expect(runs('*/20 * * * * *', 'UTC', '2030-01-01T00:00:00Z', '2030-01-01T00:01:00Z')).toEqual([
      '2030-01-01T00:00:20.000Z', '2030-01-01T00:00:40.000Z', '2030-01-01T00:01:00.000Z',
    ])
  })
  it('the next run is strictly after the given instant', () => {
    expect(iso(nextCron('0 * * * *', 'UTC', at('2030-01-01T10:00:00Z')))).toBe('2030-01-01T11:00:00.000Z')
    expect(iso(nextCron('0 * * * *', 'UTC', at('2030-01-01T09:59:59.999Z')))).toBe('2030-01-01T10:00:00.000Z')
  })
  it('respects other zones, e.g. a half-hour offset', () => {
    expect(iso(nextCron('0 9 * * *', 'Asia/Kolkata', at('2030-01-01T00:00:00Z')))).toBe('2030-01-01T03:30:00.000Z')
  })
})

describe('validation of cron lines and zones', () => {
  it.each(['* * *', '* * * *', '0 0 0 * * * *', '', 'nope', '61 * * * *', '0 0 30 2 *', '@daily'])('rejects %j', (expr) => {
    expect(() => validateCron(expr)).toThrow(DueqError)
    try { validateCron(expr) } catch (e) { expect((e as DueqError).code).toBe('INVALID_CRON') }
  })
  it('accepts 5 and 6 fields and normalizes spaces', () => {
    expect(validateCron(' */5  * * * * ')).toBe('*/5 * * * *')
    expect(validateCron('0 */5 * * * *')).toBe('0 */5 * * * *')
  })
  it('rejects unknown zones up front', () => {
    expect(() => validateTimeZone('Mars/Base')).toThrow(/IANA/)
    expect(() => validateTimeZone('')).toThrow(DueqError)
    expect(validateTimeZone('America/New_York')).toBe('America/New_York')
  })
})

describe('recurring slots', () => {
  const every: Recurrence = { kind: 'every', everyMs: 10_000 }
  const T = at('2030-01-01T00:00:00Z')

  it('every-N is anchored on the previous slot, never on now', () => {
    expect(nextSlot(every, T)).toBe(T + 10_000)
    // the pass ran 3.7 s late: the next slot is still T + 10 s
    expect(planSlots(every, T, T + 3_700, 'coalesce', null)).toEqual({ run: [T], next: T + 10_000, remaining: null })
  })
  it('after downtime, coalesce runs once now and continues at the next future slot', () => {
    expect(planSlots(every, T, T + 35_000, 'coalesce', null)).toEqual({ run: [T], next: T + 40_000, remaining: null })
  })
  it('after downtime, skip drops the missed slots', () => {
    expect(planSlots(every, T, T + 35_000, 'skip', null)).toEqual({ run: [], next: T + 40_000, remaining: null })
    // on time (or late by less than one interval) it runs
    expect(planSlots(every, T, T + 9_999, 'skip', null)).toEqual({ run: [T], next: T + 10_000, remaining: null })
  })
  it('after downtime, all runs every missed slot, capped', () => {
    expect(planSlots(every, T, T + 35_000, 'all', null)).toEqual({ run: [T, T + 10_000, T + 20_000, T + 30_000], next: T + 40_000, remaining: null })
    const long = planSlots(every, T, T + 86_400_000, 'all', null)
    expect(long.run).toHaveLength(100)
    expect(long.next).toBe(T + 100 * 10_000)
  })
  it('repeat counts down to the last run, then the schedule ends', () => {
    expect(planSlots(every, T, T, 'coalesce', 3)).toEqual({ run: [T], next: T + 10_000, remaining: 2 })
    expect(planSlots(every, T, T, 'coalesce', 1)).toEqual({ run: [T], next: null, remaining: 0 })
    expect(planSlots(every, T, T + 35_000, 'all', 2)).toEqual({ run: [T, T + 10_000], next: null, remaining: 0 })
  })
  it('cron slots coalesce the same way in their zone', () => {
    const cron: Recurrence = { kind: 'cron', cron: '0 * * * *', tz: NY }
    const slot = at('2030-01-01T10:00:00Z')
    expect(planSlots(cron, slot, slot + 3 * 3_600_000 + 60_000, 'coalesce', null)).toEqual({ run: [slot], next: slot + 4 * 3_600_000, remaining: null })
  })
})
