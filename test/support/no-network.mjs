// Preloaded (node --import) into every Node process of a command that must stay on this machine,
// such as `osls package`: a TCP connection to anything but the loopback fails at once, and is
// written to the file named by DUEQ_NETWORK_LOG so the test can report it.
import { appendFileSync } from 'node:fs'
import net from 'node:net'

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i
const original = net.Socket.prototype.connect

net.Socket.prototype.connect = function connect(...args) {
  const first = args[0]
  const options = first !== null && typeof first === 'object' && !Array.isArray(first) ? first : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined }
  if (options.path === undefined) { // not a Unix socket
    const host = String(options.host ?? 'localhost')
    if (!LOOPBACK.test(host)) {
      if (process.env.DUEQ_NETWORK_LOG) appendFileSync(process.env.DUEQ_NETWORK_LOG, `${process.pid} ${host}:${options.port}\n`)
      const error = Object.assign(new Error(`network access blocked by test/support/no-network.mjs: ${host}:${options.port}`), { code: 'ENETUNREACH' })
      process.nextTick(() => this.destroy(error))
      return this
    }
  }
  return original.apply(this, args)
}
