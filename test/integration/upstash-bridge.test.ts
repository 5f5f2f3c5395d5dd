/**
 * Integration: the @upstash/redis client against the local Upstash bridge
 * (test/support/upstash-bridge.ts), which forwards to the real Redis at REDIS_URL
 * (default redis://127.0.0.1:6379). Every test writes under its own random key prefix;
 * afterEach deletes those keys.
 */
import { randomUUID } from 'node:crypto'
import { Redis, type RedisConfigNodejs } from '@upstash/redis'
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge.ts'

let bridge: UpstashBridge
let admin: Redis // plain client used for cleanup
const usedPrefixes: string[] = []

const client = (extra: Partial<RedisConfigNodejs> = {}) =>
  new Redis({ url: bridge.url, token: bridge.token, automaticDeserialization: false, enableTelemetry: false, ...extra })

function keyPrefix(): string {
  const prefix = `test:upstash-bridge:${randomUUID()}:`
  usedPrefixes.push(prefix)
  return prefix
}

beforeAll(async () => {
  bridge = await startUpstashBridge()
  admin = client()
})

afterEach(async () => {
  for (const prefix of usedPrefixes.splice(0)) {
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
  }
})

afterAll(async () => {
  await bridge?.close()
})

describe.each([{ enableAutoPipelining: false }, { enableAutoPipelining: true }])('commands with %o', (mode) => {
  let redis: Redis
  beforeAll(() => {
    redis = client(mode)
  })

  it('SET then GET round-trips ASCII and non-ASCII strings', async () => {
    const k = keyPrefix()
    const text = 'héllo wörld ✓ 日本語 🚀'
    expect(await redis.set(`${k}a`, text)).toBe('OK')
    expect(await redis.get(`${k}a`)).toBe(text)
    // A value that looks like base64 of "OK" must come back as stored, not decoded twice.
    expect(await redis.set(`${k}b`, 'T0s=')).toBe('OK')
    expect(await redis.get(`${k}b`)).toBe('T0s=')
  })

  it('HSET then HGETALL returns a flat field/value array', async () => {
    const k = `${keyPrefix()}h`
    expect(await redis.hset(k, { name: 'Zoë', count: 7 })).toBe(2)
    expect(await redis.hgetall(k)).toEqual(['name', 'Zoë', 'count', '7'])
  })

  it('INCR returns a JSON number', async () => {
    const k = `${keyPrefix()}n`
    expect(await redis.incr(k)).toBe(1)
    expect(await redis.incrby(k, 41)).toBe(42)
    expect(await redis.get(k)).toBe('42') // a bulk string stays a string
  })

  it('a missing key reads as null', async () => {
    const k = keyPrefix()
    expect(await redis.get(`${k}missing`)).toBeNull()
    expect(await redis.hget(`${k}missing`, 'f')).toBeNull()
    expect(await redis.mget(`${k}a`, `${k}b`)).toEqual([null, null])
  })

  it('EVAL returns a Lua table of mixed values as a nested array', async () => {
    const k = `${keyPrefix()}e`
    const script = `redis.call('SET', KEYS[1], ARGV[1])
      return {7, redis.call('GET', KEYS[1]), {ARGV[2], 8}, false, redis.status_reply('OK'), KEYS[1]}`
    expect(await redis.eval(script, [k], ['ünïcödé', 'nested'])).toEqual([7, 'ünïcödé', ['nested', 8], null, 'OK', k])
  })

  it('EVALSHA of an unknown sha rejects with the NOSCRIPT error', async () => {
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT No matching script/)
  })

  it("createScript().exec() falls back from EVALSHA to EVAL on NOSCRIPT, then hits EVALSHA's cache", async () => {
    const script = redis.createScript(`return ARGV[1] .. ' ${randomUUID()}'`) // unique text: never cached before
    bridge.resetRequests()
    expect(await script.exec([], ['hi'])).toMatch(/^hi [0-9a-f-]{36}$/)
    expect(bridge.requests()).toBe(2) // EVALSHA (NOSCRIPT), then EVAL
    bridge.resetRequests()
    expect(await script.exec([], ['again'])).toMatch(/^again /)
    expect(bridge.requests()).toBe(1) // EVALSHA alone
  })

  it('a Redis error reply rejects with the Redis error text, and the connection stays usable', async () => {
    const k = `${keyPrefix()}s`
    await redis.set(k, 'not a number')
    await expect(redis.incr(k)).rejects.toThrow('ERR value is not an integer or out of range')
    expect(await redis.get(k)).toBe('not a number')
  })
})

describe('auto-pipelining', () => {
  async function concurrentCalls(redis: Redis, k: string) {
    await admin.mset({ [`${k}a`]: 'A', [`${k}b`]: 'B' }) // seeded first: reads and writes go in separate batches
    bridge.resetRequests()
    const results = await Promise.all([
      redis.get(`${k}a`),
      redis.get(`${k}b`),
      redis.get(`${k}missing`),
      redis.incr(`${k}n`),
      redis.set(`${k}c`, 'C'),
      redis.hset(`${k}h`, { f: 'v' }),
    ])
    expect(results).toEqual(['A', 'B', null, 1, 'OK', 1])
    return { calls: results.length, requests: bridge.requests() }
  }

  it('sends concurrent calls in fewer HTTP requests than calls with enableAutoPipelining: true', async () => {
    const { calls, requests } = await concurrentCalls(client({ enableAutoPipelining: true }), keyPrefix())
    expect(requests).toBeGreaterThan(0)
    expect(requests).toBeLessThan(calls)
  })

  it('sends one HTTP request per call with enableAutoPipelining: false', async () => {
    const { calls, requests } = await concurrentCalls(client({ enableAutoPipelining: false }), keyPrefix())
    expect(requests).toBe(calls)
  })

  it('rejects only the failing call of an auto-pipelined batch', async () => {
    const redis = client({ enableAutoPipelining: true })
    const k = keyPrefix()
    await admin.set(`${k}s`, 'text')
    const settled = await Promise.allSettled([redis.incr(`${k}n`), redis.incr(`${k}s`), redis.set(`${k}t`, 'T')])
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(settled[0]).toMatchObject({ value: 1 })
    expect(settled[1]).toMatchObject({ reason: expect.objectContaining({ message: expect.stringContaining('ERR value is not an integer') }) })
  })
})

describe('redis.pipeline() and redis.multi()', () => {
  it('pipeline(): one HTTP request; exec() throws on an error, exec({ keepErrors: true }) reports it in place', async () => {
    const redis = client()
    const k = keyPrefix()
    const build = () => redis.pipeline().set(`${k}s`, 'text').incr(`${k}s`).get(`${k}s`).hset(`${k}h`, { f: 'v' }).hgetall(`${k}h`)

    bridge.resetRequests()
    const results = await build().exec({ keepErrors: true })
    expect(bridge.requests()).toBe(1)
    expect(results).toEqual([
      { result: 'OK', error: undefined },
      { result: undefined, error: 'ERR value is not an integer or out of range' },
      { result: 'text', error: undefined },
      { result: 1, error: undefined },
      { result: ['f', 'v'], error: undefined },
    ])

    await expect(build().exec()).rejects.toThrow('Command 2 [ incr ] failed: ERR value is not an integer or out of range')
  })

  it('multi(): runs the commands in MULTI/EXEC and reports a command that failed at run time in place', async () => {
    const redis = client()
    const k = `${keyPrefix()}m`
    const results = await redis.multi().set(k, '1').incr(k).hset(k, { f: 'v' }).get(k).exec({ keepErrors: true })
    expect(results).toEqual([
      { result: 'OK', error: undefined },
      { result: 2, error: undefined },
      { result: undefined, error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
      { result: '2', error: undefined },
    ])
  })
})

describe('auth, encodings and lifecycle', () => {
  it('a wrong token rejects with 401 Unauthorized (counted, not retried)', async () => {
    bridge.resetRequests()
    await expect(client({ token: 'wrong' }).get('any')).rejects.toThrow(/^Unauthorized/)
    expect(bridge.requests()).toBe(1)
    const res = await fetch(bridge.url, { method: 'POST', body: '["PING"]' }) // no Authorization at all
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'Unauthorized' })
    expect(bridge.requests()).toBe(2)
  })

  it.each([false, true])('responseEncoding: false works (enableAutoPipelining: %s)', async (enableAutoPipelining) => {
    const redis = client({ responseEncoding: false, enableAutoPipelining })
    const k = keyPrefix()
    expect(await redis.set(`${k}a`, 'ünïcödé ✓')).toBe('OK')
    expect(await redis.get(`${k}a`)).toBe('ünïcödé ✓')
    expect(await redis.get(`${k}missing`)).toBeNull()
    expect(await redis.incr(`${k}n`)).toBe(1)
    expect(await redis.hset(`${k}h`, { f: 'vé' })).toBe(1)
    expect(await redis.hgetall(`${k}h`)).toEqual(['f', 'vé'])
    expect(await redis.eval("return {1, 'two', {'three'}}", [], [])).toEqual([1, 'two', ['three']])
    await expect(redis.incr(`${k}a`)).rejects.toThrow('ERR value is not an integer or out of range')
    expect(await redis.pipeline().get(`${k}a`).incr(`${k}n`).exec()).toEqual(['ünïcödé ✓', 2])
  })

  it('close() ends keep-alive connections and the Redis connection', async () => {
    const other = await startUpstashBridge({ token: 'second' })
    expect(other.token).toBe('second')
    expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const redis = new Redis({ url: other.url, token: other.token, enableTelemetry: false, retry: false })
    expect(await redis.ping()).toBe('PONG') // leaves a keep-alive socket open
    await other.close()
    await other.close() // idempotent
    await expect(redis.ping()).rejects.toThrow()
  })
})

describe('wire format (raw HTTP)', () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${bridge.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bridge.token}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const errorOf = async (res: Response) => ((await res.json()) as { error?: unknown }).error
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const base64Header = { 'Upstash-Encoding': 'base64' }

  it('Upstash-Encoding: base64 encodes every string (status replies and nested ones too), never numbers, nulls or errors', async () => {
    const k = keyPrefix()
    expect(await (await post('/', ['SET', `${k}a`, 'é'], base64Header)).json()).toEqual({ result: b64('OK') })
    expect(await (await post('/', ['SET', `${k}a`, 'é'])).json()).toEqual({ result: 'OK' })
    const res = await post(
      '/pipeline',
      [['GET', `${k}a`], ['INCR', `${k}n`], ['GET', `${k}missing`], ['EVAL', "return {'x', 1, redis.status_reply('OK')}", 0], ['INCR', `${k}a`]],
      base64Header,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual([
      { result: b64('é') },
      { result: 1 },
      { result: null },
      { result: [b64('x'), 1, b64('OK')] },
      { error: 'ERR value is not an integer or out of range' },
    ])
  })

  it('HGETALL keeps Redis field order, integer-like field names included', async () => {
    const k = `${keyPrefix()}h`
    await post('/', ['HSET', k, 'b', 1, '2', 2, '1', 3])
    expect(await (await post('/', ['hgetall', k])).json()).toEqual({ result: ['b', '1', '2', '2', '1', '3'] })
  })

  it('sends number and boolean arguments as strings', async () => {
    const k = keyPrefix()
    expect((await post('/', ['SET', `${k}f`, 12.5])).status).toBe(200)
    expect((await post('/', ['SET', `${k}t`, true])).status).toBe(200)
    expect(await (await post('/pipeline', [['GET', `${k}f`], ['GET', `${k}t`]])).json()).toEqual([{ result: '12.5' }, { result: 'true' }])
  })

  it('a Redis error on / is HTTP 400 carrying the exact Redis text', async () => {
    const res = await post('/', ['EVALSHA', '0'.repeat(40), 0], base64Header)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'NOSCRIPT No matching script. Please use EVAL.' })
  })

  it('malformed JSON and bodies of the wrong shape are HTTP 400 with an ERR message', async () => {
    const cases: [path: string, body: string][] = [
      ['/', '{not json'],
      ['/', '[]'],
      ['/', '{"cmd":"PING"}'],
      ['/pipeline', '{"a":1}'],
      ['/pipeline', '[["GET", {"x":1}]]'],
    ]
    for (const [path, body] of cases) {
      const res = await post(path, body)
      expect(res.status, `${path} ${body}`).toBe(400)
      expect(await errorOf(res), `${path} ${body}`).toMatch(/^ERR /)
    }
  })

  it('/multi-exec: a command refused while queueing aborts the whole transaction (400 EXECABORT)', async () => {
    const k = keyPrefix()
    const res = await post('/multi-exec', [['SET', `${k}a`, 'v'], ['NOSUCHCOMMAND']])
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatch(/^EXECABORT /)
    expect(await (await post('/', ['EXISTS', `${k}a`])).json()).toEqual({ result: 0 })
  })
})
