// A RESP-aware TCP proxy that counts round trips the way WORKLOADS.md W5 defines them: the number of
// times a client connection goes from "no reply outstanding" to "a reply outstanding".
//
// Why a proxy and not a client hook: it sees every connection a library opens (BullMQ duplicates its
// own blocking connection), whatever driver is used, and it counts what actually crosses the wire.
//
// How: per connection, one streaming parser reads the requests the client sends (arrays of bulk
// strings) and one reads the replies the server sends (RESP2 with nesting). outstanding = requests
// started − replies completed. MULTI/EXEC needs no special case: every queued command gets its own
// +QUEUED reply, and EXEC one more.
//
// A request counts as outstanding from its FIRST byte, not its last. A large pipeline reaches the proxy
// in several TCP reads; if the server had answered everything in read 1 before read 2 arrived, counting
// only complete requests would see outstanding drop to 0 and count read 2 as a second round trip,
// though the client sent it all at once. Counting from the first byte closes that gap whenever a read
// ends mid-request, which is nearly always for large pipelines. The residual case (a read that ends
// exactly on a request boundary AND a server that answers before the next read lands) can over-count
// by one; it cannot under-count.
import { createServer, connect as tcpConnect, type Socket } from 'node:net'

export interface RttProxy {
  port: number
  /** Round trips over all connections since the last reset(). */
  roundTrips(): number
  /** Requests (commands) sent by clients since the last reset(). */
  commands(): number
  /** Replies with no request outstanding (pub/sub pushes); 0 for every workload here. */
  unsolicited(): number
  reset(): void
  close(): Promise<void>
}

/** Streaming RESP reader that reports when a top-level message starts and when it completes. Handles
 *  RESP2 (+ - : $ *), the simple RESP3 types for robustness, and inline commands on the request side. */
export class RespCounter {
  private skip = 0 // bytes of a bulk payload (+ CRLF) still to pass over
  private line = '' // partial header line carried over between chunks
  private stack: number[] = [] // elements still expected by each open aggregate
  private inMessage = false

  constructor(private readonly onStart: () => void, private readonly onComplete: () => void) {}

  feed(chunk: Buffer): void {
    let i = 0
    const len = chunk.length
    while (i < len) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, len - i)
        this.skip -= take
        i += take
        if (this.skip === 0) this.elementDone()
        continue
      }
      if (!this.inMessage) {
        this.inMessage = true
        this.onStart()
      }
      const nl = chunk.indexOf(10, i)
      if (nl === -1) {
        this.line += chunk.toString('latin1', i, len)
        return
      }
      const text = this.line + chunk.toString('latin1', i, nl)
      this.line = ''
      i = nl + 1
      this.header(text.endsWith('\r') ? text.slice(0, -1) : text)
    }
  }

  private header(h: string): void {
    const n = Number.parseInt(h.slice(1), 10)
    switch (h[0]) {
      case '$': case '=': case '!': // bulk string, verbatim string, blob error
        if (n < 0) this.elementDone()
        else this.skip = n + 2
        return
      case '*': case '~': case '>': // array, set, push
        if (n > 0) this.stack.push(n)
        else this.elementDone()
        return
      case '%': // map: key and value per entry
        if (n > 0) this.stack.push(2 * n)
        else this.elementDone()
        return
      case '|':
        throw new Error('RESP3 attributes are not supported; connect with protocol: 2')
      default: // + - : _ , # ( and inline commands are one line each
        this.elementDone()
    }
  }

  private elementDone(): void {
    for (;;) {
      const top = this.stack.length - 1
      if (top < 0) {
        this.inMessage = false
        this.onComplete()
        return
      }
      if (--this.stack[top]! > 0) return
      this.stack.pop()
    }
  }
}

export async function startRttProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<RttProxy> {
  let roundTrips = 0
  let commands = 0
  let unsolicited = 0
  const sockets = new Set<Socket>()

  const server = createServer((client) => {
    const upstream = tcpConnect({ port: targetPort, host: targetHost })
    // Nagle would hold back small writes and distort the timings of the pass being measured.
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    sockets.add(client)
    sockets.add(upstream)

    let outstanding = 0
    const requests = new RespCounter(
      () => {
        if (outstanding === 0) roundTrips++
        outstanding++
      },
      () => { commands++ },
    )
    const replies = new RespCounter(
      () => {},
      () => {
        if (outstanding > 0) outstanding--
        else unsolicited++
      },
    )

    client.on('data', (b: Buffer) => {
      requests.feed(b)
      upstream.write(b)
    })
    upstream.on('data', (b: Buffer) => {
      replies.feed(b)
      client.write(b)
    })
    const teardown = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', teardown)
    upstream.on('close', teardown)
    client.on('error', teardown)
    upstream.on('error', teardown)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('Expected a TCP address for the proxy')

  return {
    port: addr.port,
    roundTrips: () => roundTrips,
    commands: () => commands,
    unsolicited: () => unsolicited,
    reset: () => { roundTrips = 0; commands = 0; unsolicited = 0 },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
