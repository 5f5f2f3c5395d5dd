/**
 * What every function shares, built once per Lambda container (cold start) and reused by every
 * invocation: configuration (secrets from SSM first), the Redis store, the Scheduler, handlers.
 *
 * SSM: DUEQ_SSM_PARAMETERS is a JSON object { "<ENV VAR>": "<SSM parameter name>" }; each
 * parameter is read (decrypted) once and set as that variable unless it is already set.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm'
import { SQSClient } from '@aws-sdk/client-sqs'
import { DueqError } from '../../lib/core/errors.ts'
import { loadConfig, type Config } from '../../lib/config.ts'
import { httpJob } from '../../lib/http-job.ts'
import type { JobRegistry } from '../../lib/jobs.ts'
import { connect } from '../../lib/redis/connect.ts'
import type { RedisPort } from '../../lib/redis/port.ts'
import { Scheduler } from '../../lib/scheduler.ts'
import { SqsBatchSender, sqsQueueUrlResolver } from '../../lib/sqs/sender.ts'
import { jobs } from '../jobs.ts'

export interface Runtime {
  config: Config
  redis: RedisPort
  scheduler: Scheduler
  jobs: JobRegistry
}

/** Reads the SSM parameters named in DUEQ_SSM_PARAMETERS into the environment. */
export async function loadSsmParameters(env: Record<string, string | undefined> = process.env, client?: Pick<SSMClient, 'send'>): Promise<void> {
  if (!env.DUEQ_SSM_PARAMETERS) return
  let wanted: Record<string, string>
  try {
    wanted = JSON.parse(env.DUEQ_SSM_PARAMETERS) as Record<string, string>
  } catch {
    throw new DueqError('CONFIG', 'DUEQ_SSM_PARAMETERS is not JSON: set it to {"ENV_VAR":"/ssm/parameter/name"}', { field: 'DUEQ_SSM_PARAMETERS' })
  }
  const missing = Object.entries(wanted).filter(([variable]) => !env[variable])
  if (missing.length === 0) return
  const ssm = client ?? new SSMClient({})
  const byName = new Map<string, string>()
  for (let i = 0; i < missing.length; i += 10) { // GetParameters takes at most 10 names
    const out = await ssm.send(new GetParametersCommand({ Names: missing.slice(i, i + 10).map(([, name]) => name), WithDecryption: true }))
    if (out.InvalidParameters?.length) throw new DueqError('CONFIG', `SSM parameters not found: ${out.InvalidParameters.join(', ')} (named in DUEQ_SSM_PARAMETERS)`, { field: 'DUEQ_SSM_PARAMETERS' })
    for (const p of out.Parameters ?? []) if (p.Name && p.Value !== undefined) byName.set(p.Name, p.Value)
  }
  for (const [variable, name] of missing) {
    const value = byName.get(name)
    if (value !== undefined) env[variable] = value
  }
}

let cached: Promise<Runtime> | undefined

/** The shared runtime; a failed start is not cached, so the next invocation tries again. */
export function runtime(): Promise<Runtime> {
  cached ??= build().catch((e: unknown) => {
    cached = undefined
    throw e
  })
  return cached
}

async function build(): Promise<Runtime> {
  await loadSsmParameters()
  const config = loadConfig()
  if (config.httpSecret && !jobs.get('http')) jobs.define('http', httpJob({ secret: config.httpSecret }))
  const redis = connect(config.redisUrl, config.redisToken ? { token: config.redisToken } : {})
  const target = config.target === 'sqs' && config.sqsQueueUrls !== undefined
    ? { kind: 'sqs' as const, sender: new SqsBatchSender({ client: new SQSClient({}), queueUrl: sqsQueueUrlResolver(config.sqsQueueUrls) }) }
    : { kind: 'redis' as const }
  const scheduler = new Scheduler({ redis, namespace: config.namespace, queue: config.queue, target, jobs })
  return { config, redis, scheduler, jobs }
}

/** For tests: forget the cached runtime (after changing the environment). */
export async function resetRuntime(): Promise<void> {
  const r = await cached?.catch(() => undefined)
  cached = undefined
  await r?.redis.close()
}
