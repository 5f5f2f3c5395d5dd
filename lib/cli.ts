/**
 * `dueq scheduler`: the scheduler loop as a process, with rqscheduler's options.
 * (`dueq worker` and `dueq info` join it with the workers.)
 */
import { parseArgs } from 'node:util'
import { DueqError } from './core/errors.ts'
import { connect } from './redis/connect.ts'
import { Scheduler } from './scheduler.ts'

const USAGE = `usage: dueq <command> [options]

commands:
  scheduler   run the scheduler loop: move due jobs to their queues

options:
  --url URL          Redis URL: redis://, rediss://, or an Upstash https:// URL  (env REDIS_URL, default redis://127.0.0.1:6379)
  --token TOKEN      Upstash REST token                                          (env UPSTASH_REDIS_REST_TOKEN)
  --namespace NAME   key namespace                                               (env DUEQ_NAMESPACE, default "default")
  --queue NAME       default queue                                               (env DUEQ_QUEUE, default "default")
  --interval SEC     longest sleep between passes, seconds                       (default 5)
  --burst            one pass, then exit
  -v, --verbose      log every pass
  -q, --quiet        log only errors
  -h, --help`

interface Output {
  log(line: string): void
  error(line: string): void
}

export async function main(argv: string[], out: Output = { log: (l) => console.log(l), error: (l) => console.error(l) }): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, token: { type: 'string' }, namespace: { type: 'string' }, queue: { type: 'string' },
        interval: { type: 'string' }, burst: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    out.error(`dueq: ${(e as Error).message}\n${USAGE}`)
    return 2
  }
  const { values: o, positionals } = parsed
  if (o.help || positionals.length === 0) {
    out.log(USAGE)
    return o.help ? 0 : 2
  }
  if (positionals[0] !== 'scheduler' || positionals.length > 1) {
    out.error(`dueq: unknown command "${positionals.join(' ')}"\n${USAGE}`)
    return 2
  }
  const intervalSec = o.interval === undefined ? 5 : Number(o.interval)
  if (!Number.isFinite(intervalSec) || intervalSec <= 0) {
    out.error(`dueq: expected --interval to be a number of seconds > 0, got "${o.interval}"`)
    return 2
  }
  const url = o.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const token = o.token ?? process.env.UPSTASH_REDIS_REST_TOKEN
  let redis
  let scheduler
  try {
    redis = connect(url, token ? { token } : {})
    scheduler = new Scheduler({ redis, namespace: o.namespace ?? process.env.DUEQ_NAMESPACE ?? 'default', queue: o.queue ?? process.env.DUEQ_QUEUE ?? 'default' })
  } catch (e) {
    out.error(`dueq: ${e instanceof DueqError ? e.message : String(e)}`)
    return 2
  }
  const log = (line: string) => { if (!o.quiet) out.log(line) }
  log(`dueq scheduler ${scheduler.core.o.name}: namespace "${scheduler.keys.namespace}" on ${redactUrl(url)}${o.burst ? ' (burst)' : ''}`)
  try {
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
  } finally {
    await redis.close()
  }
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
