/**
 * Reads a ZIP archive (stored or deflated entries, no ZIP64) into memory: enough to look inside
 * the Lambda bundles `osls package` writes, without an unzip binary or another dependency.
 */
import { readFileSync } from 'node:fs'
import { inflateRawSync } from 'node:zlib'

export function readZip(path: string): Map<string, Buffer> {
  const zip = readFileSync(path)
  let eocd = -1
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break }
  }
  if (eocd < 0) throw new Error(`${path}: not a ZIP archive (no end of central directory)`)
  const entries = new Map<string, Buffer>()
  const count = zip.readUInt16LE(eocd + 10)
  let p = zip.readUInt32LE(eocd + 16)
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: bad central directory entry ${n}`)
    const method = zip.readUInt16LE(p + 10)
    const compressed = zip.readUInt32LE(p + 20)
    const nameLength = zip.readUInt16LE(p + 28)
    const skip = nameLength + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32)
    const local = zip.readUInt32LE(p + 42)
    const name = zip.toString('utf8', p + 46, p + 46 + nameLength)
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const data = zip.subarray(start, start + compressed)
    if (!name.endsWith('/')) {
      if (method === 0) entries.set(name, Buffer.from(data))
      else if (method === 8) entries.set(name, inflateRawSync(data))
      else throw new Error(`${path}: ${name} uses compression method ${method}`)
    }
    p += 46 + skip
  }
  return entries
}
