import { describe, expect, it } from 'vitest'
import { JobRegistry, silentLogger } from '../../lib/index.ts'
import { execute, RunAbort, type ClaimedRun } from '../../lib/runs.ts'

const run = (name: string): ClaimedRun => ({ runId: 'r1', queue: 'default', token: 't', fields: { n: name, d: '{"x":1}', a: '1', s: 'started' }, dependents: [] })
const context = { clock: () => 1_000, random: () => 0.5, log: silentLogger }

describe('RunAbort', () => {
  it('a signal asked for after the abort is already aborted, with the reason', () => {
    const abort = new RunAbort()
    const reason = new Error('lease lost')
    abort.abort(reason)
    expect(abort.signal.aborted).toBe(true)
    expect(abort.signal.reason).toBe(reason)
  })

  it('a signal asked for before the abort fires once; onAbort is called once, even when registered late', () => {
    const abort = new RunAbort()
    const seen: unknown[] = []
    abort.signal.addEventListener('abort', () => seen.push('signal'))
    abort.onAbort((r) => seen.push(r))
    abort.abort('first')
    abort.abort('second')
    abort.onAbort((r) => seen.push(`late ${String(r)}`))
    expect(seen).toEqual(['signal', 'first', 'late first'])
  })
})

describe('execute', () => {
  it('a pending handler aborted from outside fails with the abort reason, and its signal says so', async () => {
    let signal: AbortSignal | undefined
    const jobs = new JobRegistry().define('wait', (_d, ctx) => { signal = ctx.signal; return new Promise(() => {}) })
    const abort = new RunAbort()
    const outcome = execute(run('wait'), jobs, { ...context, abort })
    abort.abort(new Error('lease lost: the run was requeued'))
    expect(await outcome).toMatchObject({ kind: 'fail', error: 'Error: lease lost: the run was requeued' })
    expect(signal?.aborted).toBe(true)
  })

  it('the value of a synchronous handler becomes the result JSON', async () => {
    const jobs = new JobRegistry().define('add', (d) => (d as { x: number }).x + 1)
    expect(await execute(run('add'), jobs, context)).toEqual({ kind: 'ok', result: '2', ttlMs: 500_000 })
  })
})
