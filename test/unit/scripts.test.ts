import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCRIPT_NAMES, scripts } from '../../lib/redis/scripts.ts'

// A changed script gets a new sha1: servers then load it afresh (NOSCRIPT → EVAL). Pinning the
// hashes makes every change to a script a visible, reviewed change to this table.
const PINNED: Record<string, string> = {
  enqueue: 'e1ad7f7cbc5176ae51dd1b2565b995ea94feb355',
  cancel: '1cf68eabba71ec219cd5ef6841d35b971369dc94',
  change_execution_time: '725a2daec39e85e6b91b91ea3e3339bd0afbd837',
  get_job: 'b2ba11dd9d74fee95a65ae14a3a862ee07d37449',
  due: '39df4d9d12b39dfae4a45067e2826018daef60b8',
  dispatch: '23ed876436d927a890d1fb0113ba657aa7792f27',
  lease_outbox: '603e7d903bf09cd25dd550535dbec119d5f24afc',
  release_lock: 'ea33636026fc42dd9b8bae926941c2d37d083a26',
  register: '87305c54130105f45b1737a44b625f6749af0ca1',
  claim: '2c3541c84b2201827b1295de3125cd32c400ad1d',
  finish: '2db4036fbeae99edee34f6a6d12ebb5780ddc248',
  renew: 'c7b17a406613a755447f2c136894a3ed722210bf',
  requeue_stalled: 'ea299d1ccca40476179faae098a037884b41a0d3',
  requeue: '4ae89687a8996312d6105fb13d41d556907c414b',
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
      const head = scripts[name].body.slice(0, 2000)
      expect(head, name).toMatch(/^--\[\[/)
      expect(head, name).toMatch(/KEYS\[1\]/)
      expect(head, name).toMatch(/Returns/)
    }
  })
})
