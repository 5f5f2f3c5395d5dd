// The bench driver (`npm run bench`): runs WORKLOADS.md for dueq and BullMQ in ONE run, against ONE
// dedicated Redis, peers back to back within each repetition, and prints each median with the ratio
// dueq / BullMQ. Ratios are the point: absolute figures drift from machine to machine.
//
//   npx tsx bench/run.ts [--quick] [--reps K] [--only w1a,w1b,w2,w3,w3hz100,w5,w5upstash,s1]
//
// --quick divides every N by 10 (a smoke run; its figures are not comparable with full ones).
// The dueq half is loaded from peers/dueq.ts at run time: while that file is missing, or a function
// throws 'not implemented', dueq's column shows "—" and BullMQ's figures are still measured. Any other
// error (a failed post-condition included) stops the run with a non-zero exit: a wrong figure is worse
// than none. The Redis it started is stopped on every way out (error, SIGINT, SIGTERM).
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import { parseArgs } from 'node:util'
import * as bullmq from './peers/bullmq.ts'
import type { BenchContext, Peer } from './peers/types.ts'
import { RedisAdmin, connect, startRedis, type RedisServer } from './support/redis-server.ts'
import { fmt, fmtMs, fmtRatio, median } from './support/stats.ts'

// ---- what is measured --------------------------------------------------------------------------

type PeerName = 'dueq' | 'bullmq'

interface Figure {
  id: string
  label: string
  unit: string
  /** What dueq aims for: the goals of the benchmark issue where it sets one, otherwise "beat
   *  BullMQ" in the figure's better direction. */
  goal: string
  /** False where dueq / BullMQ means nothing (a minimum that should be ≥ 0). */
  ratio?: false
}

const LOWER = '< 1× BullMQ'

const FIGURES: Figure[] = [
  { id: 'w1a', label: 'W1a schedule, sequential', unit: 'jobs/s', goal: '≥ 1.5× BullMQ, 1 RT/job' },
  { id: 'w1b.bulk', label: 'W1b schedule, bulk call', unit: 'jobs/s', goal: '≥ 1.5× BullMQ best' },
  { id: 'w1b.concurrent64', label: 'W1b schedule, 64 concurrent', unit: 'jobs/s', goal: '≥ 1.5× BullMQ best' },
  { id: 'w2.dispatch', label: 'W2 dispatch, due → ready', unit: 'jobs/s', goal: '≥ 1.5× BullMQ' },
  { id: 'w2.e2e1', label: 'W2 due → completed, c=1', unit: 'jobs/s', goal: '≥ 1.5× BullMQ' },
  { id: 'w2.e2e64', label: 'W2 due → completed, c=64', unit: 'jobs/s', goal: '≥ 1.5× BullMQ' },
  { id: 'w3.p50', label: 'W3 lateness p50 (hz 10)', unit: 'ms', goal: LOWER },
  { id: 'w3.p99', label: 'W3 lateness p99 (hz 10)', unit: 'ms', goal: '≤ 10 ms' },
  { id: 'w3.max', label: 'W3 lateness max (hz 10)', unit: 'ms', goal: LOWER },
  { id: 'w3.min', label: 'W3 lateness min (hz 10)', unit: 'ms', goal: '≥ 0 (never early)', ratio: false },
  { id: 'w3hz100.p50', label: 'W3 lateness p50 (hz 100)', unit: 'ms', goal: LOWER },
  { id: 'w3hz100.p99', label: 'W3 lateness p99 (hz 100)', unit: 'ms', goal: LOWER },
  { id: 'w3hz100.max', label: 'W3 lateness max (hz 100)', unit: 'ms', goal: LOWER },
  { id: 'w3hz100.min', label: 'W3 lateness min (hz 100)', unit: 'ms', goal: '≥ 0 (never early)', ratio: false },
  { id: 'w4', label: 'W4 memory per scheduled job', unit: 'bytes', goal: '≤ 320' },
  { id: 'w5.schedule.commands', label: 'W5 server commands per scheduled job', unit: 'cmds', goal: LOWER },
  { id: 'w5.schedule.roundTrips', label: 'W5 round trips per scheduled job', unit: 'RTs', goal: 'exactly 1' },
  { id: 'w5.dispatch.commands', label: 'W5 server commands per dispatched job', unit: 'cmds', goal: LOWER },
  { id: 'w5.dispatch.roundTrips', label: 'W5 round trips per dispatched job', unit: 'RTs', goal: '≤ 0.002' },
  { id: 'w5upstash.schedule', label: 'W5 Upstash HTTP requests per scheduled job', unit: 'reqs', goal: '≤ 1' },
  { id: 'w5upstash.dispatch', label: 'W5 Upstash HTTP requests per dispatched job', unit: 'reqs', goal: '≪ 1 (batched)' },
  { id: 's1.tick', label: 'S1 tick, 1,000 due among 1M', unit: 'ms', goal: '≈ baseline' },
  { id: 's1.baseline', label: 'S1 tick, 1,000 due alone', unit: 'ms', goal: '—' },
  { id: 's1.ratio', label: 'S1 tick ratio 1M / alone', unit: '×', goal: '≤ 1.2', ratio: false },
  { id: 's1.bytes', label: 'S1 memory per scheduled job at 1M', unit: 'bytes', goal: '≤ W4' },
]

interface Outcome {
  figures: Record<string, number>
  /** Things a reader must see beside the figures (a W3 timeout). */
  notes?: string[]
}

interface Workload {
  id: string
  /** N for a full run; --quick divides by 10. */
  n: number
  /** Redis hz for the call; the server runs at its default 10 otherwise. */
  hz?: number
  /** True where only dueq has the workload (BullMQ is not run). */
  dueqOnly?: boolean
  run(peer: Partial<Peer>, ctx: BenchContext, quick: boolean): Promise<Outcome>
}

function w3Outcome(prefix: string, r: Awaited<ReturnType<Peer['w3']>>, n: number): Outcome {
  return {
    figures: { [`${prefix}.p50`]: r.p50, [`${prefix}.p99`]: r.p99, [`${prefix}.max`]: r.max, [`${prefix}.min`]: r.min },
    notes: r.timedOut ? [`${prefix}: timed out after 27 s with ${r.recorded}/${n} jobs run`] : [],
  }
}

const WORKLOADS: Workload[] = [
  {
    id: 'w1a', n: 20_000,
    run: async (p, ctx) => {
      const r = await need(p, 'w1a')(ctx)
      return { figures: { w1a: r.jobsPerSec, w4: r.bytesPerJob } }
    },
  },
  {
    id: 'w1b', n: 20_000,
    run: async (p, ctx) => {
      const r = await need(p, 'w1b')(ctx)
      return { figures: { 'w1b.bulk': r.bulk, 'w1b.concurrent64': r.concurrent64 } }
    },
  },
  {
    id: 'w2', n: 20_000,
    // Three measurements, each on a freshly flushed server with its own setup.
    run: async (p, ctx) => {
      const dispatch = await need(p, 'w2Dispatch')(ctx)
      await ctx.admin.flushall()
      const e2e1 = await need(p, 'w2EndToEnd')(ctx, { concurrency: 1 })
      await ctx.admin.flushall()
      const e2e64 = await need(p, 'w2EndToEnd')(ctx, { concurrency: 64 })
      return { figures: { 'w2.dispatch': dispatch.jobsPerSec, 'w2.e2e1': e2e1.jobsPerSec, 'w2.e2e64': e2e64.jobsPerSec } }
    },
  },
  { id: 'w3', n: 1000, run: async (p, ctx) => w3Outcome('w3', await need(p, 'w3')(ctx), ctx.n) },
  { id: 'w3hz100', n: 1000, hz: 100, run: async (p, ctx) => w3Outcome('w3hz100', await need(p, 'w3')(ctx), ctx.n) },
  {
    id: 'w5', n: 20_000,
    run: async (p, ctx) => {
      const r = await need(p, 'w5')(ctx)
      return {
        figures: {
          'w5.schedule.commands': r.schedule.commandsPerJob, 'w5.schedule.roundTrips': r.schedule.roundTripsPerJob,
          'w5.dispatch.commands': r.dispatch.commandsPerJob, 'w5.dispatch.roundTrips': r.dispatch.roundTripsPerJob,
        },
      }
    },
  },
  {
    id: 'w5upstash', n: 20_000, dueqOnly: true,
    run: async (p, ctx) => {
      const r = await need(p, 'w5Upstash')(ctx)
      return { figures: { 'w5upstash.schedule': r.schedule.requestsPerJob, 'w5upstash.dispatch': r.dispatch.requestsPerJob } }
    },
  },
  {
    id: 's1', n: 1_000_000, dueqOnly: true,
    run: async (p, ctx, quick) => {
      const r = await need(p, 's1')(ctx, { due: quick ? 100 : 1000 })
      return { figures: { 's1.tick': r.tickMs, 's1.baseline': r.baselineTickMs, 's1.ratio': r.ratio, 's1.bytes': r.bytesPerJob } }
    },
  },
]

/** A peer module may lack a function (the dueq file is written separately): same as not implemented. */
function need<K extends keyof Peer>(peer: Partial<Peer>, name: K): NonNullable<Peer[K]> {
  const fn = peer[name]
  if (typeof fn !== 'function') throw new Error('not implemented')
  return fn as NonNullable<Peer[K]>
}

const isNotImplemented = (e: unknown) => e instanceof Error && e.message === 'not implemented'

// ---- arguments ----------------------------------------------------------------------------------

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (argv.help) {
  console.log(`usage: npx tsx bench/run.ts [--quick] [--reps K] [--only ${WORKLOADS.map((w) => w.id).join(',')}]`)
  process.exit(0)
}
const quick = argv.quick === true
const reps = Number(argv.reps)
if (!Number.isInteger(reps) || reps < 1) throw new Error(`Expected --reps to be a positive integer, got "${argv.reps}"`)
const only = argv.only === undefined ? undefined : argv.only.split(',').map((s) => s.trim()).filter(Boolean)
for (const id of only ?? []) {
  if (!WORKLOADS.some((w) => w.id === id)) throw new Error(`Expected --only to name workloads among ${WORKLOADS.map((w) => w.id).join(', ')}, got "${id}"`)
}
const selected = WORKLOADS.filter((w) => only === undefined || only.includes(w.id))
const nOf = (w: Workload) => (quick ? w.n / 10 : w.n)

// ---- peers --------------------------------------------------------------------------------------

const bullmqPeer: Peer = bullmq

/** The dueq module, or why it could not be loaded. The path is a variable so the type check does not
 *  require the file to exist. */
async function loadDueq(): Promise<{ peer?: Partial<Peer>; why?: string }> {
  const path = './peers/dueq.ts'
  try {
    return { peer: (await import(path)) as Partial<Peer> }
  } catch (e) {
    return { why: e instanceof Error ? e.message.split('\n')[0] : String(e) }
  }
}

// ---- run ----------------------------------------------------------------------------------------

const log = (line: string) => process.stderr.write(`${line}\n`)
const startedAt = new Date()
let server: RedisServer | undefined
let admin: RedisAdmin | undefined

async function shutdown(): Promise<void> {
  await admin?.close().catch(() => {})
  await server?.stop()
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`\n${sig}: stopping the bench Redis`)
    void shutdown().finally(() => process.exit(130))
  })
}

/** runs[figure][peer] = one value per repetition. */
const runs = new Map<string, Partial<Record<PeerName, number[]>>>()
const notes: string[] = []
const missing = new Set<string>() // "peer:workload" that threw 'not implemented', reported once

try {
  const redis = (server = await startRedis())
  admin = new RedisAdmin(redis.port)
  await admin.client.ping()
  const redisVersion = await admin.version()

  const dueq = await loadDueq()
  if (dueq.why) {
    log(`dueq: peers/dueq.ts could not be loaded (${dueq.why}); its column will show "—"`)
    notes.push(`dueq not loaded: ${dueq.why}`)
  }
  const peers: Record<PeerName, Partial<Peer> | undefined> = { dueq: dueq.peer, bullmq: bullmqPeer }

  log(`bench: Redis ${redisVersion} on 127.0.0.1:${redis.port} (pid ${redis.pid}), ${reps} rep(s)${quick ? ', --quick (N/10)' : ''}, workloads ${selected.map((w) => w.id).join(',')}`)

  for (let rep = 1; rep <= reps; rep++) {
    // Alternate which peer goes first, so neither always runs on the warmer server.
    const order: PeerName[] = rep % 2 === 1 ? ['dueq', 'bullmq'] : ['bullmq', 'dueq']
    for (const w of selected) {
      for (const name of order) {
        const peer = peers[name]
        if (peer === undefined || (w.dueqOnly && name === 'bullmq')) continue
        const key = `${name}:${w.id}`
        if (missing.has(key)) continue
        const ctx: BenchContext = { port: redis.port, url: `redis://127.0.0.1:${redis.port}`, n: nOf(w), connect: (port = redis.port) => connect(port), admin }
        await admin.flushall()
        if (w.hz !== undefined) await admin.setHz(w.hz)
        const t0 = performance.now()
        let outcome: Outcome
        try {
          outcome = await w.run(peer, ctx, quick)
        } catch (e) {
          if (!isNotImplemented(e)) throw new Error(`${name} ${w.id} (rep ${rep}) failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
          missing.add(key)
          log(`[rep ${rep}/${reps}] ${w.id.padEnd(9)} ${name.padEnd(6)} not implemented`)
          continue
        } finally {
          if (w.hz !== undefined) await admin.setHz(10)
        }
        for (const [id, v] of Object.entries(outcome.figures)) {
          const byPeer = runs.get(id) ?? {}
          ;(byPeer[name] ??= []).push(v)
          runs.set(id, byPeer)
        }
        for (const note of outcome.notes ?? []) notes.push(`${name} rep ${rep}: ${note}`)
        const shown = Object.entries(outcome.figures).map(([id, v]) => `${id}=${fmt(v)}`).join(' ')
        log(`[rep ${rep}/${reps}] ${w.id.padEnd(9)} ${name.padEnd(6)} ${shown}  (${fmtMs(performance.now() - t0)})${outcome.notes?.length ? `  ! ${outcome.notes.join('; ')}` : ''}`)
      }
    }
  }

  // ---- report -----------------------------------------------------------------------------------

  const require = createRequire(import.meta.url)
  const machine = {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisVersion,
    bullmq: (require('bullmq/package.json') as { version: string }).version,
    ioredis: (require('ioredis/package.json') as { version: string }).version,
  }

  const medianOf = (id: string, peer: PeerName) => {
    const values = runs.get(id)?.[peer]
    return values && values.length > 0 ? median(values) : undefined
  }
  const shownFigures = FIGURES.filter((f) => runs.has(f.id))
  const rows = shownFigures.map((f) => {
    const d = medianOf(f.id, 'dueq')
    const b = medianOf(f.id, 'bullmq')
    return `| ${f.label} [${f.unit}] | ${fmt(d)} | ${fmt(b)} | ${f.ratio === false ? '—' : fmtRatio(d, b)} | ${f.goal} |`
  })
  const table = [
    '| figure | dueq | BullMQ | dueq / BullMQ | goal |',
    '|---|---:|---:|---:|---|',
    ...rows,
  ].join('\n')

  console.log(`\n## dueq vs BullMQ: medians of ${reps} repetition(s)${quick ? ' — QUICK (N/10), not comparable with full runs' : ''}\n`)
  console.log(table)
  console.log(`\nMachine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; Redis ${machine.redis} (hz 10, no persistence); BullMQ ${machine.bullmq}; ioredis ${machine.ioredis}.`)
  const notImplemented = [...missing].sort()
  if (notImplemented.length > 0) console.log(`Not implemented: ${notImplemented.join(', ')}.`)
  for (const note of notes) console.log(`Note: ${note}`)

  const finishedAt = new Date()
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    args: process.argv.slice(2),
    quick,
    reps,
    workloads: selected.map((w) => ({ id: w.id, n: nOf(w), ...(w.hz === undefined ? {} : { hz: w.hz }) })),
    machine,
    figures: Object.fromEntries(shownFigures.map((f) => {
      const d = medianOf(f.id, 'dueq')
      const b = medianOf(f.id, 'bullmq')
      const ratio = f.ratio === false || d === undefined || b === undefined || b === 0 ? null : d / b
      return [f.id, {
        label: f.label, unit: f.unit, goal: f.goal,
        dueq: d === undefined ? null : { median: d, runs: runs.get(f.id)?.dueq },
        bullmq: b === undefined ? null : { median: b, runs: runs.get(f.id)?.bullmq },
        ratio,
      }]
    })),
    notImplemented,
    notes,
  }
  const dir = new URL('./results/', import.meta.url)
  await mkdir(dir, { recursive: true })
  // Colons are not allowed in file names on every OS the results may be checked out on.
  const stamp = startedAt.toISOString().replace(/:/g, '-')
  for (const name of [`${stamp}.json`, 'latest.json']) {
    const tmp = new URL(`${name}.tmp`, dir)
    await writeFile(tmp, `${JSON.stringify(json, null, 2)}\n`)
    await rename(tmp, new URL(name, dir))
  }
  log(`\nwrote bench/results/${stamp}.json and bench/results/latest.json (${fmtMs(finishedAt.getTime() - startedAt.getTime())})`)
} finally {
  await shutdown()
}
