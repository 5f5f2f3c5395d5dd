/**
 * The HTTP API Lambda (API Gateway HTTP API, payload format 2.0): one function, every route.
 * Routes, auth, body rules and errors live in functions/http/; this file wires them into one
 * middy handler. For each request, in this order:
 *
 *   route (404, 405) → API key (503 none configured, 401, 403; not /health) → body size (413)
 *   → content type and JSON (415, 400), routes with a body only → the route → lib/
 *
 * `handler` uses the container's shared runtime; `createApiHandler(getRuntime)` builds the same
 * handler over any runtime (tests use one per Redis driver, `npm start` its local one).
 */
import middy from '@middy/core'
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import { ApiKeys, authorize } from './http/auth.ts'
import { httpErrorHandler, type Logger } from './http/errors.ts'
import { header, rawBody, readJsonObject } from './http/request.ts'
import { Router } from './http/router.ts'
import { ROUTES } from './http/routes.ts'
import { runtime, type Runtime } from './shared/runtime.ts'

export type GetRuntime = () => Promise<Runtime>

const consoleLogger: Logger = { error: (message, fields) => console.error(JSON.stringify({ level: 'error', message, ...fields })) }

/**
 * The path the routes see. With a named stage (not `$default`) API Gateway keeps the stage in
 * rawPath (`/prod/v1/jobs`); routes are written without it.
 */
function routePath(event: APIGatewayProxyEventV2): string {
  const path = event.rawPath || '/'
  const stage = event.requestContext?.stage
  if (stage && stage !== '$default' && path.startsWith(`/${stage}/`)) return path.slice(stage.length + 1)
  return path
}

export function createApiHandler(getRuntime: GetRuntime, o: { log?: Logger } = {}) {
  const router = new Router(ROUTES)
  const log = o.log ?? consoleLogger
  // Hashing the configured keys once per runtime, not once per request.
  const apiKeys = new WeakMap<Runtime, ApiKeys>()
  const keysOf = (rt: Runtime) => {
    let keys = apiKeys.get(rt)
    if (!keys) apiKeys.set(rt, (keys = new ApiKeys(rt.config.apiKeys)))
    return keys
  }

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(httpErrorHandler({ log }))
    .handler(async (event) => {
      const { route, params } = router.match(event.requestContext.http.method, routePath(event))
      let rt: Promise<Runtime> | undefined
      const runtimeOnce = () => (rt ??= getRuntime())
      if (route.auth) authorize(header(event, 'authorization'), keysOf(await runtimeOnce()))
      const bytes = rawBody(event)
      const body = route.body ? readJsonObject(event, bytes) : {}
      return route.handler({ event, params, body, runtime: runtimeOnce, log })
    })
}

export const handler = createApiHandler(runtime)
