/**
 * API key check: `Authorization: Bearer <key>` against the configured keys (DUEQ_API_KEYS; from
 * SSM in the cloud). Both sides are hashed with SHA-256 first so that timingSafeEqual compares
 * equal lengths and the time taken says nothing about a key's length or prefix; every key is
 * compared, with no early exit, so it says nothing about which key matched either.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { ApiError } from './errors.ts'

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** Precomputed hashes of the configured keys, built once per runtime. */
export class ApiKeys {
  private readonly hashes: Buffer[]

  constructor(keys: readonly string[]) {
    this.hashes = keys.map(sha256)
  }

  get configured(): boolean {
    return this.hashes.length > 0
  }

  matches(candidate: string): boolean {
    const h = sha256(candidate)
    let ok = false
    for (const k of this.hashes) ok = timingSafeEqual(h, k) || ok
    return ok
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

/**
 * Throws unless `authorization` carries a configured key: 503 when no key is configured at all
 * (the API never runs open), 401 without a Bearer key, 403 with a wrong one.
 */
export function authorize(authorization: string | undefined, keys: ApiKeys): void {
  if (!keys.configured) {
    throw new ApiError('NO_API_KEY', 'No API key is configured, so the API refuses every request: set DUEQ_API_KEYS (or its SSM parameter)')
  }
  const m = BEARER.exec(authorization ?? '')
  if (!m) {
    throw new ApiError('UNAUTHORIZED', 'Expected an `Authorization: Bearer <API key>` header', { field: 'authorization', headers: { 'www-authenticate': 'Bearer' } })
  }
  if (!keys.matches(m[1]!)) {
    throw new ApiError('FORBIDDEN', 'The API key is not valid', { field: 'authorization' })
  }
}
