import type { Test } from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { cliJsonQuick as cliJson, tempDir } from './harness.js'

export const hash = (algo: string, b: Buffer): string => createHash(algo).update(b).digest('hex')

export interface Cred { mageId: string, token: string }

/**
 * A data directory set up with the CLI: alice (granted ee-full), bob (no grants), a file with
 * no edition, a public ce-full file, and two restricted ee-full files.
 */
export async function seed (t: Test) {
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const files = {
    'acme-suite-ce-2.4.6-p3.zip': randomBytes(300_000),
    'acme-suite-ee-2.4.6-p3.zip': randomBytes(1_000_000),
    'acme-suite-ee-2.4.5.zip': randomBytes(1000),
    'release-notes-2.4.6.txt': Buffer.from('notes\n')
  }
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(work, name), bytes)
  await cliJson(dataDir, ['account', 'create', 'alice'])
  await cliJson(dataDir, ['account', 'create', 'bob'])
  t.same(await cliJson(dataDir, ['edition', 'access', 'ee-full', 'restricted']), { edition: 'ee-full', access: 'restricted' })
  t.same(await cliJson(dataDir, ['release', 'add', path.join(work, 'acme-suite-ce-2.4.6-p3.zip'), '--version', '2.4.6-p3', '--edition', 'ce-full']),
    { file: 'acme-suite-ce-2.4.6-p3.zip', version: '2.4.6-p3', edition: 'ce-full' })
  await cliJson(dataDir, ['release', 'add', path.join(work, 'acme-suite-ee-2.4.6-p3.zip'), '--version', '2.4.6-p3', '--edition', 'ee-full'])
  await cliJson(dataDir, ['release', 'add', path.join(work, 'acme-suite-ee-2.4.5.zip'), '--version', '2.4.5', '--edition', 'ee-full'])
  t.same(await cliJson(dataDir, ['release', 'add', path.join(work, 'release-notes-2.4.6.txt'), '--version', '2.4.6']),
    { file: 'release-notes-2.4.6.txt', version: '2.4.6', edition: null })
  t.same(await cliJson(dataDir, ['grant', 'alice', 'ee-full']), { username: 'alice', edition: 'ee-full', granted: true })
  const alice: Cred = await cliJson(dataDir, ['token', 'regenerate', 'alice'])
  const bob: Cred = await cliJson(dataDir, ['token', 'regenerate', 'bob'])
  t.match(alice, { mageId: /^MAG\d{9}$/, token: /^[0-9a-f]{40}$/ })
  return { dataDir, work, files, alice, bob }
}
