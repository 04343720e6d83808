import t from 'tap'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { BIN, runCli, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

async function threeArchives (dir: string): Promise<string[]> {
  return await Promise.all([1, 2, 3].map((i) => writePackageZip(dir, { name: `acme/progress${i}`, version: `1.0.${i}` })))
}

t.test('publishing many archives on a terminal shows a progress bar', async (t) => {
  // util-linux `script` gives the CLI a real pseudo-terminal.
  if (!requireTools(t, 'script')) return
  const dir = tempDir(t)
  const archives = await threeArchives(dir)
  const cmd = [process.execPath, BIN, '--data-dir', path.join(dir, 'data'), 'publish', ...archives].map((a) => `'${a}'`).join(' ')
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stdout + r.stderr)
  t.match(r.stdout, /publishing \[.*\] 0\/3/)
  t.match(r.stdout, /publishing \[.*\] 3\/3/)
  t.match(r.stdout, /published 3 of 3 archives/)
})

t.test('without a terminal, publish prints one line per archive and no bar', async (t) => {
  const dir = tempDir(t)
  const archives = await threeArchives(dir)
  const r = await runCli(path.join(dir, 'data'), ['publish', ...archives])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stdout + r.stderr, /publishing \[/)
  t.same(r.stdout.trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')),
    ['published acme/progress1 1.0.1', 'published acme/progress2 1.0.2', 'published acme/progress3 1.0.3'])
})

t.test('a failing archive among several: the others are published, exit 1, one line for the failure', async (t) => {
  const dir = tempDir(t)
  const [a, b] = await threeArchives(dir)
  const bad = path.join(dir, 'not-a-zip.zip')
  const { writeFileSync } = await import('node:fs')
  writeFileSync(bad, 'this is not a zip')
  const data = path.join(dir, 'data')
  const r = await runCli(data, ['--json', 'publish', a!, bad, b!])
  t.equal(r.code, 1)
  t.same(r.json.map((p: { name: string }) => p.name), ['acme/progress1', 'acme/progress2'])
  t.equal(r.stderr.trim().split('\n').length, 1)
  t.match(r.stderr, /not-a-zip\.zip: not a valid zip archive/)
  const list = await runCli(data, ['--json', 'package', 'list'])
  t.same(list.json.map((p: { name: string }) => p.name), ['acme/progress1', 'acme/progress2'])
})
