/**
 * The handlers the deployed functions (and `npm start`) can run: the built-ins noop and echo, the
 * built-in http once the runtime knows DUEQ_HTTP_SECRET (it may come from SSM), and your own.
 * Add yours here with `jobs.define(name, fn)`.
 * Workers run only what is registered in this file; a job naming anything else fails.
 */
import { builtinJobs } from '../lib/builtin-jobs.ts'

export const jobs = builtinJobs()
  // An example of your own: returns the sum of `a` and `b`.
  .define('add', (data) => {
    const { a, b } = (data ?? {}) as { a?: unknown; b?: unknown }
    if (typeof a !== 'number' || typeof b !== 'number') throw new TypeError('expected data { a: number, b: number }')
    return a + b
  })
