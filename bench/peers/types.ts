// The interface every peer module (peers/bullmq.ts, peers/dueq.ts) exports, as named functions.
// run.ts calls each one once per repetition, with a fresh FLUSHALL just before the call, and takes the
// median of each returned number over the repetitions. WORKLOADS.md is the specification of every
// figure; the comments here only say what each function times and returns.
//
// Rules that hold for every function:
// - Open your own connections (ctx.connect, or ctx.url for a URL-based client), use each once (PING or
//   a ready wait) before the timer starts, and close all of them before returning: the next workload
//   shares the server, and W5 counts server-wide.
// - Durations with performance.now(); due times and lateness with Date.now().
// - Payloads, due times and the W5 frame come from support/workload.ts, so both peers compute them
//   the same way.
// - Check the post-condition the workload names (e.g. "the schedule holds exactly N jobs") and throw
//   if it fails: a wrong figure is worse than none. Throw `new Error('not implemented')` for a workload
//   the peer does not offer yet; run.ts prints "—" for it.
// - A function that makes more than one measurement (w1b, w5) calls ctx.admin.flushall() between them.
import type { Redis } from 'ioredis'
import type { RedisAdmin } from '../support/redis-server.ts'

export interface BenchContext {
  /** Port of the bench's dedicated Redis on 127.0.0.1 (direct, no proxy). */
  port: number
  /** The same server as a URL, `redis://127.0.0.1:<port>`, for clients that connect by URL. */
  url: string
  /** Job count for this workload: W1/W2 20,000, W3 1,000, S1 1,000,000 (a tenth with --quick). */
  n: number
  /** A new ioredis connection (RESP2, maxRetriesPerRequest: null) to `port`, default ctx.port; pass
   *  an RTT proxy's port for W5. The caller owns and closes it. */
  connect(port?: number): Redis
  /** Admin connection of its own: flushall, usedMemory, resetStats, serverCommands, setHz. Do not
   *  close it. */
  admin: RedisAdmin
}

export interface Rate {
  /** N / seconds of the timed window. */
  jobsPerSec: number
}

export interface W1aResult extends Rate {
  /** W4: (used_memory just after the W1a timer − just before) / N. */
  bytesPerJob: number
}

export interface W1bResult {
  /** The peer's bulk call for all N (BullMQ addBulk; dueq its bulk schedule call), jobs/s. */
  bulk: number
  /** 64 concurrent in-flight single "schedule at t" calls, jobs/s. */
  concurrent64: number
}

export interface W3Result {
  /** Nearest-rank percentiles of lateness_i = Date.now() − due_i, ms, over the jobs recorded. */
  p50: number
  p99: number
  max: number
  /** Negative means a job ran early: a defect. */
  min: number
  /** True when not all N had run 27 s after T0. */
  timedOut: boolean
  /** How many jobs recorded a lateness. */
  recorded: number
  /** Wall time to schedule the N jobs (must be < 2000, else the function throws). */
  scheduleMs: number
}

export interface PassCounts {
  /** Server commands (INFO commandstats calls, Lua-internal ones included, CONFIG excluded) / N. */
  commandsPerJob: number
  /** Round trips counted by the RTT proxy over all the peer's connections / N. */
  roundTripsPerJob: number
}

export interface W5Result {
  /** The W1a loop, through the proxy. */
  schedule: PassCounts
  /** The W2 pass, through the proxy, N jobs already due. BullMQ: worker.run() until N completed at
   *  concurrency 1, because its worker is its only dispatcher (PEERS.md counts move + run + complete).
   *  dueq: what its W2 dispatch times (tick until all N are ready); say in dueq.ts if it adds more. */
  dispatch: PassCounts
}

export interface W5UpstashResult {
  /** HTTP requests to the Upstash REST bridge / N, for the same two passes as W5. */
  schedule: { requestsPerJob: number }
  dispatch: { requestsPerJob: number }
}

export interface S1Result {
  /** One tick dispatching `due` jobs with ctx.n (1M) others scheduled over the next 30 days, ms. */
  tickMs: number
  /** The same tick when only the `due` jobs exist, ms. */
  baselineTickMs: number
  /** tickMs / baselineTickMs. */
  ratio: number
  /** used_memory per scheduled job at ctx.n jobs. */
  bytesPerJob: number
}

/** Every function in a peer module. s1 and w5Upstash are dueq's alone. */
export interface Peer {
  /** W1a (+ W4): N awaited single schedule calls. Timed from just before the first to just after the
   *  last resolves; used_memory read just outside that window. After: the schedule holds exactly N. */
  w1a(ctx: BenchContext): Promise<W1aResult>
  /** W1b: the same N jobs by the bulk call, then (after FLUSHALL) by 64 concurrent single calls. */
  w1b(ctx: BenchContext): Promise<W1bResult>
  /** W2 dispatch: N jobs due ≥ 1 s ago (setup untimed); time until all N are ready and none is left in
   *  the schedule. */
  w2Dispatch(ctx: BenchContext): Promise<Rate>
  /** W2 end-to-end: same setup; time from the dispatch start until ONE worker of this concurrency has
   *  completed all N. */
  w2EndToEnd(ctx: BenchContext, opts: { concurrency: 1 | 64 }): Promise<Rate>
  /** W3: lateness of N jobs due over 10 s after a 2 s lead. run.ts sets the server's hz around the call
   *  (10 for the headline, 100 for the extra row); the peer does not touch hz. */
  w3(ctx: BenchContext): Promise<W3Result>
  /** W5: counts for the W1a loop and the W2 pass, through an RTT proxy (support/rtt-proxy.ts) whose
   *  timings are discarded. */
  w5(ctx: BenchContext): Promise<W5Result>
  /** S1 (dueq only): ctx.n scheduled over 30 days + `due` already due. */
  s1?(ctx: BenchContext, opts: { due: number }): Promise<S1Result>
  /** W5 for the Upstash driver (dueq only), through test/support/upstash-bridge.ts. */
  w5Upstash?(ctx: BenchContext): Promise<W5UpstashResult>
}
