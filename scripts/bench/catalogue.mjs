// The benchmark catalogue: real zip archives (composer.json + a PHP class) generated with
// yazl, published with the `packyard` CLI in batches, as an operator would.
import { randomFillSync } from 'node:crypto'
import { closeSync, createWriteStream, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import yazl from 'yazl'
import { runOk } from './procs.mjs'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
// PACKYARD_BENCH_BIN=/other/checkout/bin/packyard.js benchmarks another build (e.g. a snapshot).
export const BIN = process.env.PACKYARD_BENCH_BIN ?? path.join(ROOT, 'bin', 'packyard.js')
/**
 * Node's options from BIN's `#!/usr/bin/env -S node …` line: the bench runs `packyard` with
 * this process's Node (the one `npm run bench` runs on) but the options `packyard` runs with.
 */
export const NODE_FLAGS = (/^#!\S*env -S node (.*)$/m.exec(readFileSync(BIN, 'utf8').split('\n', 1)[0])?.[1] ?? '').split(' ').filter(Boolean)

/** `packyard <args>` against a data dir; resolves stdout. */
export async function cli (dataDir, args, opts = {}) {
  const r = await runOk(process.execPath, [...NODE_FLAGS, BIN, ...args], { env: { PACKYARD_DATA_DIR: dataDir, PACKYARD_LOG_LEVEL: 'warn' }, ...opts })
  return r
}

/** Creates an account and a key pair with the CLI; returns { user, publicKey, privateKey }. */
export async function accountWithKey (dataDir, user) {
  await cli(dataDir, ['account', 'create', user])
  const r = await cli(dataDir, ['--json', 'key', 'create', user, '--name', 'bench'])
  const key = JSON.parse(r.stdout)
  return { user, publicKey: key.publicKey, privateKey: key.privateKey }
}

const VENDORS = 10
/** Package name of index i: spread over 10 vendors. */
export const packageName = (i) => `bench${i % VENDORS}/lib-${String(i).padStart(5, '0')}`
/** Version j of every package: 1.0.0 … 1.9.0, 2.0.0 … (so ^2.0 has a real choice to make). */
export const versionOf = (j) => `${1 + Math.floor(j / 10)}.${j % 10}.${j % 3}`

/**
 * Requirements of package i in a catalogue of n packages: packages form chains of 5
 * (i requires i+1 unless i is the last of its chain), and every package except the last
 * `base` ones also requires one of the `base` packages, which chain among themselves.
 * So a project requiring packages 0…59 resolves about 60 + base packages, not the whole catalogue.
 */
export function requiresOf (i, n, versions) {
  const base = Math.min(20, Math.floor(n / 5))
  const firstBase = n - base
  const req = { php: '>=8.1' }
  const top = versionOf(versions - 1).split('.')[0]
  const constraint = top === '1' ? '^1.0' : `^1.0 || ^${top}.0`
  if (i < firstBase) {
    if (i % 5 !== 4 && i + 1 < firstBase) req[packageName(i + 1)] = constraint
    if (base > 0) req[packageName(firstBase + (i % base))] = constraint
  } else if (i + 1 < n) {
    req[packageName(i + 1)] = constraint
  }
  return req
}

function classFile (name, version) {
  const ns = name.split('/').map((s) => s.replace(/[^a-z0-9]/gi, '')).map((s) => s[0].toUpperCase() + s.slice(1)).join('\\')
  return `<?php\n\ndeclare(strict_types=1);\n\nnamespace ${ns};\n\n/** Generated for the Packyard benchmark. */\nfinal class Client\n{\n    public const VERSION = '${version}';\n\n` +
    '    public function __construct(private readonly array $options = [])\n    {\n    }\n\n' +
    '    public function option(string $key, mixed $default = null): mixed\n    {\n        return $this->options[$key] ?? $default;\n    }\n}\n'
}

export function manifest (i, j, n, versions) {
  const name = packageName(i)
  const ns = name.split('/').map((s) => s.replace(/[^a-z0-9]/gi, '')).map((s) => s[0].toUpperCase() + s.slice(1)).join('\\\\')
  return {
    name,
    version: versionOf(j),
    description: `Benchmark library ${name}, a generated package with a realistic manifest.`,
    type: 'library',
    license: ['MIT'],
    keywords: ['bench', 'packyard'],
    homepage: `https://example.com/${name}`,
    authors: [{ name: 'Bench Author', email: 'bench@example.com' }],
    require: requiresOf(i, n, versions),
    'require-dev': { 'phpunit/phpunit': '^10.5' },
    autoload: { 'psr-4': { [`${ns.replaceAll('\\\\', '\\')}\\`]: 'src/' } }
  }
}

/** Writes one package version's zip; returns its path. */
export function writeZip (dir, i, j, n, versions) {
  const m = manifest(i, j, n, versions)
  const file = path.join(dir, `${m.name.replace('/', '-')}-${m.version}.zip`)
  const zip = new yazl.ZipFile()
  const mtime = new Date('2030-01-01T00:00:00Z')
  zip.addBuffer(Buffer.from(JSON.stringify(m, null, 4) + '\n'), 'composer.json', { mtime })
  zip.addBuffer(Buffer.from(classFile(m.name, m.version)), 'src/Client.php', { mtime })
  zip.addBuffer(Buffer.from(`# ${m.name}\n\nGenerated for the Packyard benchmark.\n`), 'README.md', { mtime })
  zip.end()
  return pipeline(zip.outputStream, createWriteStream(file)).then(() => file)
}

/**
 * Generates and publishes packages [from, to) × `versions`, `batch` archives per
 * `packyard publish` call. Returns { versions, genSeconds, publishSeconds }.
 */
export async function publishCatalogue (dataDir, workDir, { from = 0, to, n, versions, access, batch = 500, onProgress }) {
  let genSeconds = 0
  let publishSeconds = 0
  let count = 0
  const zipDir = path.join(workDir, 'zips')
  const total = (to - from) * versions
  const jobs = []
  for (let i = from; i < to; i++) for (let j = 0; j < versions; j++) jobs.push([i, j])
  for (let k = 0; k < jobs.length; k += batch) {
    mkdirSync(zipDir, { recursive: true })
    let t = process.hrtime.bigint()
    const files = []
    // A few zips in flight at a time: yazl streams to disk.
    const slice = jobs.slice(k, k + batch)
    for (let s = 0; s < slice.length; s += 50) {
      files.push(...await Promise.all(slice.slice(s, s + 50).map(([i, j]) => writeZip(zipDir, i, j, n, versions))))
    }
    genSeconds += Number(process.hrtime.bigint() - t) / 1e9
    t = process.hrtime.bigint()
    await cli(dataDir, ['publish', '--access', access, ...files], { timeoutMs: 1_800_000, maxOutput: 10_000 })
    publishSeconds += Number(process.hrtime.bigint() - t) / 1e9
    rmSync(zipDir, { recursive: true, force: true })
    count += files.length
    onProgress?.(count, total, publishSeconds)
  }
  return { versions: count, genSeconds, publishSeconds }
}

/** A zip holding composer.json and `mib` MiB of random (incompressible) bytes, stored. */
export async function writeBigZip (dir, name, mib) {
  const payload = path.join(dir, 'payload.bin')
  const fd = openSync(payload, 'w')
  const chunk = Buffer.allocUnsafe(1024 * 1024)
  for (let k = 0; k < mib; k++) writeSync(fd, randomFillSync(chunk))
  closeSync(fd)
  const file = path.join(dir, 'big-1.0.0.zip')
  const zip = new yazl.ZipFile()
  zip.addBuffer(Buffer.from(JSON.stringify({ name, version: '1.0.0', type: 'library', license: ['MIT'] })), 'composer.json')
  zip.addFile(payload, 'data/payload.bin', { compress: false })
  zip.end()
  await pipeline(zip.outputStream, createWriteStream(file))
  rmSync(payload)
  return file
}

/** Writes a Composer project requiring `names` (^-constraints), using only `url`. */
export function writeProject (dir, url, names, auth) {
  mkdirSync(dir, { recursive: true })
  const host = new URL(url).host
  writeFileSync(path.join(dir, 'composer.json'), JSON.stringify({
    name: 'bench/project',
    type: 'project',
    require: Object.fromEntries(names.map((n) => [n, '*'])),
    repositories: [{ type: 'composer', url }, { 'packagist.org': false }],
    config: { 'secure-http': false, 'platform-check': false, platform: { php: '8.2.0' } },
    'minimum-stability': 'stable'
  }, null, 2))
  writeFileSync(path.join(dir, 'auth.json'), JSON.stringify({ 'http-basic': { [host]: { username: auth.publicKey, password: auth.privateKey } } }, null, 2))
}
