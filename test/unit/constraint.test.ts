import t from 'tap'
import { createRandom } from '../helpers/random.js'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  constraintToString,
  isValidConstraint,
  parseConstraint,
  parseStabilityName,
  satisfies,
  stabilityAllowed,
  type Constraint
} from '../../src/composer/constraint.js'
import { normalizeVersion } from '../../src/composer/version.js'
import { requireTools } from '../helpers/tools.js'

const AUTOLOAD = '/usr/share/php/Composer/Semver/autoload.php'

// --- 1. Hand-picked cases (each also checked against composer/semver below) ----------------

interface Row {
  constraint: string
  parsed: string // Composer's (string) of the parsed constraint
  yes: string[] // pretty versions that satisfy it
  no: string[]
}

const TABLE: Row[] = [
  // Stability is a separate check: `^2.0` admits 2.0.0-beta1 and 2.x-dev, but not 3.0.0-beta1.
  {
    constraint: '^2.0',
    parsed: '[>= 2.0.0.0-dev < 3.0.0.0-dev]',
    yes: ['2.0.0', '2.9.9', '2.0.0-beta1', '2.4.6-p3', 'v2.1', '2.x-dev'],
    no: ['3.0.0', '1.9.9', '3.0.0-beta1', '3.0.0-dev', 'dev-main']
  },
  { constraint: '^1.2', parsed: '[>= 1.2.0.0-dev < 2.0.0.0-dev]', yes: ['1.2.0', '1.9.9', '1.2.0-RC1'], no: ['1.1.9', '2.0.0-dev'] },
  { constraint: '^0.3', parsed: '[>= 0.3.0.0-dev < 0.4.0.0-dev]', yes: ['0.3.0', '0.3.9'], no: ['0.4.0', '0.2.9'] },
  { constraint: '^0.0.3', parsed: '[>= 0.0.3.0-dev < 0.0.4.0-dev]', yes: ['0.0.3'], no: ['0.0.4', '0.1.0'] },
  {
    constraint: '>=1.0 <3.0',
    parsed: '[>= 1.0.0.0-dev < 3.0.0.0-dev]',
    yes: ['1.0.0', '2.9.9', '1.0.0-beta1'],
    no: ['0.9.9', '3.0.0', '3.0.0-beta1', 'dev-main']
  },
  { constraint: '>=1.0, <3.0', parsed: '[>= 1.0.0.0-dev < 3.0.0.0-dev]', yes: ['2.0.0'], no: ['3.0.0'] },
  { constraint: '~1.2', parsed: '[>= 1.2.0.0-dev < 2.0.0.0-dev]', yes: ['1.2.0', '1.9.9'], no: ['1.1.9', '2.0.0'] },
  { constraint: '~1.2.3', parsed: '[>= 1.2.3.0-dev < 1.3.0.0-dev]', yes: ['1.2.3', '1.2.9'], no: ['1.2.2', '1.3.0'] },
  { constraint: '1.2.*', parsed: '[>= 1.2.0.0-dev < 1.3.0.0-dev]', yes: ['1.2.0', '1.2.9', '1.2.0-alpha1'], no: ['1.3.0', '1.1.9'] },
  { constraint: '1.*', parsed: '[>= 1.0.0.0-dev < 2.0.0.0-dev]', yes: ['1.0.0', '1.9.9'], no: ['2.0.0', '0.9.9'] },
  // `2.4.x` is not a valid version, but it is a valid constraint.
  { constraint: '2.4.x', parsed: '[>= 2.4.0.0-dev < 2.5.0.0-dev]', yes: ['2.4.0', '2.4.6-p3'], no: ['2.5.0'] },
  { constraint: '*', parsed: '*', yes: ['0.0.1', '1.0.0-alpha1', 'dev-main', '1.0.x-dev'], no: [] },
  { constraint: '1.0 - 2.0', parsed: '[>= 1.0.0.0-dev < 2.1.0.0-dev]', yes: ['1.0.0', '2.0.5'], no: ['2.1.0', '0.9.9'] },
  { constraint: '1.0.0 - 2.0.0', parsed: '[>= 1.0.0.0-dev <= 2.0.0.0]', yes: ['2.0.0'], no: ['2.0.1', '2.0.0-p1'] },
  // Contiguous OR ranges are merged, exactly as MultiConstraint::create() does.
  { constraint: '^1.0 || ^2.0', parsed: '[>= 1.0.0.0-dev < 3.0.0.0-dev]', yes: ['1.0.0', '2.5.0'], no: ['3.0.0', '0.9.0'] },
  {
    constraint: '^1.0 | ^3.0',
    parsed: '[[>= 1.0.0.0-dev < 2.0.0.0-dev] || [>= 3.0.0.0-dev < 4.0.0.0-dev]]',
    yes: ['1.5.0', '3.1.0'],
    no: ['2.0.0', '4.0.0']
  },
  { constraint: '<2.0', parsed: '< 2.0.0.0-dev', yes: ['1.9.9'], no: ['2.0.0', '2.0.0-beta1', 'dev-main'] },
  { constraint: '>2.4.6', parsed: '> 2.4.6.0', yes: ['2.4.6-p1', '2.4.7-beta1'], no: ['2.4.6'] },
  // Patch releases are stable and rank above the release they patch.
  { constraint: '2.4.6-p3', parsed: '== 2.4.6.0-patch3', yes: ['2.4.6-p3', '2.4.6-patch3'], no: ['2.4.6', '2.4.6-p13'] },
  { constraint: '!=2.0.0', parsed: '!= 2.0.0.0', yes: ['2.0.1', 'dev-main'], no: ['2.0.0', 'v2.0'] },
  { constraint: '<>2.0.0', parsed: '!= 2.0.0.0', yes: ['1.0.0'], no: ['2.0.0'] },
  { constraint: 'v3.1', parsed: '== 3.1.0.0', yes: ['v3.1', '3.1.0'], no: ['3.1.1'] },
  // Branches only equal themselves; `foo-dev` is read as `dev-foo`.
  { constraint: 'dev-main', parsed: '== dev-main', yes: ['dev-main'], no: ['dev-master', 'dev-Main', '1.0.0', '9999999-dev'] },
  { constraint: 'main-dev', parsed: '== dev-main', yes: ['dev-main'], no: ['dev-master'] },
  { constraint: 'dev-main#abc123', parsed: '== dev-main', yes: ['dev-main'], no: [] },
  { constraint: '!= dev-main', parsed: '!= dev-main', yes: ['dev-master', '1.0.0'], no: ['dev-main'] },
  { constraint: '>=1.0', parsed: '>= 1.0.0.0-dev', yes: ['1.0.0-dev', '1.0.x-dev'], no: ['dev-main'] },
  { constraint: '1.0.x-dev', parsed: '== 1.0.9999999.9999999-dev', yes: ['1.0.x-dev'], no: ['1.0.0'] },
  // A stability flag lowers the bound of a range operator (and is otherwise ignored).
  { constraint: '>=1.0@beta', parsed: '>= 1.0.0.0-beta', yes: ['1.0.0-beta1', '1.0.0'], no: ['1.0.0-alpha1', '1.0.0-dev'] },
  { constraint: '^1.0@dev', parsed: '[>= 1.0.0.0-dev < 2.0.0.0-dev]', yes: ['1.0.0-dev'], no: ['2.0.0'] },
  { constraint: '@dev', parsed: '*', yes: ['dev-main'], no: [] },
  { constraint: '1.0.0 as 2.0.0', parsed: '== 1.0.0.0', yes: ['1.0.0'], no: ['2.0.0'] }
]

const INVALID = ['', 'foo', '~>1.0', '1.0 -2.0', '>= foo', '1.0.0.0.0', '1.0,,2.0', '^', '|| 1.0', '^1.0 ||', 'main',
  '1.0.0-SNAPSHOT', '2.4-develop', '1.0 as']

t.test('hand-picked constraints', async (t) => {
  for (const row of TABLE) {
    const constraint = parseConstraint(row.constraint)
    t.equal(constraint.pretty, row.constraint)
    t.equal(constraintToString(constraint), row.parsed, `parse ${row.constraint}`)
    for (const version of row.yes) t.ok(satisfiesPretty(version, constraint), `${version} satisfies ${row.constraint}`)
    for (const version of row.no) t.notOk(satisfiesPretty(version, constraint), `${version} does not satisfy ${row.constraint}`)
  }
  for (const input of INVALID) {
    t.throws(() => parseConstraint(input), { message: `invalid version constraint ${JSON.stringify(input)}` }, `rejects ${JSON.stringify(input)}`)
    t.equal(isValidConstraint(input), false)
  }
  t.equal(isValidConstraint('^2.0'), true)
  t.throws(() => parseConstraint('~>1.0'), /you probably meant "~"/)
})

t.test('stabilityAllowed and parseStabilityName', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['2.0.0', 'stable', true], ['2.4.6-p3', 'stable', true], ['2.0.0.0-RC2', 'stable', false],
    ['2.0.0-RC2', 'RC', true], ['2.0.0-RC2', 'beta', true], ['1.0.0-beta1', 'RC', false],
    ['1.0.0-beta1', 'beta', true], ['1.0.0-alpha1', 'beta', false], ['1.0.0-alpha1', 'alpha', true],
    ['dev-main', 'alpha', false], ['dev-main', 'dev', true], ['1.0.x-dev', 'dev', true],
    ['1.0.9999999.9999999-dev', 'alpha', false], ['2.0.0-RC1-dev', 'RC', false], ['3.0.0', 'dev', true]
  ]
  for (const [version, minimum, expected] of cases) {
    const name = parseStabilityName(minimum)
    if (name === null) throw new Error(minimum)
    t.equal(stabilityAllowed(version, name), expected, `${version} at minimum-stability ${minimum}`)
  }
  t.equal(parseStabilityName('rc'), 'RC')
  t.equal(parseStabilityName('Beta'), 'beta')
  t.equal(parseStabilityName('patch'), null)
})

function satisfiesPretty (version: string, constraint: Constraint): boolean {
  const normalized = normalizeVersion(version)
  if (normalized === null) throw new Error(`invalid test version ${version}`)
  return satisfies(normalized, constraint)
}

// --- 2. Differential test against composer/semver ---------------------------------------------

type Random = ReturnType<typeof createRandom>

const FIXED_VERSIONS = ['0.0.0', '0.0.3', '0.0.4', '0.1.0', '0.1.5', '1', '1.0', '1.0.0', '1.0.1', '1.1.9', '1.2.0',
  '1.2.3', '1.2.9', '1.3.0', '1.9.9', '2.0.0', '2.0.1', '2.4.6', '2.4.6-p3', '2.4.6-p13', '2.4.7-beta1', '2.9.9',
  '2.99.99', '3.0.0', '4.0.0', '1.0.0-beta1', '1.0.0-alpha2', '1.0.0-RC1', '2.0.0-RC2', '2.0.0-beta1', '2.0.0-dev',
  '3.0.0-dev', '1.0.0-beta1-dev', '2.0.0-RC2-dev', '1.0.0-patch1', '1.0.0-stable', '1.0.0-STABLE', '1.0.x-dev', '1.x-dev',
  '2.x-dev', '2.0.x-dev', 'dev-main', 'dev-master', 'dev-feature/foo', 'dev-1.x', 'master', 'v3.1', 'V2.0.0',
  '1.2.3.4', '1.0.0.0', '2.4.6.0-patch3', '1.9999999.9999999.9999999-dev', '2010-01-02', '2010.01.02', '20100102',
  '1.0.0+build.5', '99999.0.0']
const MODIFIERS = ['-beta1', '-beta', '-RC2', '-rc1', '.RC1', 'beta2', '-p3', '-patch1', '-pl2', '-alpha', '-a1', '-b2',
  '-dev', '-beta1-dev', '-stable', '-STABLE', '-p1.2', '_alpha3']
const OPERATORS = ['', '', '=', '==', '!=', '<>', '<', '<=', '>', '>=', '>=', '<']
const FLAGS = ['dev', 'stable', 'beta', 'RC', 'alpha', 'STABLE', 'Beta', 'rc', 'DEV', 'foo', '']
const BRANCHES = ['dev-main', 'dev-master', 'dev-feature/foo', 'main-dev', 'foo-dev', 'feature/x-dev', 'dev-main#abc123',
  '1.0.x-dev#abc', 'dev-1.x', 'DEV-main', 'master', 'trunk', 'main', '1.x-dev', '2.0.x-dev', 'v1.0.x-dev', '1.0.*-dev']
const AND = [' ', ',', ', ', '  ', ' ,', ' , ', ',,']
const OR = ['||', '|', ' || ', ' | ', '  ||  ', '|||', ' ||| ']
const NOISE = [...'0123456789.-_+@ vVxX*~^<>=!|,#/abdeprtlRCas\t\né']

function numberPart (r: Random): string {
  if (r.chance(0.01)) return r.pick(['99999999999999999999', '9223372036854775807', '9223372036854775806'])
  if (r.chance(0.04)) return r.pick(['00', '01', '007', '10', '12'])
  return String(r.int(0, 4))
}

function version (r: Random, maxParts = 4): string {
  if (r.chance(0.04)) return r.pick(BRANCHES)
  const parts = [numberPart(r)]
  const count = r.int(1, maxParts)
  while (parts.length < count) parts.push(numberPart(r))
  let out = r.pick(['', '', '', '', 'v', 'V']) + parts.join('.')
  if (r.chance(0.05)) out += r.pick(['.x-dev', '.*-dev', '.X-DEV', '.x'])
  else if (r.chance(0.2)) out += r.pick(MODIFIERS)
  if (r.chance(0.04)) out += r.pick(['+build.1', '+b', '+'])
  return out
}

function wildcard (r: Random): string {
  if (r.chance(0.2)) return r.pick(['*', 'x', 'X', 'v*', '*.*', 'x.x.x', 'V*', '*.x', '*-dev', '1.*-dev'])
  const parts = [numberPart(r)]
  const count = r.int(1, 3)
  while (parts.length < count) parts.push(numberPart(r))
  let tail = ''
  const stars = r.int(1, 2)
  for (let i = 0; i < stars; i++) tail += `.${r.pick(['*', 'x', 'X'])}`
  return r.pick(['', '', '', 'v', 'V']) + parts.join('.') + tail + (r.chance(0.05) ? '.1' : '')
}

function atom (r: Random): string {
  const kind = r.int(0, 99)
  let out: string
  if (kind < 35) out = r.pick(OPERATORS) + r.pick(['', '', ' ', '  ']) + version(r)
  else if (kind < 52) out = `^${version(r)}`
  else if (kind < 67) out = r.pick(['~', '~', '~', '~>', '~ ']) + version(r)
  else if (kind < 80) out = wildcard(r)
  else if (kind < 92) out = version(r, 3) + r.pick([' - ', ' - ', '  -  ', ' -', '- ', '-']) + version(r, 3)
  else out = r.pick(BRANCHES)
  if (r.chance(0.12)) out += `@${r.pick(FLAGS)}`
  if (r.chance(0.04)) out += r.pick([' as ', '  as ', ' AS ']) + version(r)
  return out
}

function generateConstraint (r: Random): string {
  const group = (): string => {
    const atoms = [atom(r)]
    const count = r.pick([1, 1, 1, 1, 2, 2, 3])
    while (atoms.length < count) atoms.push(r.pick(AND) + atom(r))
    return atoms.join('')
  }
  let out = group()
  const groups = r.pick([1, 1, 1, 1, 2, 2, 3])
  for (let i = 1; i < groups; i++) out += r.pick(OR) + group()
  if (r.chance(0.04)) {
    const at = r.int(0, out.length)
    out = out.slice(0, at) + r.pick(NOISE) + out.slice(at)
  }
  if (r.chance(0.03)) out = r.pick([' ', '\t', '\n', '|']) + out
  if (r.chance(0.03)) out += r.pick([' ', '\t', '\n', '|', ','])
  return out
}

function generateVersions (r: Random, count: number): string[] {
  const versions = new Set([...FIXED_VERSIONS, ...TABLE.flatMap((row) => [...row.yes, ...row.no])])
  while (versions.size < count) versions.add(version(r))
  return [...versions]
}

function generateConstraints (r: Random, count: number): string[] {
  const constraints = new Set([...TABLE.map((row) => row.constraint), ...INVALID])
  while (constraints.size < count) constraints.add(generateConstraint(r))
  return [...constraints]
}

const PHP_SCRIPT = `<?php
ini_set('display_errors', 'stderr');
require '${AUTOLOAD}';
use Composer\\Semver\\Constraint\\Constraint;
use Composer\\Semver\\Semver;
use Composer\\Semver\\VersionParser;
$input = json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
$parser = new VersionParser();
$normalized = [];
foreach ($input['versions'] as $version) {
  try { $normalized[] = $parser->normalize($version); } catch (UnexpectedValueException $e) { $normalized[] = null; }
}
$providers = array_map(fn ($n) => $n === null ? null : new Constraint('==', $n), $normalized);
$constraints = [];
foreach ($input['constraints'] as $pretty) {
  try { $parsed = $parser->parseConstraints($pretty); } catch (UnexpectedValueException $e) { $constraints[] = null; continue; }
  $matches = '';
  foreach ($providers as $provider) $matches .= $provider === null ? '-' : ($parsed->matches($provider) ? '1' : '0');
  $constraints[] = ['string' => (string) $parsed, 'matches' => $matches];
}
// Semver::satisfies() itself, on one pair per constraint.
$satisfies = [];
foreach ($input['sample'] as [$version, $pretty]) {
  try { $satisfies[] = Semver::satisfies($version, $pretty); } catch (UnexpectedValueException $e) { $satisfies[] = null; }
}
echo json_encode(['normalized' => $normalized, 'constraints' => $constraints, 'satisfies' => $satisfies],
  JSON_THROW_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE);
`

interface PhpResult {
  normalized: Array<string | null>
  constraints: Array<{ string: string, matches: string } | null>
  satisfies: Array<boolean | null>
}

function runPhp (t: { teardown: (fn: () => void) => void }, input: unknown): PhpResult {
  const dir = mkdtempSync(join(tmpdir(), 'packyard-constraint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const scriptPath = join(dir, 'constraints.php')
  const inputPath = join(dir, 'constraints.json')
  writeFileSync(scriptPath, PHP_SCRIPT)
  writeFileSync(inputPath, JSON.stringify(input))
  const res = spawnSync('php', [scriptPath, inputPath], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  if (res.status !== 0 || res.stderr !== '') throw new Error(`php failed (${res.status}): ${res.stderr}`)
  return JSON.parse(res.stdout) as PhpResult
}

function tryParse (input: string): Constraint | null {
  try {
    return parseConstraint(input)
  } catch {
    return null
  }
}

t.test('parseConstraint and satisfies match composer/semver', async (t) => {
  if (!requireTools(t, 'php', AUTOLOAD)) return
  const r = createRandom(20240917)
  const versions = generateVersions(r, 90)
  const constraints = generateConstraints(r, 1500)
  const sample = constraints.map((c, i): [string, string] => [versions[(i * 7) % versions.length] ?? '', c])
  const php = runPhp(t, { versions, constraints, sample })
  t.equal(php.constraints.length, constraints.length)

  const normalized = versions.map((v) => normalizeVersion(v))
  t.same(normalized, php.normalized, 'versions normalize alike')
  const mismatches: unknown[] = []
  let valid = 0
  let pairs = 0
  let satisfied = 0
  const parsed = constraints.map(tryParse)
  constraints.forEach((input, i) => {
    const expected = php.constraints[i]
    const ours = parsed[i] ?? null
    if ((expected === null) !== (ours === null)) {
      mismatches.push({ input, php: expected?.string ?? 'rejected', ours: ours === null ? 'rejected' : constraintToString(ours) })
      return
    }
    if (expected === null || expected === undefined || ours === null) return
    valid++
    if (constraintToString(ours) !== expected.string) mismatches.push({ input, php: expected.string, ours: constraintToString(ours) })
    normalized.forEach((version, j) => {
      if (version === null) return
      pairs++
      const want = expected.matches[j] === '1'
      if (want) satisfied++
      if (satisfies(version, ours) !== want) mismatches.push({ input, version: versions[j], php: want })
    })
  })
  sample.forEach(([version, input], i) => {
    const constraint = parsed[i] ?? null
    const normalizedVersion = normalizeVersion(version)
    const ours = constraint === null || normalizedVersion === null ? null : satisfies(normalizedVersion, constraint)
    if (ours !== php.satisfies[i]) mismatches.push({ satisfies: [version, input], php: php.satisfies[i], ours })
  })
  for (const row of TABLE) {
    const i = constraints.indexOf(row.constraint)
    const expected = php.constraints[i]
    t.equal(expected?.string, row.parsed, `composer parses ${row.constraint} as in the table`)
    for (const [list, want] of [[row.yes, '1'], [row.no, '0']] as const) {
      for (const version of list) {
        t.equal(expected?.matches[versions.indexOf(version)], want, `composer agrees on ${version} vs ${row.constraint}`)
      }
    }
  }
  for (const input of INVALID) t.equal(php.constraints[constraints.indexOf(input)], null, `composer rejects ${JSON.stringify(input)}`)

  t.comment(`${constraints.length} constraints (${valid} valid) x ${versions.length} versions: ${pairs} pairs, ${satisfied} satisfied`)
  t.same(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`)
  t.ok(valid >= 600 && constraints.length - valid >= 300, 'both valid and invalid constraints are exercised')
  t.ok(satisfied >= 5000 && pairs - satisfied >= 5000, 'both outcomes are exercised')
})
