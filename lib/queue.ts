/**
 * A queue, as RQ has them: immediate work (`enqueue`), what waits in it (`count`, `jobs`), and its
 * registries of runs: started, finished, failed, deferred, canceled.
 */
import { checkQueue, invalid, isPlainObject, type Job, type JobSpec } from './core/job.ts'
import { EXPIRING_REGISTRIES, REGISTRIES, type Keys, type RegistryName } from './redis/keys.ts'
import type { RedisPort } from './redis/port.ts'
import { Scheduler } from './scheduler.ts'

export interface QueueOptions {
  redis: RedisPort
  namespace?: string
  /** Default `default`. */
  name?: string
  clock?: () => number
  prefix?: string
}

export interface RegistryEntry {
  id: string
  /** started: lease deadline; finished, failed, canceled: when the record expires; deferred: since. */
  score: number
}

export class Queue {
  readonly name: string
  readonly keys: Keys
  private readonly redis: RedisPort
  private readonly scheduler: Scheduler
  private readonly clock: () => number

  constructor(options: QueueOptions) {
    if (!isPlainObject(options as unknown) || !options.redis) throw invalid('options.redis', 'a store from connect()', options?.redis)
    this.name = checkQueue(options.name ?? 'default', 'options.name')
    this.redis = options.redis
    this.clock = options.clock ?? Date.now
    this.scheduler = new Scheduler({ redis: options.redis, namespace: options.namespace ?? 'default', queue: this.name, clock: this.clock, ...(options.prefix ? { prefix: options.prefix } : {}) })
    this.keys = this.scheduler.keys
  }

  /** Puts a job on this queue now (deferred instead while a `dependsOn` job has not finished). */
  enqueue(spec: JobSpec): Promise<Job> {
    return this.scheduler.enqueueNow(this.name, spec)
  }

  /** Runs waiting in the ready list. */
  async count(): Promise<number> {
    return Number(await this.redis.call(['LLEN', this.keys.ready(this.name)]))
  }

  /** The waiting runs, in the order workers take them. */
  async jobs(options: { offset?: number; length?: number } = {}): Promise<Job[]> {
    const offset = options.offset ?? 0
    const length = options.length ?? 100
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset', 'a whole number ≥ 0', offset)
    if (!Number.isSafeInteger(length) || length < 1) throw invalid('length', 'a whole number ≥ 1', length)
    const ids = (await this.redis.call(['LRANGE', this.keys.ready(this.name), offset, offset + length - 1])) as string[]
    return this.read(ids)
  }

  /** One of the queue's registries. */
  registry(name: RegistryName) {
    if (!REGISTRIES.includes(name)) throw invalid('registry', `one of ${REGISTRIES.join(', ')}`, name)
    const key = this.keys.registry(name, this.name)
    // Entries of an expiring registry whose record is gone are swept before reading.
    const sweep = (): [string, ...(string | number)[]][] => (EXPIRING_REGISTRIES.has(name) ? [['ZREMRANGEBYSCORE', key, '-inf', `(${this.clock()}`]] : [])
    return {
      count: async (): Promise<number> => {
        const replies = await this.redis.pipeline([...sweep(), ['ZCARD', key]])
        return Number(replies[replies.length - 1])
      },
      list: async (options: { offset?: number; length?: number } = {}): Promise<RegistryEntry[]> => {
        const offset = options.offset ?? 0
        const length = options.length ?? 100
        const replies = await this.redis.pipeline([...sweep(), ['ZRANGE', key, offset, offset + length - 1, 'WITHSCORES']])
        const flat = replies[replies.length - 1] as string[]
        const out: RegistryEntry[] = []
        for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i]!, score: Number(flat[i + 1]) })
        return out
      },
      jobs: async (options: { offset?: number; length?: number } = {}): Promise<Job[]> => {
        const entries = await this.registry(name).list(options)
        return this.read(entries.map((e) => e.id))
      },
    }
  }

  private async read(ids: string[]): Promise<Job[]> {
    return (await this.scheduler.getJobsByIds(ids)).filter((j): j is Job => j !== null)
  }
}
