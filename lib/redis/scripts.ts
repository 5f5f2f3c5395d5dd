/**
 * The script runner. Every atomic state change is one Lua file in `scripts/`, named after the
 * method that calls it. Scripts go out by hash (EVALSHA) and, when the server does not know the
 * hash yet (NOSCRIPT), once more by body (EVAL), which also caches them server side.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isNoScript, RedisReplyError, type Arg, type Command, type RedisPort } from './port.ts'

export const SCRIPT_NAMES = [
  'enqueue', 'cancel', 'change_execution_time', 'get_job',
  'due', 'dispatch', 'lease_outbox', 'release_lock', 'register',
  'claim', 'finish', 'renew', 'requeue_stalled', 'requeue',
] as const
export type ScriptName = (typeof SCRIPT_NAMES)[number]

export interface Script {
  name: ScriptName
  body: string
  sha: string
}

// Bundlers that move this module can point DUEQ_SCRIPTS_DIR at a copy of the scripts folder.
const dir = process.env.DUEQ_SCRIPTS_DIR ?? fileURLToPath(new URL('./scripts', import.meta.url))

export const scripts: Record<ScriptName, Script> = Object.fromEntries(
  SCRIPT_NAMES.map((name) => {
    const body = readFileSync(join(dir, `${name}.lua`), 'utf8')
    return [name, { name, body, sha: createHash('sha1').update(body).digest('hex') }]
  }),
) as Record<ScriptName, Script>

/** One script call, as a command for `runScripts` or a pipeline. */
export interface ScriptCall {
  script: ScriptName
  keys: string[]
  args: Arg[]
}

const evalsha = ({ script, keys, args }: ScriptCall): Command => ['EVALSHA', scripts[script].sha, keys.length, ...keys, ...args]
const evalBody = ({ script, keys, args }: ScriptCall): Command => ['EVAL', scripts[script].body, keys.length, ...keys, ...args]

/** Runs one script: one round trip (two the first time a server meets it). */
export async function runScript(port: RedisPort, script: ScriptName, keys: string[], args: Arg[]): Promise<unknown> {
  try {
    return await port.call(evalsha({ script, keys, args }))
  } catch (e) {
    if (!isNoScript(e)) throw e
    return port.call(evalBody({ script, keys, args }))
  }
}

/**
 * Runs several script calls in one round trip, replies in order; rejects on the first error
 * reply. A call refused with NOSCRIPT did nothing, so those calls go again by body, in order.
 */
export async function runScripts(port: RedisPort, calls: ScriptCall[]): Promise<unknown[]> {
  const replies = await port.pipeline(calls.map(evalsha))
  const missing = replies.flatMap((r, i) => (isNoScript(r) ? [i] : []))
  if (missing.length > 0) {
    const retried = await port.pipeline(missing.map((i) => evalBody(calls[i]!)))
    missing.forEach((i, j) => { replies[i] = retried[j] })
  }
  const failed = replies.find((r) => r instanceof RedisReplyError)
  if (failed) throw failed
  return replies
}
