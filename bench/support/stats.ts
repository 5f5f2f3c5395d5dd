// Statistics and number formatting shared by the peers and the driver. Percentiles are nearest rank,
// as WORKLOADS.md fixes them, so that figures compare with other runs of the same workloads.

/** Median of the values; the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('Expected at least one value for a median, got none')
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Nearest-rank percentile of ALREADY SORTED values: sorted[ceil(p/100 · n) − 1]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('Expected at least one value for a percentile, got none')
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

/** p50, p99, max and min of a latency sample (W3). */
export function summarize(values: readonly number[]): { p50: number; p99: number; max: number; min: number } {
  const s = [...values].sort((a, b) => a - b)
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1]!, min: s[0]! }
}

/** Jobs per second from a count and a duration in ms (performance.now() differences). */
export function perSecond(n: number, ms: number): number {
  return ms > 0 ? (n * 1000) / ms : Number.POSITIVE_INFINITY
}

/** A figure for the table: thousands separators, and only as many decimals as small numbers need. */
export function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '—'
  if (!Number.isFinite(v)) return '∞'
  const abs = Math.abs(v)
  // Below 1, two significant digits: 0.00025 round trips per job must not print as 0.
  if (abs > 0 && abs < 1) return v.toLocaleString('en-US', { maximumSignificantDigits: 2 })
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 0
  return v.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits })
}

/** dueq / BullMQ, e.g. "3.21×"; "—" when either side is missing or the ratio means nothing. */
export function fmtRatio(dueq: number | undefined, bullmq: number | undefined): string {
  if (dueq === undefined || bullmq === undefined || !Number.isFinite(dueq) || !Number.isFinite(bullmq)) return '—'
  if (bullmq === 0) return dueq === 0 ? '1.00×' : '—'
  const r = dueq / bullmq
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}

/** A duration for progress lines: "850 ms", "12.3 s". */
export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}
