import t from 'tap'
import { createRandom } from '../helpers/random.js'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  compareVersions,
  isDevVersion,
  normalizeVersion,
  sortVersionsDescending,
  versionStability
} from '../../src/composer/version.js'
import { requireTools } from '../helpers/tools.js'

const AUTOLOAD = '/usr/share/php/Composer/Semver/autoload.php'

// --- 1. The observed table of docs/composer-protocol.md §3.3 -------------------------------

interface Row {
  inputs: string[]
  normalized: string | null
  stability?: string
  // parseStability() of the pretty input, when it differs from that of the normalized form
  rawStability?: string
}

const TABLE: Row[] = [
  { inputs: ['1'], normalized: '1.0.0.0', stability: 'stable' },
  { inputs: ['1.2'], normalized: '1.2.0.0', stability: 'stable' },
  { inputs: ['1.2.3'], normalized: '1.2.3.0', stability: 'stable' },
  { inputs: ['1.2.3.4'], normalized: '1.2.3.4', stability: 'stable' },
  { inputs: ['v1.2.3', 'V1.2.3', ' 1.2.3 '], normalized: '1.2.3.0', stability: 'stable' },
  {
    inputs: ['1.2.3.4.5', '123456.0.0', '1.x', '2.4.x', 'main', '2.4-develop', '1.0.0-1', '1.0.0-0.3.7',
      '1.0.0-alpha.beta', '1.0.0-SNAPSHOT', '1.0.0-beta1-p1', '1.0.0-p1-beta1', '102.0.3-p2-beta1'],
    normalized: null
  },
  { inputs: ['2.4.6-p3'], normalized: '2.4.6.0-patch3', stability: 'stable' },
  { inputs: ['2.4.6-p13'], normalized: '2.4.6.0-patch13', stability: 'stable' },
  { inputs: ['103.0.6-p1'], normalized: '103.0.6.0-patch1', stability: 'stable' },
  { inputs: ['2.4.6-p3.1'], normalized: '2.4.6.0-patch3.1', stability: 'stable' },
  {
    inputs: ['1.2.3p1', '1.2.3-P1', '1.2.3.patch1', '1.2.3_patch1', '1.2.3-patch.1', '1.2.3-pl1'],
    normalized: '1.2.3.0-patch1',
    stability: 'stable'
  },
  { inputs: ['1.2.3-p'], normalized: '1.2.3.0-patch', stability: 'stable' },
  { inputs: ['1.0.0-pl'], normalized: '1.0.0.0-patch', stability: 'stable' },
  {
    inputs: ['2.4.7-beta1', '2.4.7beta1', '2.4.7.beta1', '2.4.7-b1', '2.4.7-b.1', '2.4.7-BETA1'],
    normalized: '2.4.7.0-beta1',
    stability: 'beta'
  },
  { inputs: ['2.4.7-beta'], normalized: '2.4.7.0-beta', stability: 'beta' },
  { inputs: ['1.0.0-b'], normalized: '1.0.0.0-beta', stability: 'beta' },
  { inputs: ['2.4.7-alpha2', '2.4.7-a2'], normalized: '2.4.7.0-alpha2', stability: 'alpha' },
  {
    inputs: ['2.4.7-RC1', '2.4.7-rc1', '2.4.7-rc.1', '2.4.7-rc-1', '2.4.7RC1', '2.4.7.RC.1'],
    normalized: '2.4.7.0-RC1',
    stability: 'RC'
  },
  { inputs: ['1.0.0-RC', '1.0.0rc'], normalized: '1.0.0.0-RC', stability: 'RC' },
  { inputs: ['1.2.3-beta.2', '1.2.3-beta-2'], normalized: '1.2.3.0-beta2', stability: 'beta' },
  { inputs: ['1.2.3-alpha1.2'], normalized: '1.2.3.0-alpha1.2', stability: 'alpha' },
  { inputs: ['1.0.0-stable', '1.0.0-stable1'], normalized: '1.0.0.0', stability: 'stable' },
  { inputs: ['1.0.0-STABLE'], normalized: '1.0.0.0-stable', stability: 'stable' },
  {
    inputs: ['1.0.0-dev', '1.0.0dev', '1.0.0.dev', '1.0.0_dev', '1.0.0-DEV'],
    normalized: '1.0.0.0-dev',
    stability: 'dev'
  },
  { inputs: ['1.0-dev'], normalized: '1.0.0.0-dev', stability: 'dev' },
  { inputs: ['2.4-dev'], normalized: '2.4.0.0-dev', stability: 'dev' },
  { inputs: ['2.4.7-RC1-dev'], normalized: '2.4.7.0-RC1-dev', stability: 'dev' },
  { inputs: ['2.4.6-p3-dev'], normalized: '2.4.6.0-patch3-dev', stability: 'dev' },
  {
    inputs: ['1.0.x-dev', '1.0.*-dev', '1.0.X-dev', 'v1.0.x-dev', '1.0.x-DEV'],
    normalized: '1.0.9999999.9999999-dev',
    stability: 'dev'
  },
  { inputs: ['1.x-dev'], normalized: '1.9999999.9999999.9999999-dev', stability: 'dev' },
  { inputs: ['1.0.0.x-dev'], normalized: '1.0.0.9999999-dev', stability: 'dev' },
  { inputs: ['dev-master'], normalized: 'dev-master', stability: 'dev' },
  { inputs: ['dev-main'], normalized: 'dev-main', stability: 'dev' },
  { inputs: ['dev-feature/foo'], normalized: 'dev-feature/foo', stability: 'dev' },
  { inputs: ['dev-2.4-develop'], normalized: 'dev-2.4-develop', stability: 'dev' },
  { inputs: ['DEV-Feature/x'], normalized: 'dev-Feature/x', stability: 'dev', rawStability: 'stable' },
  { inputs: ['master'], normalized: 'dev-master', stability: 'dev', rawStability: 'stable' },
  { inputs: ['trunk'], normalized: 'dev-trunk', stability: 'dev', rawStability: 'stable' },
  { inputs: ['default'], normalized: 'dev-default', stability: 'dev', rawStability: 'stable' },
  { inputs: ['1.0.0+build.5'], normalized: '1.0.0.0', stability: 'stable' },
  { inputs: ['1.0.0-beta1+build'], normalized: '1.0.0.0-beta1', stability: 'beta' },
  { inputs: ['2.4.6-p3+hotfix'], normalized: '2.4.6.0-patch3', stability: 'stable' },
  { inputs: ['1.0.0+'], normalized: null },
  { inputs: ['2010-01-02'], normalized: '2010.01.02', stability: 'stable' },
  { inputs: ['2010.01.02'], normalized: '2010.01.02.0', stability: 'stable' },
  { inputs: ['20100102'], normalized: '20100102', stability: 'stable' },
  { inputs: ['2010-01-02-10-20'], normalized: '2010.01.02.10.20', stability: 'stable' },
  { inputs: ['99999.0.0'], normalized: '99999.0.0.0', stability: 'stable' },
  { inputs: ['00001.0.0'], normalized: '00001.0.0.0', stability: 'stable' },
  { inputs: ['01.02.03'], normalized: '01.02.03.0', stability: 'stable' },
  // parseStability() does not strip `@flag`s: it reads `@beta` as a beta modifier.
  { inputs: ['1.0.0@beta'], normalized: '1.0.0.0', stability: 'stable', rawStability: 'beta' },
  { inputs: ['1.0.0 as 2.0.0'], normalized: '1.0.0.0', stability: 'stable' }
]

t.test('normalizes every row of the observed table', async (t) => {
  for (const row of TABLE) {
    for (const input of row.inputs) {
      t.equal(normalizeVersion(input), row.normalized, `normalize ${JSON.stringify(input)}`)
      if (row.normalized === null || row.stability === undefined) continue
      t.equal(versionStability(row.normalized), row.stability, `stability of ${row.normalized}`)
      t.equal(versionStability(input), row.rawStability ?? row.stability, `stability of ${JSON.stringify(input)}`)
      t.equal(isDevVersion(row.normalized), row.stability === 'dev', `isDevVersion ${row.normalized}`)
    }
  }
})

// --- 4. Ordering sanity -----------------------------------------------------------------------

const ORDERED = [
  '2.4.6.0-dev', '2.4.6.0-alpha1', '2.4.6.0-beta2', '2.4.6.0-RC1', '2.4.6.0',
  '2.4.6.0-patch1', '2.4.6.0-patch3', '2.4.6.0-patch13', '2.4.7.0-beta1'
]

t.test('orders normalized versions like Composer', async (t) => {
  for (let i = 0; i < ORDERED.length; i++) {
    for (let j = 0; j < ORDERED.length; j++) {
      const expected = i < j ? -1 : i > j ? 1 : 0
      t.equal(compareVersions(ORDERED[i] ?? '', ORDERED[j] ?? ''), expected, `${ORDERED[i]} vs ${ORDERED[j]}`)
    }
  }
  t.equal(compareVersions('2.4.6', '2.4.6.0'), -1, 'a non-normalized version sorts below its normalized form')
})

t.test('sortVersionsDescending returns a new, stable, newest-first array', async (t) => {
  const items = [...ORDERED].reverse().concat(ORDERED).map((version, index) => ({ version, index }))
  const input = [...items]
  const sorted = sortVersionsDescending(items, (item) => item.version)
  t.same(items, input, 'input untouched')
  t.not(sorted, items)
  const expected = [...ORDERED].reverse().flatMap((version) => items.filter((item) => item.version === version))
  t.same(sorted, expected)
})

// --- 2 and 3. Differential tests against composer/semver and PHP's version_compare() -----------

type Random = ReturnType<typeof createRandom>

const WORDS = ['stable', 'STABLE', 'Stable', 'beta', 'BETA', 'Beta', 'b', 'B', 'RC', 'rc', 'Rc', 'alpha',
  'ALPHA', 'a', 'A', 'patch', 'PATCH', 'Patch', 'pl', 'PL', 'p', 'P', 'dev', 'snapshot', 'final']
const SEPARATORS = ['', '.', '_', '-']
const DEV_SUFFIXES = ['-dev', '.dev', 'dev', '-DEV', '_dev', '-Dev', '..dev', '--dev', ' dev']
const FLAGS = ['dev', 'stable', 'RC', 'rc', 'beta', 'alpha', 'Beta', 'DEV', 'foo', '']
const BUILDS = ['build.5', '', '001', 'a+b', 'sha.abc-def', 'x y', 'é', '+', 'exp.sha.5114f85']
const ALIASES = [' as ', '  as  ', ' AS ', ' as', 'as ', ' as\t', ' as  ']
const WHITESPACE = [' ', '\t', '\n', '\r\n', '\v', '\f', '\0', '\u00a0', '  \n', '\r']
const BRANCH_PREFIXES = ['dev-', 'DEV-', 'Dev-', 'dEv-', 'dev_', 'dev', '']
const BRANCH_NAMES = ['master', 'Main', 'feature/Foo', '2.4-develop', 'release/1.x', 'bugfix/ABC-123', 'x',
  'MAGE-42_fix', '1.0', 'v2', 'feature/dev-tools', 'hotfix']
const NAMED = ['master', 'trunk', 'default', 'main', 'Master', 'TRUNK', 'Default', 'develop', 'latest', 'stable',
  'dev', 'dev-', '-dev', '', 'x-dev', '*', 'master-dev', 'trunk@dev']
const GARBAGE_CHARS = [...'0123456789...---__++@ vVxX*abcdeprstlADEV/#:,~^<>=|!éü日\u00a0\u2028\t']

function digits (r: Random, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += String(r.int(0, 9))
  return out
}

function numberPart (r: Random): string {
  if (r.chance(0.1)) return `0${digits(r, r.int(1, 2))}`
  return String(r.int(0, r.pick([9, 20, 150, 2000])))
}

function numericCore (r: Random): string {
  const prefix = r.pick(['', '', '', 'v', 'V'])
  const first = r.chance(0.15) ? digits(r, r.pick([4, 5, 5, 6])) : numberPart(r)
  const parts = [first]
  const count = r.pick([1, 2, 3, 3, 3, 4, 4, 5, 6])
  while (parts.length < count) parts.push(numberPart(r))
  return prefix + parts.join('.')
}

function numberRun (r: Random): string {
  if (r.chance(0.35)) return ''
  let run = r.pick(['', '', '.', '-']) + String(r.int(0, 20))
  while (r.chance(0.2)) run += r.pick(['.', '-', '']) + String(r.int(0, 9))
  return r.chance(0.03) ? run + r.pick(['.', '-']) : run
}

function modifier (r: Random): string {
  return r.pick(SEPARATORS) + r.pick(WORDS) + numberRun(r)
}

function classicVersion (r: Random): string {
  let version = numericCore(r)
  if (r.chance(0.6)) version += modifier(r)
  if (r.chance(0.25)) version += r.pick(DEV_SUFFIXES)
  return version
}

function wildcardBranch (r: Random): string {
  const parts = [r.chance(0.1) ? r.pick(['x', '*']) : String(r.int(0, 12))]
  const count = r.int(1, 5)
  while (parts.length < count) parts.push(r.chance(0.5) ? r.pick(['x', 'X', '*']) : String(r.int(0, 30)))
  const version = r.pick(['', '', 'v', 'V']) + parts.join('.')
  return r.chance(0.85) ? version + r.pick(DEV_SUFFIXES) : version
}

function dateVersion (r: Random): string {
  let version = r.pick(['', '', '', 'v']) + digits(r, r.pick([4, 4, 4, 3, 5]))
  const groups = r.int(1, 7)
  const separator = r.pick(['', '.', '-', ':', 'mixed'])
  for (let i = 0; i < groups; i++) {
    const sep = separator === 'mixed' ? r.pick(['', '.', '-', ':', '/']) : separator
    version += sep + digits(r, r.chance(0.9) ? 2 : r.pick([1, 3]))
  }
  if (r.chance(0.2)) version += r.pick(['', '.', '-', ':']) + digits(r, r.int(1, 4))
  if (r.chance(0.3)) version += modifier(r)
  if (r.chance(0.15)) version += r.pick(DEV_SUFFIXES)
  return version
}

function branchVersion (r: Random): string {
  let name = r.pick(BRANCH_NAMES)
  if (r.chance(0.3)) name += `/${r.pick(BRANCH_NAMES)}`
  return r.pick(BRANCH_PREFIXES) + name + (r.chance(0.15) ? r.pick(DEV_SUFFIXES) : '')
}

function garbage (r: Random): string {
  let out = ''
  const length = r.int(1, 12)
  for (let i = 0; i < length; i++) out += r.pick(GARBAGE_CHARS)
  return out
}

function baseVersion (r: Random): string {
  const kind = r.int(0, 99)
  if (kind < 42) return classicVersion(r)
  if (kind < 55) return wildcardBranch(r)
  if (kind < 70) return dateVersion(r)
  if (kind < 80) return branchVersion(r)
  if (kind < 86) return r.pick(NAMED)
  if (kind < 94) return garbage(r)
  return r.pick(TABLE).inputs[0] ?? ''
}

function decorate (r: Random, base: string): string {
  let version = base
  if (r.chance(0.1)) version += `+${r.pick(BUILDS)}`
  if (r.chance(0.1)) version += `@${r.pick(FLAGS)}`
  if (r.chance(0.07)) version += r.pick(ALIASES) + classicVersion(r)
  if (r.chance(0.03)) version += `@${r.pick(FLAGS)}`
  // `#ref` suffixes (as in `dev-main#abc123`) are cut by parseStability().
  if (r.chance(0.04)) version += `#${r.pick(['abc123', 'a\rb', 'beta', '-dev', ''])}`
  if (r.chance(0.05)) version = r.pick(WHITESPACE) + version
  // PCRE's `.` and `$` treat \r, \n and U+2028 differently from JS's: an inner line break shows it.
  if (r.chance(0.03)) version = r.pick(['a\r', 'x\n', '1.0\r', '1.0\n', 'foo\u2028', 'v\r\n']) + version
  if (r.chance(0.05)) version += r.pick(WHITESPACE)
  return version
}

function generateVersions (seed: number, count: number): string[] {
  const r = createRandom(seed)
  const versions = new Set<string>(TABLE.flatMap((row) => row.inputs))
  while (versions.size < count) versions.add(decorate(r, baseVersion(r)))
  return [...versions]
}

const NORMALIZE_PHP = `<?php
require '${AUTOLOAD}';
use Composer\\Semver\\VersionParser;
$versions = json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
$parser = new VersionParser();
$out = [];
foreach ($versions as $version) {
  try { $normalized = $parser->normalize($version); } catch (UnexpectedValueException $e) { $normalized = null; }
  $out[$version] = [
    'normalized' => $normalized,
    'stability' => VersionParser::parseStability($version),
    'normalizedStability' => $normalized === null ? null : VersionParser::parseStability($normalized),
  ];
}
echo json_encode($out, JSON_THROW_ON_ERROR | JSON_FORCE_OBJECT);
`

const COMPARE_PHP = `<?php
$pairs = json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
echo json_encode(array_map(fn ($pair) => version_compare($pair[0], $pair[1]), $pairs), JSON_THROW_ON_ERROR);
`

interface PhpNormalized {
  normalized: string | null
  stability: string
  normalizedStability: string | null
}

/** Runs one php process on a JSON input file and returns its parsed JSON output. */
function runPhp (dir: string, name: string, script: string, input: unknown): unknown {
  const scriptPath = join(dir, `${name}.php`)
  const inputPath = join(dir, `${name}.json`)
  writeFileSync(scriptPath, script)
  writeFileSync(inputPath, JSON.stringify(input))
  const res = spawnSync('php', [scriptPath, inputPath], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (res.status !== 0) throw new Error(`php failed (${res.status}): ${res.stderr}`)
  return JSON.parse(res.stdout)
}

function tempDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'packyard-version-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// The valid normalized outputs of the first differential test feed the second one.
const validNormalized: string[] = []

t.test('normalizeVersion and versionStability match composer/semver', async (t) => {
  if (!requireTools(t, 'php', AUTOLOAD)) return
  const versions = generateVersions(20240601, 6000)
  const php = new Map(Object.entries(runPhp(tempDir(t), 'normalize', NORMALIZE_PHP, versions) as Record<string, PhpNormalized>))
  const mismatches: unknown[] = []
  let valid = 0
  let invalid = 0
  for (const input of versions) {
    const expected = php.get(input)
    if (expected === undefined) throw new Error(`php gave no answer for ${JSON.stringify(input)}`)
    const ours = normalizeVersion(input)
    if (ours !== expected.normalized) mismatches.push({ input, php: expected.normalized, ours })
    const stability = versionStability(input)
    if (stability !== expected.stability) mismatches.push({ input, phpStability: expected.stability, stability })
    if (expected.normalized === null) {
      invalid++
      continue
    }
    valid++
    validNormalized.push(expected.normalized)
    const normalizedStability = versionStability(expected.normalized)
    if (normalizedStability !== expected.normalizedStability) {
      mismatches.push({ normalized: expected.normalized, phpStability: expected.normalizedStability, normalizedStability })
    }
  }
  t.comment(`compared ${versions.length} inputs: ${valid} valid, ${invalid} invalid`)
  t.same(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`)
  t.ok(versions.length >= 3000, `compared ${versions.length} inputs`)
  t.ok(valid >= 1000, `${valid} valid outcomes`)
  t.ok(invalid >= 1000, `${invalid} invalid outcomes`)
})

const VARIATIONS = ['', '-dev', '-alpha1', '-alpha2', '-beta', '-beta1', '-beta2', '-beta1-dev', '-RC', '-RC1',
  '-RC2', '-RC1-dev', '-patch', '-patch1', '-patch3', '-patch13', '-patch3.1', '-patch1-dev', '-stable']
// strtol() saturates at LONG_MAX; date versions can exceed it.
const EDGE_VERSIONS = ['9999999999999999999', '9223372036854775807', '9223372036854775806',
  '2010.01.02', '2010.01.02.0', '1.0.0.0', '1.0.0', '1.', '', 'dev-master', '#N#', '1.0.0.0-pl1', '1.0.0.0-foo']

function comparisonPairs (seed: number, pool: readonly string[], count: number): Array<[string, string]> {
  const r = createRandom(seed)
  const family = (): string => {
    const base = r.pick(pool).replace(/-.*$/, '')
    return base + r.pick(VARIATIONS)
  }
  const anyVersion = (): string => r.chance(0.02) ? r.pick(EDGE_VERSIONS) : r.chance(0.5) ? r.pick(pool) : family()
  const pairs: Array<[string, string]> = EDGE_VERSIONS.flatMap((a) => EDGE_VERSIONS.map((b): [string, string] => [a, b]))
  while (pairs.length < count) {
    if (r.chance(0.45)) {
      const base = r.pick(pool).replace(/-.*$/, '')
      pairs.push([base + r.pick(VARIATIONS), base + r.pick(VARIATIONS)])
    } else {
      const a = anyVersion()
      pairs.push([a, r.chance(0.05) ? a : anyVersion()])
    }
  }
  return pairs
}

t.test('compareVersions matches PHP version_compare', async (t) => {
  if (!requireTools(t, 'php', AUTOLOAD)) return
  t.ok(validNormalized.length >= 1000, 'the normalization test produced a pool of versions')
  const pairs = comparisonPairs(977, validNormalized, 8000)
  const php = runPhp(tempDir(t), 'compare', COMPARE_PHP, pairs) as number[]
  t.equal(php.length, pairs.length)
  const mismatches: unknown[] = []
  const outcomes = new Map<number, number>()
  pairs.forEach(([a, b], i) => {
    const ours = compareVersions(a, b)
    outcomes.set(ours, (outcomes.get(ours) ?? 0) + 1)
    if (ours !== php[i]) mismatches.push({ a, b, php: php[i], ours })
  })
  t.comment(`compared ${pairs.length} pairs: ${[...outcomes].map(([k, v]) => `${k}: ${v}`).join(', ')}`)
  t.same(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`)
  t.ok(pairs.length >= 5000, `compared ${pairs.length} pairs`)
  for (const outcome of [-1, 0, 1]) t.ok((outcomes.get(outcome) ?? 0) >= 300, `outcome ${outcome} well represented`)
})
