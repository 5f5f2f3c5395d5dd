import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCRIPT_NAMES, scripts } from '../../lib/redis/scripts.ts'

// A changed script gets a new sha1: servers then load it afresh (NOSCRIPT → EVAL). Pinning the
// hashes makes every change to a script a visible, reviewed change to this table.
const PINNED: Record<string, string> = {
  enqueue: '9650062fb11de7261b9f361dcd22caad9e1236f0',
  cancel: '0f25f49736432f65deacd9e54891179d37cc2314',
  change_execution_time: '725a2daec39e85e6b91b91ea3e3339bd0afbd837',
  get_job: 'b2ba11dd9d74fee95a65ae14a3a862ee07d37449',
  due: '8bdb5e64a524634c57956b074a843fa074ffbd20',
  dispatch: '4ebb07a1a4bee80decc4450b8f7168508388c23e',
  lease_outbox: '3d1b02ae7d6ef56fa00fb271b3277d45c412d3a6',
  release_lock: 'ea33636026fc42dd9b8bae926941c2d37d083a26',
  register: '87305c54130105f45b1737a44b625f6749af0ca1',
  claim: 'f0068dd1f74fabee1253bfa2a6db1f6a8d2a6a33',
  finish: '3ab2bf4e58cb30a401ca5d4760c4e7854fba8568',
  renew: '1c082aa8b99e346842e912c42c2142cec2e1c122',
  requeue_stalled: '9aa6e744492883ded16bd866ca49827f4d27fecf',
  requeue: '233fb2c952cb38591c664020bbd6c4965de87674',
}

describe('Lua scripts', () => {
  const dir = new URL('../../lib/redis/scripts/', import.meta.url)

  it('each script on disk is registered, and each registered script is on disk', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort()
    expect([...SCRIPT_NAMES].sort()).toEqual(files)
  })

  it.each(Object.entries(PINNED))('%s has its pinned sha1', (name, sha) => {
    const body = readFileSync(new URL(`${name}.lua`, dir), 'utf8')
    expect(createHash('sha1').update(body).digest('hex')).toBe(sha)
    expect(scripts[name as keyof typeof scripts].sha).toBe(sha)
  })

  it('each script opens with a header naming its KEYS, ARGV and returns', () => {
    for (const name of SCRIPT_NAMES) {
      const body = scripts[name].body
      const head = body.slice(0, body.indexOf(']]'))
      expect(head, name).toMatch(/^--\[\[/)
      expect(head, name).toMatch(/KEYS\[1\]/)
      expect(head, name).toMatch(/Returns/)
    }
  })
})
