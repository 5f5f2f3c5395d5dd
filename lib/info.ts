/** What `dueq info` and `GET /v1/queues` show: like `rq info`, queues with counts per registry, workers, schedulers. */
import { EXPIRING_REGISTRIES, keysFor, REGISTRIES, type Keys, type RegistryName } from './redis/keys.ts'
import type { Command, RedisPort } from './redis/port.ts'
import { listLive } from './lifecycle.ts'
import { listInstances, type SchedulerInstance } from './tick.ts'

export interface QueueInfo extends Record<RegistryName, number> {
  name: string
  /** Runs waiting in the ready list. */
  queued: number
}

export interface WorkerInfo {
  name: string
  host: string
  pid: number
  queues: string[]
  birth: Date
  heartbeat: Date
  running: number
}

export interface Info {
  namespace: string
  /** Entries in the schedule. */
  scheduled: number
  queues: QueueInfo[]
  workers: WorkerInfo[]
  schedulers: SchedulerInstance[]
}

const LIVE_MS = 90_000

export async function info(redis: RedisPort, namespace: string, o: { prefix?: string; now?: number } = {}): Promise<Info> {
  const keys = keysFor(namespace, o.prefix)
  const now = o.now ?? Date.now()
  const [queues, scheduled] = (await redis.pipeline([['SMEMBERS', keys.queues], ['ZCARD', keys.schedule]])) as [string[], number]
  queues.sort()
  const commands: Command[] = []
  for (const q of queues) {
    commands.push(['LLEN', keys.ready(q)])
    for (const r of REGISTRIES) {
      if (EXPIRING_REGISTRIES.has(r)) commands.push(['ZCOUNT', keys.registry(r, q), now, '+inf'])
      else commands.push(['ZCARD', keys.registry(r, q)])
    }
  }
  const [counts, workers, schedulers] = await Promise.all([
    redis.pipeline(commands),
    listWorkers(redis, keys, now),
    listInstances(redis, keys, now, LIVE_MS),
  ])
  const per = 1 + REGISTRIES.length
  return {
    namespace,
    scheduled: Number(scheduled),
    queues: queues.map((name, i) => {
      const row = counts.slice(i * per, (i + 1) * per).map(Number)
      const q = { name, queued: row[0]! } as QueueInfo
      REGISTRIES.forEach((r, j) => { q[r] = row[j + 1]! })
      return q
    }),
    workers,
    schedulers,
  }
}

async function listWorkers(redis: RedisPort, keys: Keys, now: number): Promise<WorkerInfo[]> {
  return (await listLive(redis, keys.workers, keys.worker, now, LIVE_MS)).map(({ name, h }) => ({
    name, host: h.host ?? '', pid: Number(h.pid), queues: (h.queues ?? '').split(',').filter(Boolean),
    birth: new Date(Number(h.birth)), heartbeat: new Date(Number(h.heartbeat)), running: Number(h.running ?? 0),
  }))
}

/** `info` as the lines `dueq info` prints. */
export function formatInfo(i: Info): string[] {
  const lines = [`namespace ${i.namespace}: ${i.scheduled} scheduled`]
  const header = ['queue', 'queued', ...REGISTRIES]
  const rows = i.queues.map((q) => [q.name, String(q.queued), ...REGISTRIES.map((r) => String(q[r]))])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const fmt = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  lines.push(fmt(header), ...rows.map(fmt))
  if (rows.length === 0) lines.push('(no queues yet)')
  lines.push(`${i.workers.length} worker(s)`)
  for (const w of i.workers) lines.push(`  ${w.name} on ${w.queues.join(',')}: ${w.running} running, heartbeat ${w.heartbeat.toISOString()}`)
  lines.push(`${i.schedulers.length} scheduler(s)`)
  for (const s of i.schedulers) lines.push(`  ${s.name}: heartbeat ${s.heartbeat.toISOString()}${s.lastPass ? `, last pass dispatched ${s.lastPass.dispatched}` : ''}`)
  return lines
}
