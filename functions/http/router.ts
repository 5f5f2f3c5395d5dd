/**
 * A small router for API Gateway HTTP API events (payload 2.0). Ours rather than
 * @middy/http-router because the API needs what that one does not give: 405 with an `Allow`
 * header for a known path with a wrong method, path parameters percent-decoded and checked
 * (malformed escapes are a 400), and the route's own settings (auth, body) next to its handler.
 *
 * Paths are templates of literal segments and `{param}` segments, one path segment each.
 */
import { ApiError } from './errors.ts'

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

export interface RouteDef<H> {
  method: Method
  /** e.g. `/v1/jobs/{id}` */
  path: string
  /** False only for /health. */
  auth: boolean
  /** The route reads a JSON body: content type, size and syntax are checked before the handler. */
  body: boolean
  handler: H
}

export interface Match<H> {
  route: RouteDef<H>
  params: Record<string, string>
}

interface Compiled<H> {
  route: RouteDef<H>
  segments: ({ literal: string } | { param: string })[]
}

export class Router<H> {
  private readonly compiled: Compiled<H>[]

  constructor(readonly routes: readonly RouteDef<H>[]) {
    this.compiled = routes.map((route) => ({
      route,
      segments: split(route.path).map((s) => (s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s })),
    }))
  }

  /** The route for `method` and `path` (raw, percent-encoded); throws 404 or 405. */
  match(method: string, path: string): Match<H> {
    const segments = split(path)
    const allowed: Method[] = []
    for (const c of this.compiled) {
      const params = matchSegments(c.segments, segments)
      if (params === null) continue
      if (c.route.method === method) return { route: c.route, params: decodeParams(params) }
      allowed.push(c.route.method)
    }
    if (allowed.length > 0) {
      throw new ApiError('METHOD_NOT_ALLOWED', `Method ${method.slice(0, 16)} is not allowed on this path; allowed: ${allowed.join(', ')}`, { headers: { allow: allowed.join(', ') } })
    }
    throw new ApiError('ROUTE_NOT_FOUND', 'No such route; see GET /v1/openapi.json for the routes of this API')
  }
}

/** `/a/b/` → ['a', 'b']: one trailing slash is forgiven, empty segments inside are not. */
function split(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
  return trimmed.split('/').slice(1)
}

function matchSegments(template: Compiled<unknown>['segments'], segments: string[]): Record<string, string> | null {
  if (template.length !== segments.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!
    const s = segments[i]!
    if ('literal' in t) {
      if (t.literal !== s) return null
    } else {
      if (s === '') return null
      params[t.param] = s
    }
  }
  return params
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    try {
      out[name] = decodeURIComponent(value)
    } catch {
      throw new ApiError('INVALID_ARGUMENT', `Expected path parameter \`${name}\` to be percent-encoded UTF-8, got a malformed escape`, { field: name })
    }
  }
  return out
}
