import { describe, expect, it } from 'vitest'
import { main } from '../../lib/cli.ts'
import { Scheduler } from '../../lib/index.ts'
import { REDIS_URL, useStore } from '../support/stores.ts'

const capture = () => {
  const lines: string[] = []
  const errors: string[] = []
  return { lines, errors, out: { log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) } }
}

describe('dueq scheduler (CLI)', () => {
  const store = useStore('tcp')

  it('--burst does one pass over the namespace and exits 0', async () => {
    const s = new Scheduler({ redis: store.redis, namespace: store.namespace })
    const job = await s.enqueueAt(Date.now() - 1, { name: 'noop' })
    const c = capture()
    const code = await main(['scheduler', '--burst', '--url', REDIS_URL, '--namespace', store.namespace, '-v'], c.out)
    expect(code).toBe(0)
    expect(c.lines.some((l) => l.includes('dispatched 1'))).toBe(true)
    expect(await store.admin.lrange(s.keys.ready('default'), 0, -1)).toEqual([job.id])
  })

  it('--quiet prints nothing on success', async () => {
    const c = capture()
    expect(await main(['scheduler', '--burst', '--quiet', '--namespace', store.namespace], c.out)).toBe(0)
    expect(c.lines).toEqual([])
  })

  it.each([
    [['scheduler', '--bogus'], /Unknown option '--bogus'/],
    [['scheduler', '--interval', '0'], /--interval/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['scheduler', '--url', 'ftp://x'], /redis:\/\//],
    [['scheduler', '--url', 'https://x.upstash.io'], /token/],
  ])('refuses %j with exit code 2 and a clear line', async (argv, message) => {
    const c = capture()
    expect(await main(argv, c.out)).toBe(2)
    expect(c.errors.join('\n')).toMatch(message)
  })
})
