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
    [['scheduler', '--queues', 'a'], /--queues is an option of `dueq worker`/],
  ])('refuses %j with exit code 2 and a clear line', async (argv, message) => {
    const c = capture()
    expect(await main(argv, c.out)).toBe(2)
    expect(c.errors.join('\n')).toMatch(message)
  })
})

describe('dueq worker and dueq info (CLI)', () => {
  const store = useStore('tcp')

  it('worker --burst runs the queued jobs with handlers from --jobs, then info shows the counts', async () => {
    const s = new Scheduler({ redis: store.redis, namespace: store.namespace })
    const a = await s.enqueueAt(Date.now() - 1, { name: 'double', data: 21, queue: 'math' })
    await s.tick()
    const c = capture()
    const code = await main(['worker', '--burst', '--queues', 'math,other', '--concurrency', '2', '--jobs', 'test/fixtures/jobs.ts', '--namespace', store.namespace, '-q'], c.out)
    expect(c.errors).toEqual([])
    expect(code).toBe(0)
    expect(await s.getJob(a.id)).toMatchObject({ status: 'finished', result: 42 })
    const i = capture()
    expect(await main(['info', '--namespace', store.namespace], i.out)).toBe(0)
    expect(i.lines[0]).toBe(`namespace ${store.namespace}: 0 scheduled`)
    expect(i.lines[1]).toMatch(/^queue\s+queued\s+started\s+finished\s+failed\s+deferred\s+canceled$/)
    expect(i.lines[2]).toMatch(/^math\s+0\s+0\s+1\s+0\s+0\s+0$/)
  })

  it('the built-in handlers run without --jobs', async () => {
    const s = new Scheduler({ redis: store.redis, namespace: store.namespace })
    const job = await s.enqueueAt(Date.now() - 1, { name: 'echo', data: { hi: 1 } })
    await s.tick()
    expect(await main(['worker', '--burst', '--namespace', store.namespace, '-q'], capture().out)).toBe(0)
    expect(await s.getJob(job.id)).toMatchObject({ status: 'finished', result: { hi: 1 } })
  })

  it.each([
    [['worker', '--concurrency', 'many'], /--concurrency/],
    [['worker', '--interval', '3'], /--interval is an option of `dueq scheduler`/],
    [['worker', '--jobs', 'test/fixtures/events/none.ts'], /Cannot find module|ERR_MODULE_NOT_FOUND|not found/i],
    [['info', '--burst'], /--burst/],
  ])('refuses %j', async (argv, message) => {
    const c = capture()
    expect(await main([...argv, '--namespace', store.namespace], c.out)).toBeGreaterThan(0)
    expect(c.errors.join('\n')).toMatch(message)
  })
})
