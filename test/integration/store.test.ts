import { describe, expect, it } from 'vitest'
import { DueqError } from '../../lib/core/errors.ts'
import { connect } from '../../lib/redis/connect.ts'
import { RedisReplyError } from '../../lib/redis/port.ts'
import { runScript, runScripts, scripts } from '../../lib/redis/scripts.ts'
import { DRIVERS, useStore } from '../support/stores.ts'

describe('connect picks the driver by URL scheme', () => {
  it('redis:// and rediss:// → TCP, http(s):// → Upstash (token required)', async () => {
    const tcp = connect('redis://127.0.0.1:6379')
    expect(tcp.driver).toBe('tcp')
    await tcp.close()
    expect(connect('https://example.upstash.io', { token: 't' }).driver).toBe('upstash')
    expect(() => connect('https://example.upstash.io')).toThrow(/token/)
    expect(() => connect('ftp://x')).toThrow(DueqError)
    expect(() => connect('not a url')).toThrow(DueqError)
  })
})

describe.each(DRIVERS)('the %s driver', (driver) => {
  const store = useStore(driver)
  const key = (k: string) => `dueq:{${store.namespace}}:${k}`

  it('normalizes replies: strings, integers, nil, flat arrays', async () => {
    const r = store.redis
    expect(await r.call(['SET', key('s'), 'héllo ✓'])).toBe('OK')
    expect(await r.call(['GET', key('s')])).toBe('héllo ✓')
    expect(await r.call(['INCR', key('n')])).toBe(1)
    expect(await r.call(['GET', key('missing')])).toBeNull()
    await r.call(['HSET', key('h'), 'b', '2', 'a', '1'])
    expect(await r.call(['HGETALL', key('h')])).toEqual(['b', '2', 'a', '1'])
  })

  it('a pipeline is one round trip and returns error replies in place', async () => {
    const http = store.httpRequests()
    const replies = await store.redis.pipeline([['SET', key('p'), 'x'], ['INCR', key('p')], ['GET', key('p')]])
    expect(replies[0]).toBe('OK')
    expect(replies[1]).toBeInstanceOf(RedisReplyError)
    expect(String((replies[1] as Error).message)).toMatch(/not an integer/)
    expect(replies[2]).toBe('x')
    if (driver === 'upstash') expect(store.httpRequests() - http).toBe(1)
  })

  it('an error reply rejects a single call with RedisReplyError, without echoing the command', async () => {
    await store.redis.call(['SET', key('e'), 'secret-payload'])
    const err = await store.redis.call(['INCR', key('e')]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RedisReplyError)
    expect((err as Error).message).not.toContain('secret-payload')
  })

  it('scripts go by EVALSHA and fall back to EVAL after SCRIPT FLUSH', async () => {
    await store.admin.script('FLUSH')
    expect(await store.admin.script('EXISTS', scripts.release_lock.sha)).toEqual([0])
    expect(await runScript(store.redis, 'release_lock', [key('lock')], ['nobody'])).toBe(0)
    expect(await store.admin.script('EXISTS', scripts.release_lock.sha)).toEqual([1])
    await store.admin.script('FLUSH')
    const k = key('j:x')
    const replies = await runScripts(store.redis, [
      { script: 'release_lock', keys: [key('lock')], args: ['nobody'] },
      { script: 'get_job', keys: [key('schedule'), key('recurring'), k], args: ['x'] },
    ])
    expect(replies[0]).toBe(0)
    expect(replies[1]).toEqual([[], null, null])
  })
})
