// Self-check of the RTT proxy against a real redis-server: `npx tsx bench/support/rtt-proxy.selftest.ts`.
// Exits non-zero on the first wrong count. Covers the cases W5 relies on: awaited commands, a pipeline,
// MULTI/EXEC, a pipeline large enough to arrive in many TCP reads, and large and nested replies.
import { connect, startRedis } from './redis-server.ts'
import { RespCounter, startRttProxy } from './rtt-proxy.ts'

const redis = await startRedis()
const proxy = await startRttProxy(redis.port)
const client = connect(proxy.port)
let failed = 0

async function check(name: string, want: { rt: number; cmds: number }, fn: () => Promise<unknown>) {
  proxy.reset()
  await fn()
  const got = { rt: proxy.roundTrips(), cmds: proxy.commands() }
  const ok = got.rt === want.rt && got.cmds === want.cmds && proxy.unsolicited() === 0
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: round trips ${got.rt} (want ${want.rt}), commands ${got.cmds} (want ${want.cmds})`)
}

// The parser alone, fed one byte at a time: every split point between TCP reads must be handled.
{
  const stream = '+OK\r\n-ERR x\r\n:42\r\n$3\r\nabc\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n' +
    '*2\r\n*2\r\n:1\r\n$1\r\n\n\r\n+QUEUED\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\r\n\r\n'
  let starts = 0
  let ends = 0
  const counter = new RespCounter(() => starts++, () => ends++)
  for (const byte of Buffer.from(stream, 'latin1')) counter.feed(Buffer.from([byte]))
  const ok = starts === 10 && ends === 10
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} byte-by-byte parse: ${starts} starts, ${ends} messages (want 10, 10)`)
}

try {
  await client.ping() // connection set-up traffic stays out of the counts

  await check('one awaited command', { rt: 1, cmds: 1 }, () => client.set('a', '1'))
  await check('pipeline of 100', { rt: 1, cmds: 100 }, async () => {
    const p = client.pipeline()
    for (let i = 0; i < 100; i++) p.set(`k${i}`, String(i))
    await p.exec()
  })
  await check('3 awaited commands', { rt: 3, cmds: 3 }, async () => {
    await client.get('a')
    await client.incr('n')
    await client.get('n')
  })
  await check('MULTI of 10 + EXEC', { rt: 1, cmds: 12 }, async () => {
    const m = client.multi()
    for (let i = 0; i < 10; i++) m.incr('m')
    await m.exec()
  })
  const big = 'x'.repeat(1000)
  await check('pipeline of 20,000 × 1 kB (many TCP reads)', { rt: 1, cmds: 20_000 }, async () => {
    const p = client.pipeline()
    for (let i = 0; i < 20_000; i++) p.set(`big${i}`, big)
    await p.exec()
  })
  await client.set('huge', 'y'.repeat(5_000_000))
  await check('5 MB reply', { rt: 1, cmds: 1 }, () => client.get('huge'))
  await client.rpush('list', 'a', 'b', 'c')
  await check('nested and null replies', { rt: 1, cmds: 4 }, async () => {
    const m = client.multi()
    m.lrange('list', 0, -1)
    m.get('missing')
    await m.exec() // EXEC reply: *2 of (*3 ...) and $-1
  })
  await check('Lua script', { rt: 2, cmds: 2 }, async () => {
    await client.eval("return {1, {2, 'x'}, redis.call('GET', 'a')}", 0)
    await client.eval('return nil', 0)
  })
} finally {
  client.disconnect()
  await proxy.close()
  await redis.stop()
}

console.log(failed === 0 ? 'rtt-proxy self-check passed' : `rtt-proxy self-check: ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
