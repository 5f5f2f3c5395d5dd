// dueq on the workloads of WORKLOADS.md. STUB: every function throws 'not implemented', and run.ts
// prints "—" in dueq's column for it. Replace each body; keep the names and shapes (peers/types.ts is
// the contract, peers/bullmq.ts a worked example).
//
// What run.ts does around each call: FLUSHALL, then fn(ctx) with a fresh BenchContext
//   ctx.port / ctx.url   the bench's dedicated Redis (redis://127.0.0.1:<port>), nothing else on it
//   ctx.n                jobs for this workload (W1/W2 20,000; W3 1,000; S1 1,000,000; /10 with --quick)
//   ctx.connect(port?)   a new ioredis connection (RESP2); ctx.admin the admin helpers (do not close)
// Use the TCP driver for every timed figure. Open and use each connection once before a timer, close
// all of them before returning. Due times, payloads and the W5 frame: support/workload.ts.
//
// w1a(ctx) → { jobsPerSec, bytesPerJob }
//   T_base = Date.now() just before the timer; for i = 0..N−1 in order, await
//   scheduler.enqueueAt(due_i = T_base + w1Offset(i, N), 'noop', w1Payload(i)). Timed from just before
//   the first call to just after the last resolves. bytesPerJob (W4) = (ctx.admin.usedMemory() just
//   after − just before the timer) / N. Throw unless the schedule holds exactly N afterwards.
// w1b(ctx) → { bulk, concurrent64 }   (jobs/s each)
//   bulk: dueq's bulk schedule call for the same N jobs, timed around the call(s). Then
//   ctx.admin.flushall(), and concurrent64: 64 lanes each awaiting single enqueueAt calls on the next
//   index (see bullmq.ts). Check N scheduled after each.
// w2Dispatch(ctx) → { jobsPerSec }
//   Setup (untimed): N jobs through the public API, all due ≤ start − 1 s (W2_PAST_MS). Timed: ONE call
//   of the scheduler core's pass (tick) until all N are in the ready queue and none is left in the
//   schedule. Throw unless that holds after.
// w2EndToEnd(ctx, { concurrency: 1 | 64 }) → { jobsPerSec }
//   Same setup; from the same start until ONE no-op worker of that concurrency has completed all N.
//   Throw unless N completed.
// w3(ctx) → { p50, p99, max, min, timedOut, recorded, scheduleMs }
//   Start the scheduler loop and ONE no-op worker, idle W3_IDLE_MS; T0 = Date.now(); await N
//   enqueueAt calls with due_i = w3Due(T0, i), payload { i, due } (throw if that takes ≥ 2000 ms);
//   the handler records Date.now() − due as its first act; stop at N recorded or T0 + 27 s
//   (timedOut). summarize() from support/stats.ts gives the percentiles. run.ts sets hz around it.
// w5(ctx) → { schedule: { commandsPerJob, roundTripsPerJob }, dispatch: { ... } }
//   startRttProxy(ctx.port); connect dueq through proxy.port; countPass(ctx.admin, proxy, N, pass)
//   around the W1a loop, then (after flushall and an untimed setup on a direct connection) around the
//   W2 dispatch tick. Say here if dispatch covers more than the tick.
// s1(ctx, { due }) → { tickMs, baselineTickMs, ratio, bytesPerJob }
//   ctx.n jobs over the next 30 days plus `due` (1,000) already due; time one tick that dispatches the
//   `due` jobs; then flushall, only the `due` jobs, the same tick. bytesPerJob = used_memory / ctx.n
//   at ctx.n jobs (measured from an empty, flushed server).
// w5Upstash(ctx) → { schedule: { requestsPerJob }, dispatch: { requestsPerJob } }
//   The two W5 passes over the Upstash driver through test/support/upstash-bridge.ts, counting its
//   HTTP requests (bridge.requests()) per job.
import type { BenchContext, Rate, S1Result, W1aResult, W1bResult, W3Result, W5Result, W5UpstashResult, Peer } from './types.ts'

const notImplemented = (): never => {
  throw new Error('not implemented')
}

export async function w1a(_ctx: BenchContext): Promise<W1aResult> { return notImplemented() }
export async function w1b(_ctx: BenchContext): Promise<W1bResult> { return notImplemented() }
export async function w2Dispatch(_ctx: BenchContext): Promise<Rate> { return notImplemented() }
export async function w2EndToEnd(_ctx: BenchContext, _opts: { concurrency: 1 | 64 }): Promise<Rate> { return notImplemented() }
export async function w3(_ctx: BenchContext): Promise<W3Result> { return notImplemented() }
export async function w5(_ctx: BenchContext): Promise<W5Result> { return notImplemented() }
export async function s1(_ctx: BenchContext, _opts: { due: number }): Promise<S1Result> { return notImplemented() }
export async function w5Upstash(_ctx: BenchContext): Promise<W5UpstashResult> { return notImplemented() }

// Fails the type check here if the exports drift from the contract.
const _shape: Peer = { w1a, w1b, w2Dispatch, w2EndToEnd, w3, w5, s1, w5Upstash }
