// The parts of WORKLOADS.md that every peer must compute identically: due times, payloads, the W5
// counting frame, and bounded waits. Both peers import these, so a figure can differ between peers only
// because the libraries differ, never because the harness did.
import type { PassCounts } from '../peers/types.ts'
import type { RedisAdmin } from './redis-server.ts'
import type { RttProxy } from './rtt-proxy.ts'

const DAY_MS = 86_400_000

/** W1 offset_i = floor(((i·7919 mod N) + 1) · 86,400,000 / N): a fixed permutation of N evenly spaced
 *  times in the next 24 h (7919 is prime, so this is a permutation for every N it does not divide). */
export function w1Offset(i: number, n: number): number {
  return Math.floor(((((i * 7919) % n) + 1) * DAY_MS) / n)
}

/** W1/W2 payload. */
export function w1Payload(i: number): { i: number; s: string } {
  return { i, s: 'abcdefgh' }
}

/** W3 due_i = round(T0 + 2000 + i·10): 2 s lead, then one job every 10 ms. */
export function w3Due(t0: number, i: number): number {
  return Math.round(t0 + 2000 + i * 10)
}

/** W3 constants: the scheduler loop and worker idle this long before T0; give up this long after T0;
 *  scheduling all jobs must take less than the 2 s lead or the first due times have already passed. */
export const W3_IDLE_MS = 500
export const W3_STOP_AFTER_MS = 27_000
export const W3_LEAD_MS = 2000

/** W2 setup: due times at least this long before the dispatch timer starts. */
export const W2_PAST_MS = 1000

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `probe` every `intervalMs` until it returns true. Throws after `timeoutMs`, naming `what`, so a
 *  stuck peer fails the run loudly instead of hanging it. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, { intervalMs = 2, timeoutMs = 120_000 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

/** A promise with its resolve exposed: lets an event handler end a timed wait without polling. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(what: string, promise: Promise<T>, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The W5 frame: CONFIG RESETSTAT and a proxy reset just before `pass`, INFO commandstats and the
 *  proxy's round-trip count just after; both divided by n. Everything `pass` sends must go through
 *  `proxy`, and nothing else may touch the server meanwhile (server commands are counted server-wide). */
export async function countPass(admin: RedisAdmin, proxy: RttProxy, n: number, pass: () => Promise<void>): Promise<PassCounts> {
  await admin.resetStats()
  proxy.reset()
  await pass()
  const roundTrips = proxy.roundTrips()
  const commands = await admin.serverCommands()
  return { commandsPerJob: commands / n, roundTripsPerJob: roundTrips / n }
}
