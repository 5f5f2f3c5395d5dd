/**
 * The handlers every dueq process has without writing code: `http` (when a signing secret is
 * configured), `noop` and `echo` (handy to try a deployment, and what the benchmarks run).
 */
import { httpJob } from './http-job.ts'
import { JobRegistry } from './jobs.ts'

export function builtinJobs(o: { httpSecret?: string } = {}): JobRegistry {
  const jobs = new JobRegistry()
    .define('noop', () => null)
    .define('echo', (data) => data)
  if (o.httpSecret) jobs.define('http', httpJob({ secret: o.httpSecret }))
  return jobs
}
