#!/usr/bin/env node
/**
 * `npm start`: dueq on this machine, from a fresh clone. Plain Node ESM with no dependencies,
 * because it runs before they are installed:
 *
 *   1. no node_modules yet → `npm ci` (or `npm install` without a lockfile);
 *   2. no Redis answering at REDIS_URL (default redis://127.0.0.1:6379) → a local `redis-server`
 *      as a child (nothing saved to disk, stopped on exit) if one is installed, else one line
 *      saying how to get one;
 *   3. functions/local/main.ts through tsx: the HTTP API on 127.0.0.1:$PORT (default 3000), the
 *      scheduler loop and a worker. It prints the URL, the API key and a curl line to try.
 *
 * SIGINT / SIGTERM are passed to the app, which stops cleanly; then the redis-server we started
 * (if any) is stopped, and we exit with the app's code.
 */
import { spawn, spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const say = (line) => console.log(`dueq: ${line}`)
const die = (line, code = 1) => {
  console.error(`dueq: ${line}`)
  stopRedis().finally(() => process.exit(code))
  return new Promise(() => {}) // never settles: nothing after a die() runs
}

/** The URL without its password, for messages. */
function shown(url) {
  const u = new URL(url.href)
  if (u.password) u.password = '***'
  return u.href.replace(/\/$/, '')
}

/** True when something at host:port answers PING the way Redis does (+PONG, or -NOAUTH …). */
function answers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => done(d[0] === 0x2b || d[0] === 0x2d))
    socket.once('error', () => done(false))
  })
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return null
}

let redisChild = null
let app = null

function stopRedis() {
  const child = redisChild
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => {
      clearTimeout(force)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    // The app stops on its own and we follow when it exits; before it runs, stop what we started.
    if (app && app.exitCode === null) app.kill(signal)
    else if (!app) stopRedis().finally(() => process.exit(130))
  })
}

// 1. Dependencies.
if (!existsSync(join(root, 'node_modules', 'tsx', 'package.json'))) {
  const args = existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']
  say(`no dependencies yet: running npm ${args[0]}…`)
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) await die(`npm ${args[0]} failed${r.error ? ` (${r.error.message})` : ''}: fix what it says above, then run npm start again`)
}

// 2. Redis.
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
let url
try {
  url = new URL(redisUrl)
} catch {
  await die(`REDIS_URL is not a URL ("${redisUrl.slice(0, 60)}"): set it to redis://host:6379 or unset it`)
}
// rediss:// and Upstash https:// URLs are remote and need TLS: the app checks those itself.
if (url.protocol === 'redis:') {
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(url.port || 6379)
  if (!(await answers(host, port))) {
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
      await die(`no Redis answers at ${shown(url)}: start it, or set REDIS_URL to a Redis that runs`)
    }
    const bin = findOnPath('redis-server')
    if (!bin) {
      await die(`no Redis answers at ${shown(url)} and redis-server is not installed: install it (apt-get install redis-server) or set REDIS_URL to a Redis you have`)
    }
    const args = ['--port', String(port), '--bind', host === 'localhost' ? '127.0.0.1' : host, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning']
    if (url.password) args.push('--requirepass', decodeURIComponent(url.password))
    // Its own process group: a Ctrl-C must not stop Redis before the worker has finished its pass.
    redisChild = spawn(bin, args, { cwd: tmpdir(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (chunk) => { output = (output + chunk).slice(-2000) }
    redisChild.stdout.on('data', keep)
    redisChild.stderr.on('data', keep)
    let up = false
    for (let i = 0; i < 50 && redisChild.exitCode === null && !up; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      up = await answers(host, port, 500)
    }
    if (!up) {
      if (output.trim()) console.error(output.trim())
      await die(`redis-server (${bin}) did not start on port ${port}; see its output above, or set REDIS_URL to a Redis you have`)
    }
    say(`started ${bin} on ${host}:${port} (in memory only; it stops when dueq stops)`)
  }
}

// 3. The app.
app = spawn(process.execPath, ['--import', 'tsx', join('functions', 'local', 'main.ts')], {
  cwd: root,
  env: { ...process.env, REDIS_URL: redisUrl },
  // The IPC channel tells the app when we are gone, even if we are killed without a signal to pass on.
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
})
app.on('error', (e) => die(`could not start node (${e.message})`))
app.on('exit', (code, signal) => {
  stopRedis().finally(() => process.exit(code ?? (signal === 'SIGTERM' ? 143 : 130)))
})
