import { describe, expect, it } from 'vitest'
import { DueqError } from '../../lib/core/errors.ts'
import { MAX_PAYLOAD_BYTES, normalizeSpec, toInstant, toJson } from '../../lib/core/job.ts'

const code = (fn: () => unknown) => {
  try { fn() } catch (e) { return (e as DueqError).code }
  return 'no error'
}

describe('normalizeSpec', () => {
  it('fills defaults and keeps rarely used options in one JSON field', () => {
    const n = normalizeSpec({ name: 'x', data: { a: 1 }, meta: { s: 'mine' }, retry: { max: 2 } }, 'default')
    expect(n).toMatchObject({ name: 'x', dataJson: '{"a":1}', queue: 'default', atFront: false, misfire: 'coalesce', overlap: 'skip' })
    expect(JSON.parse(n.optionsJson)).toEqual({ meta: { s: 'mine' }, retry: { max: 2 } })
    expect(normalizeSpec({ name: 'x' }, 'q').optionsJson).toBe('')
  })
  it('accepts a single dependsOn id and dedupes a list', () => {
    expect(normalizeSpec({ name: 'x', dependsOn: 'a' }, 'q').dependsOn).toEqual(['a'])
    expect(normalizeSpec({ name: 'x', dependsOn: ['a', 'b', 'a'] }, 'q').dependsOn).toEqual(['a', 'b'])
    expect(code(() => normalizeSpec({ name: 'x', id: 'a', dependsOn: ['a'] }, 'q'))).toBe('INVALID_ARGUMENT')
  })
  it('names the field in messages, with the caller-chosen prefix', () => {
    expect(() => normalizeSpec({ name: 'x', timeoutMs: -5 }, 'q', 'jobs[2]')).toThrow('`jobs[2].timeoutMs`')
    expect(() => normalizeSpec({ name: 'x', bogus: 1 }, 'q')).toThrow('`spec.bogus`')
  })
  it('rejects non-objects', () => {
    expect(code(() => normalizeSpec(null, 'q'))).toBe('INVALID_ARGUMENT')
    expect(code(() => normalizeSpec([], 'q'))).toBe('INVALID_ARGUMENT')
    expect(code(() => normalizeSpec('x', 'q'))).toBe('INVALID_ARGUMENT')
  })
})

describe('toJson', () => {
  it('passes JSON through unchanged', () => {
    expect(toJson({ a: [1, 'b', null, true, { c: 2.5 }] }, 'data')).toBe('{"a":[1,"b",null,true,{"c":2.5}]}')
  })
  it('refuses what JSON would silently change', () => {
    expect(code(() => toJson({ a: undefined }, 'data'))).toBe('NOT_JSON')
    expect(code(() => toJson([Infinity], 'data'))).toBe('NOT_JSON')
    expect(code(() => toJson(new Map(), 'data'))).toBe('NOT_JSON')
  })
  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 }
    expect(toJson({ a: shared, b: shared }, 'data')).toBe('{"a":{"x":1},"b":{"x":1}}')
  })
  it('measures the size in bytes, not characters', () => {
    expect(code(() => toJson('é'.repeat(MAX_PAYLOAD_BYTES / 2 + 1), 'data'))).toBe('PAYLOAD_TOO_LARGE')
    expect(code(() => toJson('é'.repeat(MAX_PAYLOAD_BYTES / 2 - 10), 'data'))).toBe('no error')
  })
})

describe('toInstant', () => {
  it('accepts Dates and epoch ms, refuses the rest', () => {
    expect(toInstant(new Date(5), 'at')).toBe(5)
    expect(toInstant(7, 'at')).toBe(7)
    for (const bad of [new Date('x'), '2030-01-01', 1.5, -1, Number.NaN, null]) expect(code(() => toInstant(bad, 'at'))).toBe('INVALID_DATE')
  })
})
