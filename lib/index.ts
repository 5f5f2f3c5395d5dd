/** dueq's public API. */
export { connect } from './redis/connect.ts'
export type { RedisPort } from './redis/port.ts'
export { Scheduler } from './scheduler.ts'
export type { SchedulerOptions, ScheduleOptions, BulkEntry, GetJobsOptions } from './scheduler.ts'
export { DueqError, isDueqError } from './core/errors.ts'
export type { DueqErrorCode } from './core/errors.ts'
export type { Job, JobSpec, JobStatus, Json, RetryPolicy, OverlapPolicy } from './core/job.ts'
export type { MisfirePolicy } from './core/time.ts'
