/**
 * Serves a Lambda handler for API Gateway HTTP API events (payload 2.0) from a Node HTTP server,
 * so `npm start` runs the very handler the cloud runs. It turns a request into the event API
 * Gateway would send (lowercased headers, repeated query parameters joined by commas, cookies
 * apart, binary bodies base64-encoded) and the handler's result back into a response.
 *
 * Like API Gateway, it refuses bodies over 10 MB itself; smaller limits are the handler's.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda'

export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024

export type HttpApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2 | undefined | void>

/** Content types API Gateway passes as text; anything else arrives base64-encoded. */
const TEXT = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > GATEWAY_MAX_BODY_BYTES) throw new TooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const headers: Record<string, string> = {}
  let cookies: string[] | undefined
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase()
    const value = req.rawHeaders[i + 1]!
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(/;\s*/).filter(Boolean)]
      continue
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`
  }
  let query: Record<string, string> | undefined
  for (const key of new Set(url.searchParams.keys())) {
    query ??= {}
    // defineProperty: a parameter named `__proto__` stays a plain key, as API Gateway hands it over.
    Object.defineProperty(query, key, { value: url.searchParams.getAll(key).join(','), enumerable: true, writable: true, configurable: true })
  }
  let text: string | undefined
  if (body.length > 0 && TEXT.test(headers['content-type'] ?? '')) {
    try { text = utf8.decode(body) } catch { text = undefined }
  }
  const now = new Date()
  const method = (req.method ?? 'GET').toUpperCase()
  const rawPath = url.pathname
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0]!,
      http: { method, path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && text === undefined,
  }
  if (cookies) event.cookies = cookies
  if (query) event.queryStringParameters = query
  if (body.length > 0) event.body = text ?? body.toString('base64')
  return event
}

function localContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'dueq-local-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:dueq-local-api',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    // Lambda's longest timeout: middy arms its early-timeout from this, and locally nothing is cut short sooner.
    getRemainingTimeInMillis: () => 900_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number | boolean>, body: Buffer, cookies?: string[]) {
  res.statusCode = status
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, String(v))
  if (cookies?.length) res.setHeader('set-cookie', cookies)
  res.setHeader('content-length', body.length)
  res.end(body)
}

/** A Node request listener that runs `handler` for each request. */
export function serveHttpApi(handler: HttpApiHandler, log: (message: string, fields: Record<string, unknown>) => void = () => {}) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      let body: Buffer
      try {
        body = await readBody(req)
      } catch (e) {
        const tooLarge = e instanceof TooLarge
        send(res, tooLarge ? 413 : 400, { 'content-type': 'application/json', connection: 'close' }, Buffer.from(JSON.stringify({ message: tooLarge ? 'Request Entity Too Large' : 'Bad Request' })))
        req.destroy()
        return
      }
      const event = toEvent(req, body)
      try {
        const result = await handler(event, localContext(event.requestContext.requestId))
        if (result === undefined || result === null || typeof result === 'string') {
          // API Gateway's reading of a bare result: a 200 with the value as a JSON body.
          send(res, 200, { 'content-type': 'application/json' }, Buffer.from(typeof result === 'string' ? result : ''))
          return
        }
        const r = result as Exclude<APIGatewayProxyResultV2, string>
        const payload = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8')
        send(res, r.statusCode ?? 200, r.headers ?? {}, payload, r.cookies)
      } catch (e) {
        // The handler has its own error handler; this is the gateway's "Internal Server Error".
        log('the handler threw', { error: String(e) })
        send(res, 500, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ message: 'Internal Server Error' })))
      }
    })()
  }
}
