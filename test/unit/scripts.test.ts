import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCRIPT_NAMES, scripts } from '../../lib/redis/scripts.ts'

// A changed script gets a new sha1: servers then load it afresh (NOSCRIPT → EVAL). Pinning the
// hashes makes every change to a script a visible, reviewed change to this table.
const PINNED: Record<string, string> = {
  enqueue: 'b704b6ef14349d544ce731afa29be0bcc29b7875',
  cancel: 'bdd7172a86ea60ac549c01e690b7c4d0261737a9',
  change_execution_time: '725a2daec39e85e6b91b91ea3e3339bd0afbd837',
  get_job: 'b2ba11dd9d74fee95a65ae14a3a862ee07d37449',
  due: '39df4d9d12b39dfae4a45067e2826018daef60b8',
  dispatch: '979b9850b3f9a432b5578fc85471e8b3aeb839f8',
  lease_outbox: '603e7d903bf09cd25dd550535dbec119d5f24afc',
  release_lock: 'ea33636026fc42dd9b8bae926941c2d37d083a26',
  register_scheduler: 'b352b73aee2bdc5beb01fb0282268d11a7020f61',
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
