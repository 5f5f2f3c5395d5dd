/**
 * The one narrow port between dueq and Redis. Two drivers implement it: ioredis over TCP
 * (`tcp.ts`) and @upstash/redis over HTTPS (`upstash.ts`). Replies are normalized the same way by
 * both: bulk strings as strings, integers as numbers, nil as null, arrays as arrays.
 */
export type Arg = string | number
export type Command = [name: string, ...args: Arg[]]

export interface RedisPort {
  readonly driver: 'tcp' | 'upstash'
  /** One command, one round trip. Rejects with RedisReplyError on an error reply. */
  call(command: Command): Promise<unknown>
  /**
   * Several commands in ONE round trip, replies in order. Error replies come back as
   * RedisReplyError values in the array (not thrown), so a caller can retry only those.
   */
  pipeline(commands: Command[]): Promise<unknown[]>
  /**
   * Calls `onMessage` for each message published on `channel` (TCP only: Upstash's REST API has
   * no push; callers fall back to a short poll). Resolves to an unsubscribe function.
   */
  subscribe?(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

/** An error reply from Redis (e.g. NOSCRIPT, WRONGTYPE), as opposed to a transport failure. */
export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError'
}

export const isNoScript = (e: unknown): boolean => e instanceof Error && /NOSCRIPT/.test(e.message)
