/**
 * The Upstash driver: @upstash/redis over HTTPS, the cloud default.
 *
 * It talks to the client's own HTTP requester (auth, base64 reply decoding, retries of network
 * errors) rather than its typed commands: dueq stores its own JSON and must get back exactly what it
 * wrote, and its pipelines carry arbitrary commands (EVALSHA above all) in ONE /pipeline request.
 * The client's auto-pipelining is off: it skips `exec`, and splits reads from writes into separate
 * concurrent requests, which would reorder them.
 */
import { Redis, type Requester } from '@upstash/redis'
import { RedisReplyError, type Command, type RedisPort } from './port.ts'

interface Reply {
  result?: unknown
  error?: string
}

/** Upstash errors end in ", command was: <the whole request>": never echo scripts or payloads. */
const replyError = (text: string) => new RedisReplyError(text.replace(/, command was: [\s\S]*$/, ''))

export class UpstashRedis implements RedisPort {
  readonly driver = 'upstash' as const
  readonly client: Redis
  private readonly http: Requester

  constructor(url: string, token: string) {
    this.client = new Redis({ url, token, automaticDeserialization: false, enableAutoPipelining: false, enableTelemetry: false, keepAlive: true })
    // The requester is the client's documented transport interface, held in a protected field.
    this.http = (this.client as unknown as { client: Requester }).client
  }

  async call(command: Command): Promise<unknown> {
    let reply: Reply
    try {
      reply = (await this.http.request({ body: command })) as Reply
    } catch (e) {
      throw e instanceof Error && e.name === 'UpstashError' ? replyError(e.message) : e
    }
    if (reply.error !== undefined) throw replyError(reply.error)
    return reply.result ?? null
  }

  async pipeline(commands: Command[]): Promise<unknown[]> {
    if (commands.length === 0) return []
    let replies: Reply[]
    try {
      replies = (await this.http.request({ path: ['pipeline'], body: commands })) as Reply[]
    } catch (e) {
      throw e instanceof Error && e.name === 'UpstashError' ? replyError(e.message) : e
    }
    return replies.map((r) => (r.error !== undefined ? replyError(r.error) : (r.result ?? null)))
  }

  async close(): Promise<void> {
    // Stateless HTTP: nothing to close.
  }
}
