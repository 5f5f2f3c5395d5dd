/**
 * `npm start`'s process (scripts/start.mjs runs it through tsx once dependencies and Redis are
 * there): reads the environment, starts dueq locally and prints how to use it. SIGINT or SIGTERM
 * (or the parent going away) stops it cleanly; a second signal a moment later forces the exit.
 *
 *   PORT               HTTP port (default 3000)
 *   REDIS_URL          default redis://127.0.0.1:6379
 *   DUEQ_API_KEY       the API key (default: a random one, printed)
 *   DUEQ_HTTP_SECRET   signing secret of the `http` handler (default: a random one, printed)
 *   DUEQ_NAMESPACE     key namespace (default "default")
 *   DUEQ_QUEUES        queues the worker serves, comma separated (default: the default queue)
 */
import { randomBytes } from 'node:crypto'
import { isDueqError } from '../../lib/core/errors.ts'
import { displayUrl, startLocal, type LocalDueq } from './server.ts'

const env = process.env

function fail(line: string): never {
  console.error(`dueq: ${line}`)
  process.exit(1)
}

const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT)
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`PORT is "${env.PORT}": set it to a port number (0–65535)`)
const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379'
const apiKey = env.DUEQ_API_KEY || randomBytes(24).toString('hex')
const httpSecret = env.DUEQ_HTTP_SECRET || randomBytes(24).toString('hex')
const queues = (env.DUEQ_QUEUES ?? '').split(',').map((q) => q.trim()).filter(Boolean)

let dueq: LocalDueq
try {
  dueq = await startLocal({
    port, redisUrl, apiKey, httpSecret,
    ...(env.UPSTASH_REDIS_REST_TOKEN ? { redisToken: env.UPSTASH_REDIS_REST_TOKEN } : {}),
    ...(env.DUEQ_NAMESPACE ? { namespace: env.DUEQ_NAMESPACE } : {}),
    ...(queues.length > 0 ? { queues } : {}),
  })
} catch (e) {
  if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') fail(`port ${port} is in use: stop what uses it, or set PORT to another`)
  fail(isDueqError(e) ? e.message : String(e))
}

const auth = `-H 'authorization: Bearer ${apiKey}'`
console.log([
  `dueq is up on ${dueq.url}  (Redis ${displayUrl(redisUrl)}, namespace ${dueq.namespace})`,
  `  scheduler loop and worker running; handlers: noop, echo, add, http`,
  `  API key:          ${apiKey}${env.DUEQ_API_KEY ? '' : '  (generated; set DUEQ_API_KEY to choose one)'}`,
  `  http job secret:  ${httpSecret}${env.DUEQ_HTTP_SECRET ? '' : '  (generated; set DUEQ_HTTP_SECRET to choose one)'}`,
  '',
  'Try it: an `add` job due in 2 s, then its result:',
  `  curl -s -X POST ${dueq.url}/v1/jobs ${auth} -H 'content-type: application/json' -d '{"id":"try-add","name":"add","data":{"a":2,"b":3},"in":2000}'`,
  `  sleep 3; curl -s ${dueq.url}/v1/jobs/try-add ${auth}`,
  `The routes: curl -s ${dueq.url}/v1/openapi.json ${auth}   Stop: Ctrl-C`,
].join('\n'))

let stoppingSince = 0
async function shutdown(reason: string) {
  // One Ctrl-C reaches us twice (the terminal's, and npm start's parent passing it on): only a
  // signal a moment after the first one means "now".
  if (stoppingSince) {
    if (Date.now() - stoppingSince > 1_000) {
      console.error('dueq: forced exit')
      process.exit(130)
    }
    return
  }
  stoppingSince = Date.now()
  console.log(`dueq: ${reason}: stopping (the worker and the scheduler finish their pass)…`)
  await dueq.close()
  console.log('dueq: stopped')
  process.exitCode = 0
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
// Started by scripts/start.mjs with an IPC channel: if that parent dies, so do we. The channel
// itself must not keep the process alive once everything else has stopped.
process.channel?.unref()
process.on('disconnect', () => { if (!stoppingSince) void shutdown('parent gone') })
