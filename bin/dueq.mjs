#!/usr/bin/env node
// dueq's command line. The library is TypeScript run through tsx, so no build step is needed.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../lib/cli.ts')
process.exitCode = await main(process.argv.slice(2))
