/**
 * `npm start` end to end: the local server (HTTP API, scheduler loop, worker) in-process over
 * real HTTP and a real Redis, and scripts/start.mjs's answer when there is no Redis at all.
 */
import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../lib/index.ts'
import { startLocal } from '../../functions/local/server.ts'
import { REDIS_URL, useStore } from '../support/stores.ts'

const KEY = 'local-key-0123456789abcdef'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('dueq locally (startLocal)', () => {
  const store = useStore('tcp')

  it('runs an `add` job posted over HTTP: scheduled, dispatched by the loop, run by the worker', async () => {
    const dueq = await startLocal({ port: 0, redisUrl: REDIS_URL, namespace: store.namespace, apiKey: KEY, logger: silentLogger })
    try {
      expect(dueq.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const auth = { authorization: `Bearer ${KEY}` }
      const health = await fetch(`${dueq.url}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ ok: true })

      const created = await fetch(`${dueq.url}/v1/jobs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'add', data: { a: 2, b: 3 }, in: 1000 }),
      })
      expect(created.status).toBe(201)
      const job = (await created.json()) as { id: string; status: string; at: string }
      expect(job.status).toBe('scheduled')
      expect(created.headers.get('location')).toBe(`/v1/jobs/${job.id}`)

      const seen = new Set<string>()
      let last: { status: string; result?: unknown; at: string | null } | undefined
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        const res = await fetch(`${dueq.url}/v1/jobs/${job.id}`, { headers: auth })
        expect(res.status).toBe(200)
        last = (await res.json()) as typeof last
        seen.add(last!.status)
        if (last!.status === 'finished') break
        await sleep(50)
      }
      expect(last).toMatchObject({ status: 'finished', result: 5, at: null })
      expect(seen.has('scheduled')).toBe(true)
      // Nothing runs early: the job was due 1 s after it was posted.
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(job.at))

      const queues = await fetch(`${dueq.url}/v1/queues`, { headers: auth })
      expect((await queues.json()) as unknown).toMatchObject({ queues: [{ name: 'default', finished: 1, queued: 0 }] })
      const workers = (await (await fetch(`${dueq.url}/v1/workers`, { headers: auth })).json()) as { workers: unknown[] }
      expect(workers.workers).toHaveLength(1)
    } finally {
      await dueq.close()
    }
  })

  it('serves the API errors over HTTP too: 401 without a key, 413 for a large body, base64 for binary bodies', async () => {
    const dueq = await startLocal({ port: 0, redisUrl: REDIS_URL, namespace: store.namespace, apiKey: KEY, logger: silentLogger })
    try {
      const denied = await fetch(`${dueq.url}/v1/queues`)
      expect(denied.status).toBe(401)
      expect(denied.headers.get('www-authenticate')).toBe('Bearer')
      const big = await fetch(`${dueq.url}/v1/jobs`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: 'x'.repeat(300_000),
      })
      expect(big.status).toBe(413)
      const binary = await fetch(`${dueq.url}/v1/jobs`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/octet-stream' }, body: '{"name":"noop","in":0}',
      })
      expect(binary.status).toBe(415)
      // Bytes that are not UTF-8 reach the handler base64-encoded, as API Gateway sends them, and are refused there.
      const latin1 = await fetch(`${dueq.url}/v1/jobs`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: Buffer.from('{"name":"caf\xe9","in":0}', 'latin1'),
      })
      expect(latin1.status).toBe(400)
      expect(((await latin1.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'NOT_JSON', message: expect.stringContaining('UTF-8') })
      const ok = await fetch(`${dueq.url}/v1/jobs?x=1`, { headers: { authorization: `Bearer ${KEY}` } })
      expect(ok.status).toBe(400)
      expect(((await ok.json()) as { error: { field: string } }).error.field).toBe('x')
    } finally {
      await dueq.close()
    }
    expect(await fetch(`${dueq.url}/health`).then(() => 'answered', () => 'closed')).toBe('closed')
  })

  it('refuses to start without a Redis, saying where it looked', async () => {
    const port = await closedPort()
    await expect(startLocal({ port: 0, redisUrl: `redis://:secret@127.0.0.1:${port}`, apiKey: KEY, logger: silentLogger }))
      .rejects.toThrow(new RegExp(`^No Redis answers at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} `))
  })
})

/** Runs scripts/start.mjs (from `root`) with only `env`, to its exit. */
async function runStart(root: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [join(root, 'scripts', 'start.mjs')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
  return { code, stdout, stderr }
}

const noRedisLine = (port: number) =>
  `dueq: no Redis answers at redis://127.0.0.1:${port} and redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL to a Redis you have`

describe('npm start (scripts/start.mjs)', () => {
  const repo = fileURLToPath(new URL('../..', import.meta.url))

  it('with no Redis and no redis-server on PATH, exits non-zero with one clear line', async () => {
    const port = await closedPort()
    const emptyPath = mkdtempSync(join(tmpdir(), 'dueq-path-'))
    try {
      const { code, stdout, stderr } = await runStart(repo, { PATH: emptyPath, HOME: tmpdir(), REDIS_URL: `redis://127.0.0.1:${port}` })
      expect(code).not.toBe(0)
      expect(code).not.toBeNull()
      expect(stdout).toBe('')
      expect(stderr.trim().split('\n')).toEqual([noRedisLine(port)])
    } finally {
      rmSync(emptyPath, { recursive: true, force: true })
    }
  })

  it('on a fresh clone (no node_modules) runs npm ci first, and stops with one line when npm fails', async () => {
    // A clone with only the script and a lockfile, and an `npm` on PATH that records what it was asked.
    const clone = mkdtempSync(join(tmpdir(), 'dueq-clone-'))
    const bin = mkdtempSync(join(tmpdir(), 'dueq-bin-'))
    try {
      mkdirSync(join(clone, 'scripts'))
      copyFileSync(join(repo, 'scripts', 'start.mjs'), join(clone, 'scripts', 'start.mjs'))
      writeFileSync(join(clone, 'package-lock.json'), '{}')
      writeFileSync(join(bin, 'npm'), [
        `#!${process.execPath}`,
        "const fs = require('node:fs')",
        "fs.writeFileSync('npm-args.txt', process.argv.slice(2).join(' '))",
        "if (process.env.FAKE_NPM_FAIL) process.exit(1)",
        "fs.mkdirSync('node_modules/tsx', { recursive: true })",
        "fs.writeFileSync('node_modules/tsx/package.json', '{}')",
      ].join('\n'))
      chmodSync(join(bin, 'npm'), 0o755)
      const port = await closedPort()
      const env = { PATH: bin, HOME: tmpdir(), REDIS_URL: `redis://127.0.0.1:${port}` }

      const failing = await runStart(clone, { ...env, FAKE_NPM_FAIL: '1' })
      expect(failing.code).toBe(1)
      expect(readFileSync(join(clone, 'npm-args.txt'), 'utf8')).toBe('ci --no-audit --no-fund')
      expect(failing.stderr.trim()).toBe('dueq: npm ci failed: fix what it says above, then run npm start again')

      const installed = await runStart(clone, env)
      expect(installed.stdout).toBe('dueq: no dependencies yet: running npm ci…\n')
      expect(existsSync(join(clone, 'node_modules', 'tsx', 'package.json'))).toBe(true)
      // Then on to Redis, which is not there.
      expect(installed.code).toBe(1)
      expect(installed.stderr.trim()).toBe(noRedisLine(port))
    } finally {
      rmSync(clone, { recursive: true, force: true })
      rmSync(bin, { recursive: true, force: true })
    }
  })
})
