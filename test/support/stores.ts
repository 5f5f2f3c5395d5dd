/**
 * Runs the same integration suite on both drivers against the real Redis on REDIS_URL (default
 * 127.0.0.1:6379): ioredis over TCP, and @upstash/redis through the local REST bridge. Each test
 * gets a fresh random namespace, deleted afterwards.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { connect } from '../../lib/redis/connect.ts'
import type { Command, RedisPort } from '../../lib/redis/port.ts'
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const DRIVERS = ['tcp', 'upstash'] as const
export type DriverName = (typeof DRIVERS)[number]

/** A port that counts the round trips made through it (one per call or pipeline). */
export class CountingPort implements RedisPort {
  roundTrips = 0
  constructor(readonly inner: RedisPort) {}
  get driver() { return this.inner.driver }
  call(command: Command) { this.roundTrips++; return this.inner.call(command) }
  pipeline(commands: Command[]) { this.roundTrips++; return this.inner.pipeline(commands) }
  get subscribe() { return this.inner.subscribe?.bind(this.inner) }
  close() { return this.inner.close() }
}

export interface StoreContext {
  driver: DriverName
  /** The store under test, counting round trips. */
  redis: CountingPort
  /** A fresh namespace for the current test. */
  namespace: string
  /** Direct TCP connection for assertions on raw keys. */
  admin: Redis
  /** HTTP requests the bridge received (Upstash only; 0 for TCP). */
  httpRequests(): number
  /** Opens another store of the same driver (for racing clients). */
  open(): RedisPort
}

export function useStore(driver: DriverName): StoreContext {
  let bridge: UpstashBridge | undefined
  const opened: RedisPort[] = []
  const ctx = { driver, namespace: '' } as StoreContext
  const open = (): RedisPort => {
    const port = driver === 'tcp' ? connect(REDIS_URL) : connect(bridge!.url, { token: bridge!.token })
    opened.push(port)
    return port
  }
  beforeAll(async () => {
    if (driver === 'upstash') bridge = await startUpstashBridge({ redisUrl: REDIS_URL })
    ctx.admin = new Redis(REDIS_URL, { protocol: 2 })
    ctx.redis = new CountingPort(open())
    ctx.open = open
    ctx.httpRequests = () => bridge?.requests() ?? 0
  })
  beforeEach(() => {
    ctx.namespace = `t-${randomBytes(6).toString('hex')}`
    ctx.redis.roundTrips = 0
  })
  afterEach(async () => {
    const keys = await ctx.admin.keys(`dueq:{${ctx.namespace}}:*`)
    if (keys.length > 0) await ctx.admin.del(...keys)
  })
  afterAll(async () => {
    await Promise.all(opened.map((p) => p.close()))
    await ctx.admin?.quit()
    await bridge?.close()
  })
  return ctx
}
