/**
 * A corpus of bad requests, each a distinct way to get a request wrong. For every one the API must
 * answer the expected 4xx (never a 5xx) with a body naming the problem (`error.code`, a message,
 * and the field when there is one), and write nothing: no key of the namespace exists afterwards.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { createApiHandler } from '../../functions/api.ts'
import type { Runtime } from '../../functions/shared/runtime.ts'
import { loadConfig } from '../../lib/config.ts'
import { JobRegistry, Scheduler } from '../../lib/index.ts'
import { httpEvent, type HttpEventOptions } from '../fixtures/events/index.ts'
import { lambdaContext } from '../support/lambda.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

const KEY = 'corpus-key-0123456789abcdef'
const AT = '2030-01-01T12:00:00Z'

interface Case {
  title: string
  request: HttpEventOptions
  status: number
  code: string
  /** The field the error must name; null when the error is about no field (routing). */
  field: string | null
}

const post = (body: unknown): HttpEventOptions => ({ method: 'POST', path: '/v1/jobs', body })
/** A body sent byte for byte, declared as JSON. */
const raw = (text: string, method = 'POST', path = '/v1/jobs'): HttpEventOptions => ({ method, path, body: text, headers: { 'content-type': 'application/json' } })
const getJobs = (query: Record<string, string | string[]>): HttpEventOptions => ({ path: '/v1/jobs', query })
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) })

/** [title, request, status, code, field] */
const table: [string, HttpEventOptions, number, string, string | null][] = [
  // The body as a whole
  ['body that is not JSON', raw('{name: "noop"'), 400, 'NOT_JSON', 'body'],
  ['empty body', raw(''), 400, 'NOT_JSON', 'body'],
  ['whitespace-only body', raw('  \n\t '), 400, 'NOT_JSON', 'body'],
  ['JSON with trailing garbage', raw('{"name":"noop","in":1} x'), 400, 'NOT_JSON', 'body'],
  ['single-quoted JSON', raw("{'name':'noop','in':1}"), 400, 'NOT_JSON', 'body'],
  ['body null', raw('null'), 400, 'INVALID_ARGUMENT', 'body'],
  ['body an array where an object is expected', raw('[{"name":"noop","in":1}]'), 400, 'INVALID_ARGUMENT', 'body'],
  ['body a string', raw('"noop"'), 400, 'INVALID_ARGUMENT', 'body'],
  ['body a number', raw('42'), 400, 'INVALID_ARGUMENT', 'body'],
  ['body a boolean', raw('true'), 400, 'INVALID_ARGUMENT', 'body'],
  ['body bytes that are not UTF-8 (base64)', { method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'), base64: true }, 400, 'NOT_JSON', 'body'],
  ['body over 256 KiB', post({ name: 'noop', in: 0, data: 'x'.repeat(262_144) }), 413, 'PAYLOAD_TOO_LARGE', 'body'],
  ['body over 256 KiB, base64-encoded', { ...post({ name: 'noop', in: 0, data: 'y'.repeat(262_144) }), base64: true }, 413, 'PAYLOAD_TOO_LARGE', 'body'],
  ['a megabyte of brackets', raw('['.repeat(1_048_576)), 413, 'PAYLOAD_TOO_LARGE', 'body'],
  ['job payload over 256 KiB in a smaller body', raw(`{"name":"noop","in":0,"data":[${Array(50_000).fill('1e5').join(',')}]}`), 413, 'PAYLOAD_TOO_LARGE', 'data'],
  ['no content-type', { method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}' }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],
  ['content-type text/plain', { method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],
  ['content-type form-urlencoded', { method: 'POST', path: '/v1/jobs', body: 'name=noop&in=0', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],
  ['JSON in another charset', { method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}', headers: { 'content-type': 'application/json; charset=utf-16' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],
  ['content-type with CRLF injection', { method: 'POST', path: '/v1/jobs', body: '{"name":"noop","in":0}', headers: { 'content-type': 'application/json\r\nx-evil: 1' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],

  // Unknown fields
  ['unknown top-level field', post({ name: 'noop', in: 0, priority: 5 }), 400, 'UNKNOWN_OPTION', 'priority'],
  ['__proto__ key', raw('{"name":"noop","in":0,"__proto__":{"isAdmin":true}}'), 400, 'UNKNOWN_OPTION', '__proto__'],
  ['constructor key', raw('{"name":"noop","in":0,"constructor":{"prototype":{"x":1}}}'), 400, 'UNKNOWN_OPTION', 'constructor'],
  ['the library\'s everyMs instead of every', post({ name: 'noop', everyMs: 1000 }), 400, 'UNKNOWN_OPTION', 'everyMs'],
  ['the library\'s delayMs instead of in', post({ name: 'noop', delayMs: 1000 }), 400, 'UNKNOWN_OPTION', 'delayMs'],
  ['a spec nested under spec', post({ spec: { name: 'noop' }, in: 0 }), 400, 'UNKNOWN_OPTION', 'spec'],
  ['atFront (queue-only option)', post({ name: 'noop', in: 0, atFront: true }), 400, 'UNKNOWN_OPTION', 'atFront'],
  ['field name that looks like a query operator', raw('{"name":"noop","in":0,"$where":"1==1"}'), 400, 'UNKNOWN_OPTION', '$where'],
  ['a misspelt field (Name)', post({ Name: 'noop', in: 0 }), 400, 'UNKNOWN_OPTION', 'Name'],

  // name
  ['missing name', post({ in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name a number', post({ name: 5, in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name empty', post({ name: '', in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name with a space', post({ name: 'send email', in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name starting with a digit', post({ name: '1job', in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name of 129 characters', post({ name: 'a'.repeat(129), in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name with SQL injection', post({ name: "'; DROP TABLE jobs; --", in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name with a script tag', post({ name: '<script>alert(1)</script>', in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name a Mongo-style operator object', post({ name: { $gt: '' }, in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name an array', post({ name: ['noop'], in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name null', post({ name: null, in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],
  ['name with a Lua/Redis command', post({ name: 'noop"); redis.call("FLUSHALL', in: 0 }), 400, 'INVALID_ARGUMENT', 'name'],

  // when: combinations
  ['no at, in, cron or every', post({ name: 'noop' }), 400, 'INVALID_ARGUMENT', 'at'],
  ['at and in', post({ name: 'noop', at: AT, in: 1000 }), 400, 'INVALID_ARGUMENT', 'in'],
  ['at and cron', post({ name: 'noop', at: AT, cron: '* * * * *' }), 400, 'INVALID_ARGUMENT', 'cron'],
  ['in and cron', post({ name: 'noop', in: 1000, cron: '* * * * *' }), 400, 'INVALID_ARGUMENT', 'cron'],
  ['every with in', post({ name: 'noop', in: 1000, every: 1000 }), 400, 'INVALID_ARGUMENT', 'every'],
  ['every with cron', post({ name: 'noop', cron: '* * * * *', every: 1000 }), 400, 'INVALID_ARGUMENT', 'every'],
  ['repeat with at alone', post({ name: 'noop', at: AT, repeat: 3 }), 400, 'INVALID_REPEAT', 'repeat'],
  ['repeat with in', post({ name: 'noop', in: 1000, repeat: 3 }), 400, 'INVALID_REPEAT', 'repeat'],
  ['tz with at', post({ name: 'noop', at: AT, tz: 'Europe/Paris' }), 400, 'INVALID_ARGUMENT', 'tz'],
  ['tz with every', post({ name: 'noop', every: 1000, tz: 'Europe/Paris' }), 400, 'INVALID_ARGUMENT', 'tz'],
  ['dependsOn on a recurring job', post({ name: 'noop', every: 1000, dependsOn: 'x' }), 400, 'INVALID_ARGUMENT', 'dependsOn'],

  // at
  ['at a word', post({ name: 'noop', at: 'tomorrow' }), 400, 'INVALID_DATE', 'at'],
  ['at February 30th', post({ name: 'noop', at: '2030-02-30T00:00:00Z' }), 400, 'INVALID_DATE', 'at'],
  ['at month 13', post({ name: 'noop', at: '2030-13-01T00:00:00Z' }), 400, 'INVALID_DATE', 'at'],
  ['at hour 24', post({ name: 'noop', at: '2030-01-01T24:00:00Z' }), 400, 'INVALID_DATE', 'at'],
  ['at without an offset (local time of nobody knows where)', post({ name: 'noop', at: '2030-01-01T12:00:00' }), 400, 'INVALID_DATE', 'at'],
  ['at a date without a time', post({ name: 'noop', at: '2030-01-01' }), 400, 'INVALID_DATE', 'at'],
  ['at an offset of +25:00', post({ name: 'noop', at: '2030-01-01T12:00:00+25:00' }), 400, 'INVALID_DATE', 'at'],
  ['at an RFC 2822 date', post({ name: 'noop', at: 'Tue, 01 Jan 2030 12:00:00 GMT' }), 400, 'INVALID_DATE', 'at'],
  ['at an empty string', post({ name: 'noop', at: '' }), 400, 'INVALID_DATE', 'at'],
  ['at "NaN"', post({ name: 'noop', at: 'NaN' }), 400, 'INVALID_DATE', 'at'],
  ['at "Infinity"', post({ name: 'noop', at: 'Infinity' }), 400, 'INVALID_DATE', 'at'],
  ['at epoch ms as a string', post({ name: 'noop', at: '1893499200000' }), 400, 'INVALID_DATE', 'at'],
  ['at a negative number', post({ name: 'noop', at: -1 }), 400, 'INVALID_DATE', 'at'],
  ['at a fraction of a millisecond', post({ name: 'noop', at: 1893499200000.5 }), 400, 'INVALID_DATE', 'at'],
  ['at 1e300', post({ name: 'noop', at: 1e300 }), 400, 'INVALID_DATE', 'at'],
  ['at past the largest Date', post({ name: 'noop', at: 8.64e15 + 1 }), 400, 'INVALID_DATE', 'at'],
  ['at before the epoch', post({ name: 'noop', at: '1969-12-31T23:59:59Z' }), 400, 'INVALID_DATE', 'at'],
  ['at a six-digit year', post({ name: 'noop', at: '+275760-09-13T00:00:00Z' }), 400, 'INVALID_DATE', 'at'],
  ['at true', post({ name: 'noop', at: true }), 400, 'INVALID_DATE', 'at'],
  ['at null', post({ name: 'noop', at: null }), 400, 'INVALID_DATE', 'at'],
  ['at an object', post({ name: 'noop', at: { $date: AT } }), 400, 'INVALID_DATE', 'at'],
  ['at an array', post({ name: 'noop', at: [2030, 1, 1] }), 400, 'INVALID_DATE', 'at'],

  // in
  ['in negative', post({ name: 'noop', in: -1 }), 400, 'INVALID_ARGUMENT', 'in'],
  ['in a string', post({ name: 'noop', in: '1000' }), 400, 'INVALID_ARGUMENT', 'in'],
  ['in a fraction', post({ name: 'noop', in: 1.5 }), 400, 'INVALID_ARGUMENT', 'in'],
  ['in 1e309 (Infinity once parsed)', raw('{"name":"noop","in":1e309}'), 400, 'INVALID_ARGUMENT', 'in'],
  ['in past the largest safe integer', raw('{"name":"noop","in":9007199254740993}'), 400, 'INVALID_ARGUMENT', 'in'],
  ['in null', post({ name: 'noop', in: null }), 400, 'INVALID_ARGUMENT', 'in'],
  ['in "NaN"', post({ name: 'noop', in: 'NaN' }), 400, 'INVALID_ARGUMENT', 'in'],

  // cron and tz
  ['cron of three fields', post({ name: 'noop', cron: '* * *' }), 400, 'INVALID_CRON', 'cron'],
  ['cron of seven fields', post({ name: 'noop', cron: '* * * * * * *' }), 400, 'INVALID_CRON', 'cron'],
  ['cron minute 61', post({ name: 'noop', cron: '61 * * * *' }), 400, 'INVALID_CRON', 'cron'],
  ['cron that never matches (Feb 30)', post({ name: 'noop', cron: '0 0 30 2 *' }), 400, 'INVALID_CRON', 'cron'],
  ['cron a number', post({ name: 'noop', cron: 5 }), 400, 'INVALID_CRON', 'cron'],
  ['cron empty', post({ name: 'noop', cron: '' }), 400, 'INVALID_CRON', 'cron'],
  ['cron with SQL injection', post({ name: 'noop', cron: "'; DROP TABLE jobs" }), 400, 'INVALID_CRON', 'cron'],
  ['cron alias @reboot', post({ name: 'noop', cron: '@reboot' }), 400, 'INVALID_CRON', 'cron'],
  ['tz unknown', post({ name: 'noop', cron: '0 9 * * *', tz: 'Mars/Olympus_Mons' }), 400, 'INVALID_TIMEZONE', 'tz'],
  ['tz a number', post({ name: 'noop', cron: '0 9 * * *', tz: 2 }), 400, 'INVALID_TIMEZONE', 'tz'],
  ['tz empty', post({ name: 'noop', cron: '0 9 * * *', tz: '' }), 400, 'INVALID_TIMEZONE', 'tz'],
  ['tz a path traversal', post({ name: 'noop', cron: '0 9 * * *', tz: '../../etc/passwd' }), 400, 'INVALID_TIMEZONE', 'tz'],

  // every and repeat
  ['every 0', post({ name: 'noop', every: 0 }), 400, 'INVALID_INTERVAL', 'every'],
  ['every negative', post({ name: 'noop', every: -1000 }), 400, 'INVALID_INTERVAL', 'every'],
  ['every a string', post({ name: 'noop', every: '1000' }), 400, 'INVALID_INTERVAL', 'every'],
  ['every a fraction', post({ name: 'noop', every: 0.5 }), 400, 'INVALID_INTERVAL', 'every'],
  ['every so large the first run is past the largest Date', post({ name: 'noop', every: 9_000_000_000_000_000 }), 400, 'INVALID_ARGUMENT', 'every'],
  ['repeat 0', post({ name: 'noop', every: 1000, repeat: 0 }), 400, 'INVALID_REPEAT', 'repeat'],
  ['repeat negative', post({ name: 'noop', cron: '* * * * *', repeat: -1 }), 400, 'INVALID_REPEAT', 'repeat'],
  ['repeat a string', post({ name: 'noop', every: 1000, repeat: '3' }), 400, 'INVALID_REPEAT', 'repeat'],
  ['repeat null', post({ name: 'noop', cron: '* * * * *', repeat: null }), 400, 'INVALID_REPEAT', 'repeat'],
  ['repeat a fraction', post({ name: 'noop', every: 1000, repeat: 2.5 }), 400, 'INVALID_REPEAT', 'repeat'],

  // id and queue
  ['id with a space', post({ name: 'noop', in: 0, id: 'a b' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id with CRLF', post({ name: 'noop', in: 0, id: 'a\r\nSET x 1' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id a path traversal', post({ name: 'noop', in: 0, id: '../../etc/passwd' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id in the run-id form', post({ name: 'noop', in: 0, id: 'job@123' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id empty', post({ name: 'noop', in: 0, id: '' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id of 129 characters', post({ name: 'noop', in: 0, id: 'i'.repeat(129) }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id a number', post({ name: 'noop', in: 0, id: 42 }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id an operator object', post({ name: 'noop', in: 0, id: { $gt: '' } }), 400, 'INVALID_ARGUMENT', 'id'],
  ['id a Redis key pattern', post({ name: 'noop', in: 0, id: '*' }), 400, 'INVALID_ARGUMENT', 'id'],
  ['queue empty', post({ name: 'noop', in: 0, queue: '' }), 400, 'INVALID_ARGUMENT', 'queue'],
  ['queue with a slash', post({ name: 'noop', in: 0, queue: 'a/b' }), 400, 'INVALID_ARGUMENT', 'queue'],
  ['queue with a hash tag', post({ name: 'noop', in: 0, queue: '{other}' }), 400, 'INVALID_ARGUMENT', 'queue'],
  ['queue an array', post({ name: 'noop', in: 0, queue: ['default'] }), 400, 'INVALID_ARGUMENT', 'queue'],

  // timeouts, ttls, retry, description, meta
  ['timeoutMs 0', post({ name: 'noop', in: 0, timeoutMs: 0 }), 400, 'INVALID_ARGUMENT', 'timeoutMs'],
  ['timeoutMs "30s"', post({ name: 'noop', in: 0, timeoutMs: '30s' }), 400, 'INVALID_ARGUMENT', 'timeoutMs'],
  ['resultTtlMs negative', post({ name: 'noop', in: 0, resultTtlMs: -1 }), 400, 'INVALID_ARGUMENT', 'resultTtlMs'],
  ['failureTtlMs negative', post({ name: 'noop', in: 0, failureTtlMs: -5 }), 400, 'INVALID_ARGUMENT', 'failureTtlMs'],
  ['failureTtlMs 1e20', post({ name: 'noop', in: 0, failureTtlMs: 1e20 }), 400, 'INVALID_ARGUMENT', 'failureTtlMs'],
  ['retry a number', post({ name: 'noop', in: 0, retry: 3 }), 400, 'INVALID_ARGUMENT', 'retry'],
  ['retry an array', post({ name: 'noop', in: 0, retry: [] }), 400, 'INVALID_ARGUMENT', 'retry'],
  ['retry.max negative', post({ name: 'noop', in: 0, retry: { max: -1 } }), 400, 'INVALID_ARGUMENT', 'retry.max'],
  ['retry.max 101', post({ name: 'noop', in: 0, retry: { max: 101 } }), 400, 'INVALID_ARGUMENT', 'retry.max'],
  ['retry.delaysMs a string', post({ name: 'noop', in: 0, retry: { max: 2, delaysMs: '1s' } }), 400, 'INVALID_ARGUMENT', 'retry.delaysMs'],
  ['retry.delaysMs with a negative delay', post({ name: 'noop', in: 0, retry: { max: 2, delaysMs: [-1] } }), 400, 'INVALID_ARGUMENT', 'retry.delaysMs[0]'],
  ['retry with an unknown key', post({ name: 'noop', in: 0, retry: { max: 1, backoff: 'exponential' } }), 400, 'UNKNOWN_OPTION', 'retry.backoff'],
  ['retry with a __proto__ key', raw('{"name":"noop","in":0,"retry":{"max":1,"__proto__":{"max":100}}}'), 400, 'UNKNOWN_OPTION', 'retry.__proto__'],
  ['description of 2000 characters', post({ name: 'noop', in: 0, description: 'd'.repeat(2000) }), 400, 'INVALID_ARGUMENT', 'description'],
  ['description a number', post({ name: 'noop', in: 0, description: 5 }), 400, 'INVALID_ARGUMENT', 'description'],
  ['meta an array', post({ name: 'noop', in: 0, meta: ['a'] }), 400, 'INVALID_ARGUMENT', 'meta'],
  ['meta a string', post({ name: 'noop', in: 0, meta: 'owner=a' }), 400, 'INVALID_ARGUMENT', 'meta'],
  ['meta null', post({ name: 'noop', in: 0, meta: null }), 400, 'INVALID_ARGUMENT', 'meta'],
  ['meta nested 70 levels deep', post({ name: 'noop', in: 0, meta: nested(70) as object }), 400, 'NOT_JSON', 'meta'],
  ['data nested 70 levels deep', post({ name: 'noop', in: 0, data: nested(70) }), 400, 'NOT_JSON', 'data'],

  // dependsOn, misfire, overlap
  ['dependsOn a job that does not exist', post({ name: 'noop', in: 0, dependsOn: 'missing-job' }), 400, 'JOB_NOT_FOUND', 'dependsOn'],
  ['dependsOn with a number', post({ name: 'noop', in: 0, dependsOn: [1] }), 400, 'INVALID_ARGUMENT', 'dependsOn[0]'],
  ['dependsOn an operator object', post({ name: 'noop', in: 0, dependsOn: { $gt: '' } }), 400, 'INVALID_ARGUMENT', 'dependsOn'],
  ['dependsOn 101 ids', post({ name: 'noop', in: 0, dependsOn: Array.from({ length: 101 }, (_, i) => `j${i}`) }), 400, 'INVALID_ARGUMENT', 'dependsOn'],
  ['dependsOn its own id', post({ name: 'noop', in: 0, id: 'self', dependsOn: ['self'] }), 400, 'INVALID_ARGUMENT', 'dependsOn'],
  ['dependsOn an id with CRLF', post({ name: 'noop', in: 0, dependsOn: ['a\r\nb'] }), 400, 'INVALID_ARGUMENT', 'dependsOn[0]'],
  ['misfire unknown', post({ name: 'noop', every: 1000, misfire: 'sometimes' }), 400, 'INVALID_ARGUMENT', 'misfire'],
  ['overlap unknown', post({ name: 'noop', every: 1000, overlap: 'never' }), 400, 'INVALID_ARGUMENT', 'overlap'],

  // PATCH /v1/jobs/{id}
  ['PATCH without at', { method: 'PATCH', path: '/v1/jobs/j1', body: {} }, 400, 'INVALID_DATE', 'at'],
  ['PATCH at a word', { method: 'PATCH', path: '/v1/jobs/j1', body: { at: 'soon' } }, 400, 'INVALID_DATE', 'at'],
  ['PATCH with an unknown field', { method: 'PATCH', path: '/v1/jobs/j1', body: { at: AT, queue: 'other' } }, 400, 'UNKNOWN_OPTION', 'queue'],
  ['PATCH body an array', raw('[{"at":0}]', 'PATCH', '/v1/jobs/j1'), 400, 'INVALID_ARGUMENT', 'body'],
  ['PATCH a job that is not scheduled', { method: 'PATCH', path: '/v1/jobs/j1', body: { at: AT } }, 409, 'JOB_NOT_SCHEDULED', 'id'],
  ['PATCH an id with a space', { method: 'PATCH', path: '/v1/jobs/a%20b', body: { at: AT } }, 400, 'INVALID_ARGUMENT', 'id'],
  ['PATCH without content-type', { method: 'PATCH', path: '/v1/jobs/j1', body: '{"at":0}' }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content-type'],

  // ids in paths
  ['GET an id with CRLF', { path: '/v1/jobs/a%0D%0ASET%20x%201' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET a path-traversal id', { path: '/v1/jobs/..%2F..%2Fetc%2Fpasswd' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET an id with a malformed escape', { path: '/v1/jobs/%E0%A4%A' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET an id of 129 characters', { path: `/v1/jobs/${'i'.repeat(129)}` }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET a run id with a non-numeric slot', { path: '/v1/jobs/job@soon' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET an id with a script tag', { path: '/v1/jobs/%3Cscript%3Ealert(1)%3C%2Fscript%3E' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['GET an unknown job', { path: '/v1/jobs/nobody' }, 404, 'JOB_NOT_FOUND', 'id'],
  ['DELETE an unknown job', { method: 'DELETE', path: '/v1/jobs/nobody' }, 404, 'JOB_NOT_FOUND', 'id'],
  ['DELETE an id with SQL injection', { method: 'DELETE', path: "/v1/jobs/'%3B%20DROP%20TABLE%20jobs" }, 400, 'INVALID_ARGUMENT', 'id'],
  ['DELETE a run id (only jobs are canceled)', { method: 'DELETE', path: '/v1/jobs/job@123' }, 400, 'INVALID_ARGUMENT', 'id'],
  ['requeue an unknown job', { method: 'POST', path: '/v1/jobs/nobody/requeue' }, 404, 'JOB_NOT_FOUND', 'id'],
  ['requeue an id with a space', { method: 'POST', path: '/v1/jobs/a%20b/requeue' }, 400, 'INVALID_ARGUMENT', 'id'],

  // GET /v1/jobs query
  ['offset negative', getJobs({ offset: '-1' }), 400, 'INVALID_ARGUMENT', 'offset'],
  ['offset a word', getJobs({ offset: 'abc' }), 400, 'INVALID_ARGUMENT', 'offset'],
  ['offset in exponent form', getJobs({ offset: '1e3' }), 400, 'INVALID_ARGUMENT', 'offset'],
  ['offset given twice', getJobs({ offset: ['1', '2'] }), 400, 'INVALID_ARGUMENT', 'offset'],
  ['offset past the largest safe integer', getJobs({ offset: '9007199254740993' }), 400, 'INVALID_ARGUMENT', 'offset'],
  ['length a fraction', getJobs({ length: '1.5' }), 400, 'INVALID_ARGUMENT', 'length'],
  ['length over the page limit', getJobs({ length: '100000' }), 400, 'INVALID_ARGUMENT', 'length'],
  ['length -1 (the library\'s "all")', getJobs({ length: '-1' }), 400, 'INVALID_ARGUMENT', 'length'],
  ['until a word', getJobs({ until: 'yesterday' }), 400, 'INVALID_DATE', 'until'],
  ['until negative', getJobs({ until: '-5' }), 400, 'INVALID_DATE', 'until'],
  ['until without an offset', getJobs({ until: '2030-01-01T00:00:00' }), 400, 'INVALID_DATE', 'until'],
  ['withTimes maybe', getJobs({ withTimes: 'maybe' }), 400, 'INVALID_ARGUMENT', 'withTimes'],
  ['unknown query parameter', getJobs({ status: 'failed' }), 400, 'UNKNOWN_OPTION', 'status'],
  ['__proto__ query parameter', getJobs(JSON.parse('{"__proto__":"1"}') as Record<string, string>), 400, 'UNKNOWN_OPTION', '__proto__'],

  // routing and auth
  ['unknown route', { path: '/v1/nothing' }, 404, 'ROUTE_NOT_FOUND', null],
  ['path traversal out of the API', { path: '/v1/../../etc/passwd' }, 404, 'ROUTE_NOT_FOUND', null],
  ['a double slash', { path: '/v1//jobs' }, 404, 'ROUTE_NOT_FOUND', null],
  ['PUT /v1/jobs', { method: 'PUT', path: '/v1/jobs', body: { name: 'noop', in: 0 } }, 405, 'METHOD_NOT_ALLOWED', null],
  ['DELETE /v1/queues', { method: 'DELETE', path: '/v1/queues' }, 405, 'METHOD_NOT_ALLOWED', null],
  ['POST /health', { method: 'POST', path: '/health', body: {} }, 405, 'METHOD_NOT_ALLOWED', null],
  ['no Authorization header', { ...post({ name: 'noop', in: 0 }), apiKey: undefined }, 401, 'UNAUTHORIZED', 'authorization'],
  ['Basic auth', { ...post({ name: 'noop', in: 0 }), apiKey: undefined, headers: { authorization: `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}` } }, 401, 'UNAUTHORIZED', 'authorization'],
  ['the key without the Bearer scheme', { ...post({ name: 'noop', in: 0 }), apiKey: undefined, headers: { authorization: KEY } }, 401, 'UNAUTHORIZED', 'authorization'],
  ['a wrong key', { ...post({ name: 'noop', in: 0 }), apiKey: 'wrong-key-0123456789abcdef' }, 403, 'FORBIDDEN', 'authorization'],
  ['the key with a character missing', { ...post({ name: 'noop', in: 0 }), apiKey: KEY.slice(0, -1) }, 403, 'FORBIDDEN', 'authorization'],
  ['the key with CRLF and more', { ...post({ name: 'noop', in: 0 }), apiKey: undefined, headers: { authorization: `Bearer ${KEY}\r\nx` } }, 401, 'UNAUTHORIZED', 'authorization'],
  ['a wildcard key', { path: '/v1/queues', apiKey: '*' }, 403, 'FORBIDDEN', 'authorization'],
]

const NAMELESS = new Set(['JOB_NOT_FOUND', 'JOB_NOT_SCHEDULED', 'UNAUTHORIZED', 'FORBIDDEN'])

const cases: Case[] = table.map(([title, request, status, code, field]) => ({ title, request, status, code, field }))

describe('the bad-input corpus', () => {
  it('has at least 100 distinct cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(100)
    expect(new Set(cases.map((c) => c.title)).size).toBe(cases.length)
    // Distinct requests, not only distinct titles.
    const fingerprints = cases.map((c) => JSON.stringify(httpEventFingerprint(c.request)))
    expect(new Set(fingerprints).size).toBe(cases.length)
  })
})

function httpEventFingerprint(o: HttpEventOptions) {
  const e = httpEvent({ apiKey: KEY, ...o })
  return [e.requestContext.http.method, e.rawPath, e.rawQueryString, e.headers, e.body, e.isBase64Encoded]
}

describe.each(DRIVERS)('bad requests on the %s driver', (driver) => {
  const store = useStore(driver)
  const jobs = new JobRegistry().define('noop', () => null)
  const runtime = async (): Promise<Runtime> => ({
    config: { ...loadConfig({}), namespace: store.namespace, apiKeys: [KEY] },
    redis: store.redis,
    scheduler: new Scheduler({ redis: store.redis, namespace: store.namespace, jobs }),
    jobs,
  })
  const internal: unknown[] = []
  const api = createApiHandler(runtime, { log: { error: (_m, fields) => { internal.push(fields) } } })

  it.each(cases)('$title → $status $code', async ({ request, status, code, field }) => {
    const res = (await api(httpEvent({ apiKey: KEY, ...request }), lambdaContext(30_000))) as APIGatewayProxyStructuredResultV2
    expect(internal, 'nothing reached the internal-error log').toEqual([])
    expect(res.statusCode).toBeGreaterThanOrEqual(400)
    expect(res.statusCode).toBeLessThan(500)
    const body = JSON.parse(res.body ?? '') as { error: { code: string; message: string; field?: string } }
    expect({ status: res.statusCode, code: body.error.code, field: body.error.field ?? null }).toEqual({ status, code, field })
    expect(body.error.message.length).toBeGreaterThan(10)
    // Validation messages name the field ("Expected `retry.max` to be …"); lookups and auth say what is missing instead.
    if (field !== null && !NAMELESS.has(code)) expect(body.error.message.toLowerCase()).toContain(field.toLowerCase())
    expect(await store.admin.keys(`dueq:{${store.namespace}}:*`)).toEqual([])
  })
})
