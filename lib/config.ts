/**
 * Configuration, read and validated once at start from the environment. Each error names the
 * variable and the fix. In the cloud the secrets (Upstash token, API keys, HTTP signing secret)
 * come from SSM parameters, which the function handlers load into the same variables first.
 *
 *   REDIS_URL                 redis://, rediss:// (TCP) or https:// (Upstash REST)
 *   UPSTASH_REDIS_REST_URL    alternative to REDIS_URL for Upstash, with:
 *   UPSTASH_REDIS_REST_TOKEN  the Upstash REST token (required with an https:// URL)
 *   DUEQ_NAMESPACE            key namespace (default "default")
 *   DUEQ_QUEUE                default queue (default "default")
 *   DUEQ_TARGET               where the tick dispatches: "redis" (default) or "sqs"
 *   DUEQ_SQS_QUEUE_URL        with DUEQ_TARGET=sqs: one SQS queue URL for every dueq queue, or
 *   DUEQ_SQS_QUEUE_URLS       a JSON object { "<dueq queue>": "<SQS queue URL>" }
 *   DUEQ_API_KEYS             comma-separated API keys for the HTTP API (or DUEQ_API_KEY: one)
 *   DUEQ_HTTP_SECRET          signing secret of the built-in http handler (optional)
 */
import { DueqError } from './core/errors.ts'

export interface Config {
  redisUrl: string
  redisToken: string | undefined
  namespace: string
  queue: string
  target: 'redis' | 'sqs'
  /** SQS queue URL per dueq queue (a string: the same for all). */
  sqsQueueUrls: Record<string, string> | string | undefined
  apiKeys: string[]
  httpSecret: string | undefined
}

const fail = (variable: string, problem: string, fix: string) =>
  new DueqError('CONFIG', `${variable} ${problem}: ${fix}`, { field: variable })

export function loadConfig(env: Record<string, string | undefined> = process.env, o: { requireApiKeys?: boolean } = {}): Config {
  const redisUrl = env.REDIS_URL || env.UPSTASH_REDIS_REST_URL || 'redis://127.0.0.1:6379'
  const source = env.REDIS_URL ? 'REDIS_URL' : env.UPSTASH_REDIS_REST_URL ? 'UPSTASH_REDIS_REST_URL' : 'REDIS_URL'
  let scheme: string
  try {
    scheme = new URL(redisUrl).protocol
  } catch {
    throw fail(source, `is not a URL ("${redisUrl.slice(0, 40)}")`, 'set it to redis://host:6379 or to your Upstash https:// REST URL')
  }
  if (!['redis:', 'rediss:', 'http:', 'https:'].includes(scheme)) throw fail(source, `has the scheme ${scheme}`, 'use redis://, rediss:// or https://')
  const redisToken = env.UPSTASH_REDIS_REST_TOKEN || undefined
  if ((scheme === 'http:' || scheme === 'https:') && !redisToken) throw fail('UPSTASH_REDIS_REST_TOKEN', 'is missing', `an Upstash REST URL (${source}) needs its token`)

  const target = (env.DUEQ_TARGET || 'redis') as Config['target']
  if (target !== 'redis' && target !== 'sqs') throw fail('DUEQ_TARGET', `is "${env.DUEQ_TARGET}"`, 'set it to "redis" or "sqs"')
  let sqsQueueUrls: Config['sqsQueueUrls']
  if (env.DUEQ_SQS_QUEUE_URLS) {
    try {
      const parsed = JSON.parse(env.DUEQ_SQS_QUEUE_URLS) as unknown
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) throw new Error('shape')
      sqsQueueUrls = parsed as Record<string, string>
    } catch {
      throw fail('DUEQ_SQS_QUEUE_URLS', 'is not a JSON object of queue URLs', 'set it to {"default":"https://sqs.<region>.amazonaws.com/<account>/<queue>"}')
    }
  } else if (env.DUEQ_SQS_QUEUE_URL) {
    sqsQueueUrls = env.DUEQ_SQS_QUEUE_URL
  }
  if (target === 'sqs' && sqsQueueUrls === undefined) throw fail('DUEQ_SQS_QUEUE_URL', 'is missing', 'DUEQ_TARGET=sqs needs the SQS queue URL (or DUEQ_SQS_QUEUE_URLS)')

  const apiKeys = (env.DUEQ_API_KEYS || env.DUEQ_API_KEY || '').split(',').map((k) => k.trim()).filter(Boolean)
  if (apiKeys.some((k) => k.length < 16)) throw fail('DUEQ_API_KEYS', 'holds a key shorter than 16 characters', 'use long random keys, e.g. `openssl rand -hex 24`')
  if (o.requireApiKeys && apiKeys.length === 0) throw fail('DUEQ_API_KEYS', 'is missing', 'set at least one API key for the HTTP API')

  return {
    redisUrl, redisToken,
    namespace: env.DUEQ_NAMESPACE || 'default',
    queue: env.DUEQ_QUEUE || 'default',
    target, sqsQueueUrls, apiKeys,
    httpSecret: env.DUEQ_HTTP_SECRET || undefined,
  }
}
