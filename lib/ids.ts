import { randomFillSync } from 'node:crypto'

// Random bytes are drawn in blocks: one syscall per 341 ids instead of one per id.
const pool = Buffer.alloc(4092)
let offset = pool.length

/** A new job id: 16 url-safe characters, 96 random bits. */
export function newId(): string {
  if (offset + 12 > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  offset += 12
  return pool.toString('base64url', offset - 12, offset)
}
