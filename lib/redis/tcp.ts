/** The TCP driver: ioredis, for a laptop, a VPC Redis or any `redis://` / `rediss://` URL. */
import { Redis } from 'ioredis'
import { RedisReplyError, type Command, type RedisPort } from './port.ts'

const asReplyError = (e: unknown): unknown =>
  e instanceof Error && e.name === 'ReplyError' ? new RedisReplyError(e.message) : e

export class TcpRedis implements RedisPort {
  readonly driver = 'tcp' as const
  readonly client: Redis
  private readonly url: string
  private subscriber: Redis | undefined

  constructor(url: string) {
    this.url = url
    // RESP2 keeps replies as flat arrays and strings on every server; no offline queue limit so a
    // dropped connection is retried by ioredis with backoff instead of failing every command.
    this.client = new Redis(url, { protocol: 2, maxRetriesPerRequest: null, lazyConnect: false })
    this.client.on('error', () => { /* reconnects on its own; commands report their own errors */ })
  }

  async call([name, ...args]: Command): Promise<unknown> {
    try {
      return await this.client.call(name, ...args)
    } catch (e) {
      throw asReplyError(e)
    }
  }

  async pipeline(commands: Command[]): Promise<unknown[]> {
    if (commands.length === 0) return []
    const replies = await this.client.pipeline(commands.map(([name, ...args]) => ['call', name, ...args])).exec()
    return (replies ?? []).map(([err, value]) => (err ? asReplyError(err) : value))
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      this.subscriber = new Redis(this.url, { protocol: 2, maxRetriesPerRequest: null })
      this.subscriber.on('error', () => {})
    }
    const sub = this.subscriber
    const listener = (ch: string, message: string) => { if (ch === channel) onMessage(message) }
    sub.on('message', listener)
    await sub.subscribe(channel)
    return async () => {
      sub.off('message', listener)
      await sub.unsubscribe(channel)
    }
  }

  async close(): Promise<void> {
    // QUIT waits for its reply. While the server is unreachable that reply never comes (QUIT sits
    // in the offline queue behind the commands waiting for a connection), so close() would hang:
    // then drop the connection instead. Commands still waiting for one stay unanswered either way.
    const end = async (c: Redis | undefined) => {
      if (!c) return
      if (c.status === 'ready') await c.quit()
      else c.disconnect()
    }
    await Promise.allSettled([end(this.client), end(this.subscriber)])
  }
}
