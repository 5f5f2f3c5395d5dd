// A dedicated, throw-away redis-server for one bench run, plus the admin helpers the workloads need
// (FLUSHALL, used_memory, command counts).
//
// Why our own server: WORKLOADS.md asks for a Redis that nothing else touches, with persistence off
// (`--save '' --appendonly no`) so no fork or fsync lands inside a timer, and otherwise default
// settings: `hz 10` matters, since it sets how often Redis wakes blocked clients on timeout, and so
// BullMQ's lateness in W3.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

export interface RedisServer {
  port: number
  pid: number
  /** SIGTERM by pid, resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>
}

export interface StartOptions {
  /** Redis `hz`; default 10 (Redis's own default, the headline setting). */
  hz?: number
  /** Port to use; default: a free one picked by the OS. */
  port?: number
}

/** Every bench connection is made the same way. ioredis 6 speaks RESP3 unless told otherwise; the RTT
 *  proxy and the figures in PEERS.md assume RESP2, hence `protocol: 2`. BullMQ requires
 *  `maxRetriesPerRequest: null` on connections it blocks on. */
export function connect(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', protocol: 2, maxRetriesPerRequest: null })
}

/** Asks the OS for a free port. There is a short window in which another process could take it; on a
 *  bench machine that is acceptable, and startRedis reports a clear error if it happens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') return reject(new Error('Expected a TCP address'))
      srv.close(() => resolve(addr.port))
    })
  })
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function startRedis(opts: StartOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort())
  const args = ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1']
  if (opts.hz !== undefined) args.push('--hz', String(opts.hz))
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  // Keep the tail of the server's log: when it fails to start, that is the only useful message.
  let log = ''
  const keep = (b: Buffer) => { log = (log + b.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let spawnError: Error | undefined
  child.once('error', (e) => { spawnError = e })

  const deadline = Date.now() + 10_000
  for (;;) {
    if (spawnError) throw new Error(`Expected redis-server on PATH, got: ${spawnError.message}`)
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log}`)
    if (await pingOnce(port)) break
    if (Date.now() > deadline) {
      await kill(child, exited)
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${log}`)
    }
    await sleep(20)
  }
  if (child.pid === undefined) throw new Error('redis-server started without a pid')
  const pid = child.pid
  // A crash of the bench (uncaught exception, process.exit) must not leave the server running: 'exit'
  // handlers run in those cases too, and a synchronous kill is all they allow.
  const killOnExit = () => { try { process.kill(pid) } catch { /* already gone */ } }
  process.once('exit', killOnExit)
  let stopping: Promise<void> | undefined
  const stop = () => (stopping ??= kill(child, exited).then(() => { process.off('exit', killOnExit) }))
  return { port, pid, stop }
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try { process.kill(child.pid) } catch { /* already gone */ }
  }
  await exited
}

async function pingOnce(port: number): Promise<boolean> {
  // No retries: a refused connection just means "not up yet", and the caller loops.
  const c = new Redis({ port, host: '127.0.0.1', protocol: 2, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  c.on('error', () => {})
  try {
    await c.connect()
    return (await c.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    c.disconnect()
  }
}

/** Admin helpers on their own connection, so that measuring never shares a socket (or a round-trip
 *  count) with the client being measured. */
export class RedisAdmin {
  readonly client: Redis
  constructor(port: number) {
    this.client = connect(port)
  }

  async flushall(): Promise<void> {
    await this.client.flushall()
  }

  async info(section: string): Promise<Map<string, string>> {
    const text = await this.client.info(section)
    const out = new Map<string, string>()
    for (const line of text.split('\r\n')) {
      const at = line.indexOf(':')
      if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), line.slice(at + 1))
    }
    return out
  }

  /** `used_memory` in bytes (W4). */
  async usedMemory(): Promise<number> {
    const v = (await this.info('memory')).get('used_memory')
    if (v === undefined) throw new Error('Expected used_memory in INFO memory')
    return Number(v)
  }

  /** CONFIG RESETSTAT: zeroes INFO commandstats before a W5 pass. */
  async resetStats(): Promise<void> {
    await this.client.config('RESETSTAT')
  }

  /** Sum of `calls` over INFO commandstats, without `cmdstat_config` (our own RESETSTAT). Commands run
   *  inside Lua scripts are counted by Redis too, which is the point of W5. */
  async serverCommands(): Promise<number> {
    let total = 0
    for (const [key, value] of await this.info('commandstats')) {
      if (!key.startsWith('cmdstat_') || key === 'cmdstat_config') continue
      const m = /(?:^|,)calls=(\d+)/.exec(value)
      if (!m) throw new Error(`Expected calls=N in ${key}:${value}`)
      total += Number(m[1])
    }
    return total
  }

  async setHz(hz: number): Promise<void> {
    await this.client.config('SET', 'hz', String(hz))
  }

  async version(): Promise<string> {
    return (await this.info('server')).get('redis_version') ?? 'unknown'
  }

  async close(): Promise<void> {
    await this.client.quit()
  }
}
