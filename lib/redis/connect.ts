import { DueqError } from '../core/errors.ts'
import type { RedisPort } from './port.ts'
import { TcpRedis } from './tcp.ts'
import { UpstashRedis } from './upstash.ts'

/**
 * Opens a store by URL: `redis://` or `rediss://` → TCP (ioredis); `http://` or `https://` →
 * Upstash REST, which needs `token`.
 */
export function connect(url: string, options: { token?: string } = {}): RedisPort {
  let scheme: string
  try {
    scheme = new URL(url).protocol
  } catch {
    throw new DueqError('CONFIG', `Expected a Redis URL (redis://, rediss://, http:// or https://), got "${url}"`, { field: 'url' })
  }
  if (scheme === 'redis:' || scheme === 'rediss:') return new TcpRedis(url)
  if (scheme === 'http:' || scheme === 'https:') {
    if (!options.token) throw new DueqError('CONFIG', `An Upstash REST URL (${scheme}//) needs a token: connect(url, { token })`, { field: 'token' })
    return new UpstashRedis(url, options.token)
  }
  throw new DueqError('CONFIG', `Expected a Redis URL starting with redis://, rediss://, http:// or https://, got "${scheme}//…"`, { field: 'url' })
}
