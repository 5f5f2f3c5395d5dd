/**
 * What the long-running loops share (the scheduler loop and the worker): a stop signal wired to
 * SIGINT and SIGTERM unless the caller brings one, and the registry of live instances.
 */
import { hostname } from 'node:os'
import type { Command, RedisPort } from './redis/port.ts'
import { pairs } from './redis/record.ts'
import { runScript } from './redis/scripts.ts'

/** The caller's signal, or one that SIGINT / SIGTERM abort; `dispose` removes the listeners. */
export function stopSignal(given?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (given) return { signal: given, dispose: () => {} }
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    },
  }
}

/**
 * Live instances of a registry (schedulers or workers, see register.lua): members of `setKey`
 * with a heartbeat within `ttlMs`, each with its hash; instances whose hash expired are left out.
 */
export async function listLive(redis: RedisPort, setKey: string, hashKey: (name: string) => string, now: number, ttlMs: number): Promise<{ name: string; h: Record<string, string> }[]> {
  const names = (await redis.call(['ZRANGEBYSCORE', setKey, now - ttlMs, '+inf'])) as string[]
  if (names.length === 0) return []
  const hashes = await redis.pipeline(names.map((n): Command => ['HGETALL', hashKey(n)]))
  return hashes.flatMap((flat, i) => {
    const h = pairs(flat)
    return h.name ? [{ name: names[i]!, h }] : []
  })
}

export type LifeEvent = 'birth' | 'beat' | 'death'

/**
 * Records the birth (with name, host, pid and birth time), a heartbeat or the death of one
 * instance in a registry (register.lua), with the caller's fields.
 */
export async function registerInstance(redis: RedisPort, setKey: string, hashKey: string, name: string, o: { event: LifeEvent; now: number; ttlMs: number; fields?: Record<string, string | number> }): Promise<void> {
  const fields = o.event === 'birth' ? { name, host: hostname(), pid: process.pid, birth: o.now, ...o.fields } : (o.fields ?? {})
  await runScript(redis, 'register', [setKey, hashKey], [name, o.now, o.ttlMs, o.event, ...Object.entries(fields).flat()])
}
