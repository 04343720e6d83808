#!/usr/bin/env -S node --max-semi-space-size=16
// The flag above bounds V8's young generation at 2 × 16 MiB. Left to itself, V8 sizes it from
// the machine's memory (up to 2 × 32 MiB on a 24 GiB machine) and grows it under load, which
// put `packyard serve` at 172-175 MiB after a metadata load on 100,000 versions; with the bound
// it stays under 150 at the same speed (README "Performance"). `npm start`, the Docker image and
// an installed `packyard` all run through this line; `node bin/packyard.js` does not read it.
import { existsSync } from 'node:fs'
import module from 'node:module'
import { fileURLToPath } from 'node:url'

// The command runs the compiled TypeScript; a checkout without a build gets one line, not a stack trace.
const entry = new URL('../dist/cli/main.js', import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))

if (existsSync(entry)) {
  // V8's compiled code for our modules and dependencies, kept on disk between runs (in the
  // system's temp directory; Node manages it and starts afresh when it is missing or stale):
  // a start skips compiling Fastify, pino and the rest again. (Optional call: a Node older than
  // the supported one gets the engines error from npm or its own, not a SyntaxError from here.)
  module.enableCompileCache?.()
  const { main } = await import(entry.href)
  process.exitCode = await main(process.argv.slice(2))
} else {
  process.stderr.write(`packyard: the build output (dist/) is missing; run \`npm run build\` (or \`npm ci\`) in ${root}\n`)
  process.exitCode = 1
}
