/**
 * The command line: `dueq scheduler` (rqscheduler's options), `dueq worker` (rq worker's), and
 * `dueq info` (rq info). Handlers come from code: the built-ins, or a module named by --jobs that
 * exports a JobRegistry. Nothing is ever loaded by a name read from Redis.
 */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { builtinJobs } from './builtin-jobs.ts'
import { DueqError } from './core/errors.ts'
import { formatInfo, info } from './info.ts'
import { consoleLogger, JobRegistry } from './jobs.ts'
import { connect } from './redis/connect.ts'
import type { RedisPort } from './redis/port.ts'
import { Scheduler } from './scheduler.ts'
import { Worker } from './worker.ts'

const USAGE = `usage: dueq <command> [options]

commands:
  scheduler   run the scheduler loop: move due jobs to their queues
  worker      run jobs from queues
  info        show queues (counts per registry), workers and schedulers

common options:
  --url URL          Redis URL: redis://, rediss://, or an Upstash https:// URL  (env REDIS_URL, default redis://127.0.0.1:6379)
  --token TOKEN      Upstash REST token                                          (env UPSTASH_REDIS_REST_TOKEN)
  --namespace NAME   key namespace                                               (env DUEQ_NAMESPACE, default "default")
  -v, --verbose      log more
  -q, --quiet        log only errors
  -h, --help

scheduler:
  --queue NAME       default queue                                               (env DUEQ_QUEUE, default "default")
  --interval SEC     longest sleep between passes, seconds                       (default 5)
  --burst            one pass, then exit

worker:
  --queues A,B       queues in priority order                                    (default "default")
  --concurrency N    handlers running at once                                    (default 1)
  --burst            run until the queues are empty, then exit
  --jobs MODULE      a module exporting a JobRegistry (as \`default\` or \`jobs\`); default: the
                     built-in noop, echo and http (http needs env DUEQ_HTTP_SECRET)`

interface Output {
  log(line: string): void
  error(line: string): void
}

const OPTIONS = {
  url: { type: 'string' }, token: { type: 'string' }, namespace: { type: 'string' }, queue: { type: 'string' },
  queues: { type: 'string' }, concurrency: { type: 'string' }, jobs: { type: 'string' },
  interval: { type: 'string' }, burst: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
} as const

const ONLY: Record<string, string[]> = {
  scheduler: ['queue', 'interval'],
  worker: ['queues', 'concurrency', 'jobs'],
  info: [],
}

class UsageError extends Error {}

export async function main(argv: string[], out: Output = { log: (l) => console.log(l), error: (l) => console.error(l) }): Promise<number> {
  let redis: RedisPort | undefined
  try {
    const { values: o, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
    if (o.help || positionals.length === 0) {
      out.log(USAGE)
      return o.help ? 0 : 2
    }
    const command = positionals[0]!
    if (!(command in ONLY) || positionals.length > 1) throw new UsageError(`unknown command "${positionals.join(' ')}"`)
    for (const [name, commands] of Object.entries(ONLY)) {
      for (const option of commands) if (o[option as keyof typeof o] !== undefined && name !== command) throw new UsageError(`--${option} is an option of \`dueq ${name}\`, not of \`dueq ${command}\``)
    }
    if (o.burst !== undefined && command === 'info') throw new UsageError('--burst is an option of `dueq scheduler` and `dueq worker`')
    const url = o.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    const token = o.token ?? process.env.UPSTASH_REDIS_REST_TOKEN
    const namespace = o.namespace ?? process.env.DUEQ_NAMESPACE ?? 'default'
    const log = (line: string) => { if (!o.quiet) out.log(line) }

    if (command === 'scheduler') {
      const intervalSec = o.interval === undefined ? 5 : Number(o.interval)
      if (!Number.isFinite(intervalSec) || intervalSec <= 0) throw new UsageError(`expected --interval to be a number of seconds > 0, got "${o.interval}"`)
      redis = connect(url, token ? { token } : {})
      const scheduler = new Scheduler({ redis, namespace, queue: o.queue ?? process.env.DUEQ_QUEUE ?? 'default' })
      log(`dueq scheduler ${scheduler.core.o.name}: namespace "${namespace}" on ${redactUrl(url)}${o.burst ? ' (burst)' : ''}`)
      const summary = await scheduler.run({
        intervalMs: Math.round(intervalSec * 1000),
        burst: o.burst ?? false,
        onPass: (r) => {
          if (o.verbose || (!o.quiet && (r.dispatched > 0 || r.failed > 0))) {
            out.log(`pass: ${r.acquired ? '' : 'lock held elsewhere, '}dispatched ${r.dispatched}, rescheduled ${r.rescheduled}, skipped ${r.skipped}, failed ${r.failed}`)
          }
        },
        onError: (e) => out.error(`dueq: pass failed, retrying: ${(e as Error).message}`),
      })
      log(`dueq scheduler stopped (${summary.stoppedBy}): ${summary.passes} passes, ${summary.dispatched} dispatched`)
      return 0
    }

    if (command === 'worker') {
      const concurrency = o.concurrency === undefined ? 1 : Number(o.concurrency)
      if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new UsageError(`expected --concurrency to be a whole number ≥ 1, got "${o.concurrency}"`)
      const queues = (o.queues ?? 'default').split(',').map((q) => q.trim()).filter(Boolean)
      const jobs = o.jobs ? await loadJobs(o.jobs) : builtinJobs(process.env.DUEQ_HTTP_SECRET ? { httpSecret: process.env.DUEQ_HTTP_SECRET } : {})
      redis = connect(url, token ? { token } : {})
      const worker = new Worker({ redis, namespace, queues, jobs, logger: o.quiet ? { ...consoleLogger, info: () => {}, warn: () => {} } : consoleLogger })
      log(`dueq worker ${worker.name}: queues ${queues.join(', ')} in namespace "${namespace}", handlers ${jobs.names().join(', ')}`)
      const summary = await worker.work({ burst: o.burst ?? false, concurrency })
      log(`dueq worker stopped: ${summary.processed} processed, ${summary.failed} failed`)
      return 0
    }

    redis = connect(url, token ? { token } : {})
    for (const line of formatInfo(await info(redis, namespace))) out.log(line)
    return 0
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      out.error(`dueq: ${e.message}\n${USAGE}`)
      return 2
    }
    if (e instanceof DueqError) {
      out.error(`dueq: ${e.message}`)
      return 2
    }
    out.error(`dueq: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  } finally {
    await redis?.close()
  }
}

async function loadJobs(path: string): Promise<JobRegistry> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown; jobs?: unknown }
  const jobs = mod.jobs ?? mod.default
  // Duck-typed: the module may import dueq through another path than this file.
  const ok = typeof jobs === 'object' && jobs !== null && typeof (jobs as JobRegistry).get === 'function' && typeof (jobs as JobRegistry).names === 'function'
  if (!ok) throw new DueqError('CONFIG', `Expected --jobs ${path} to export a JobRegistry as \`jobs\` or \`default\``, { field: 'jobs' })
  return jobs as JobRegistry
}

/** A URL for logs: never print a password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(invalid url)'
  }
}
