// A faithful port of composer/semver 3.x VersionParser::normalize/parseStability and of
// PHP's version_compare(). Composer trusts `version_normalized` as sent, so "close enough"
// is not enough: every regex and quirk below mirrors the PHP source (docs/composer-protocol.md §3).

type Stability = 'dev' | 'alpha' | 'beta' | 'RC' | 'stable'

// PCRE's \s (PHP, C-locale tables) is narrower than JS \s, which also matches Unicode spaces.
const WS = '\\t\\n\\v\\f\\r '
// PCRE's $ (no D flag) also matches before a final newline; JS $ only at the very end.
const END = '(?=\\n?$)'
// PHP's possessive `*+` on the number run is dropped: what follows can never start with a
// digit, so backtracking into the run cannot change any match.
const MODIFIER = '[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\\d+)*)?)?([.-]?dev)?'

const ALIAS = new RegExp(`^([^,${WS}]+) +as +([^,${WS}]+)${END}`)
const STABILITY_FLAG = new RegExp(`@(?:stable|RC|beta|alpha|dev)${END}`, 'i')
const BRANCH_PREFIX = /^dev-/i
const BUILD_METADATA = new RegExp(`^([^,${WS}+]+)\\+[^${WS}]+${END}`)
const CLASSIC = new RegExp(`^v?(\\d{1,5})(\\.\\d+)?(\\.\\d+)?(\\.\\d+)?${MODIFIER}${END}`, 'i')
const DATE = new RegExp(`^v?(\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3})?)${MODIFIER}${END}`, 'i')
// PCRE's `.` excludes only \n (JS's also excludes \r, \u2028, \u2029); unanchored on purpose.
const DEV_SUFFIX = new RegExp(`([^\\n]*?)[.-]?dev${END}`, 'i')
const NUMERIC_BRANCH = new RegExp(`^v?(\\d+)(\\.(?:\\d+|[xX*]))?(\\.(?:\\d+|[xX*]))?(\\.(?:\\d+|[xX*]))?${END}`, 'i')
const STABILITY_SUFFIX = new RegExp(`${MODIFIER}(?:\\+[^\\n]*)?${END}`, 'i')
const COMMENT_SUFFIX = new RegExp(`#[^\\n]+${END}`)

// Composer 1 accepted these bare names; the check is case-sensitive in PHP too.
const BARE_BRANCHES = new Set(['master', 'trunk', 'default'])

/** What `VersionParser::normalize()` returns, or null where it throws. */
export function normalizeVersion (input: string): string | null {
  let version = phpTrim(input)
  const alias = ALIAS.exec(version)
  if (alias?.[1] !== undefined) version = alias[1]
  // PHP cuts match length from the end of the string, not at the match position.
  const flag = STABILITY_FLAG.exec(version)
  if (flag) version = version.slice(0, version.length - flag[0].length)
  if (BARE_BRANCHES.has(version)) version = `dev-${version}`
  if (BRANCH_PREFIX.test(version)) return `dev-${version.slice(4)}`
  const build = BUILD_METADATA.exec(version)
  if (build?.[1] !== undefined) version = build[1]
  return normalizeNumbered(version) ?? normalizeDevBranch(version)
}

function normalizeNumbered (version: string): string | undefined {
  const classic = CLASSIC.exec(version)
  if (classic) {
    const [, major = '', minor, patch, build] = classic
    const base = major + (minor || '.0') + (patch || '.0') + (build || '.0')
    return appendModifier(base, classic.slice(5))
  }
  const date = DATE.exec(version)
  if (date) return appendModifier((date[1] ?? '').replace(/\D/g, '.'), date.slice(2))
  return undefined
}

function appendModifier (base: string, [word, run, dev]: Array<string | undefined>): string {
  let version = base
  if (word) {
    // Case-sensitive in PHP: `STABLE` survives as `-stable`, and `stable` also swallows `-dev`.
    if (word === 'stable') return version
    version += `-${expandStability(word)}${(run ?? '').replace(/^[.-]+/, '')}`
  }
  if (dev) version += '-dev'
  return version
}

function expandStability (word: string): string {
  const lower = asciiLower(word)
  switch (lower) {
    case 'a': return 'alpha'
    case 'b': return 'beta'
    case 'p':
    case 'pl': return 'patch'
    case 'rc': return 'RC'
    default: return lower
  }
}

function normalizeDevBranch (version: string): string | null {
  const match = DEV_SUFFIX.exec(version)
  if (!match) return null
  const normalized = normalizeBranch(match[1] ?? '')
  // A `-dev` suffix is only valid on a numeric branch; named branches need the `dev-` prefix.
  return normalized.includes('dev-') ? null : normalized
}

function normalizeBranch (raw: string): string {
  const name = phpTrim(raw)
  const match = NUMERIC_BRANCH.exec(name)
  if (!match) return `dev-${name}`
  let version = ''
  for (let i = 1; i < 5; i++) {
    const part = match[i]
    version += part === undefined ? '.x' : part.replace(/[*X]/g, 'x')
  }
  return `${version.replace(/x/g, '9999999')}-dev`
}

/** Port of `VersionParser::parseStability()`; accepts pretty or normalized versions. */
export function versionStability (input: string): Stability {
  const version = input.replace(COMMENT_SUFFIX, '')
  if (version.startsWith('dev-') || version.endsWith('-dev')) return 'dev'
  const match = STABILITY_SUFFIX.exec(asciiLower(version))
  if (match?.[3]) return 'dev'
  switch (match?.[1]) {
    case 'beta':
    case 'b': return 'beta'
    case 'alpha':
    case 'a': return 'alpha'
    case 'rc': return 'RC'
    default: return 'stable'
  }
}

/** Dev versions are served from the `~dev.json` metadata file. */
export function isDevVersion (version: string): boolean {
  return versionStability(version) === 'dev'
}

/** PHP's `version_compare($a, $b)`, which Composer applies to normalized versions. */
export function compareVersions (a: string, b: string): -1 | 0 | 1 {
  return phpVersionCompare(cString(a), cString(b))
}

/** A new array, newest first; equal versions keep their input order. */
export function sortVersionsDescending<T> (items: T[], key: (item: T) => string): T[] {
  return items
    .map((item) => ({ item, version: key(item) }))
    .sort((x, y) => compareVersions(y.version, x.version))
    .map(({ item }) => item)
}

// --- php-src ext/standard/versioning.c ---------------------------------------------------

// Ordered as in php-src: the first prefix that matches wins, so `patch` ranks as `p`.
const SPECIAL_FORMS: ReadonlyArray<readonly [string, number]> = [
  ['dev', 0], ['alpha', 1], ['a', 1], ['beta', 2], ['b', 2],
  ['RC', 3], ['rc', 3], ['#', 4], ['pl', 5], ['p', 5]
]
// C's strtol() saturates at LONG_MAX (64-bit on Linux), so longer numbers compare equal.
const LONG_MAX = 2n ** 63n - 1n

function phpVersionCompare (v1: string, v2: string): -1 | 0 | 1 {
  if (v1 === '' || v2 === '') return v1 === v2 ? 0 : v1 === '' ? -1 : 1
  const s1 = v1.startsWith('#') ? v1 : canonicalize(v1)
  const s2 = v2.startsWith('#') ? v2 : canonicalize(v2)
  let p1 = 0
  let p2 = 0
  let n1 = 0 // -1 stands for C's NULL from strchr()
  let n2 = 0
  while (p1 < s1.length && p2 < s2.length && n1 !== -1 && n2 !== -1) {
    n1 = s1.indexOf('.', p1)
    n2 = s2.indexOf('.', p2)
    const compare = comparePart(part(s1, p1, n1), part(s2, p2, n2))
    if (compare !== 0) return compare
    if (n1 !== -1) p1 = n1 + 1
    if (n2 !== -1) p2 = n2 + 1
  }
  if (n1 !== -1) return isDigit(s1[p1]) ? 1 : phpVersionCompare(s1.slice(p1), '#N#')
  if (n2 !== -1) return isDigit(s2[p2]) ? -1 : phpVersionCompare('#N#', s2.slice(p2))
  return 0
}

function part (s: string, start: number, dot: number): string {
  return dot === -1 ? s.slice(start) : s.slice(start, dot)
}

function comparePart (a: string, b: string): -1 | 0 | 1 {
  const digitA = isDigit(a[0])
  const digitB = isDigit(b[0])
  if (digitA && digitB) return sign(strtol(a) - strtol(b))
  if (!digitA && !digitB) return compareSpecialForms(a, b)
  return digitA ? compareSpecialForms('#N#', b) : compareSpecialForms(a, '#N#')
}

function compareSpecialForms (a: string, b: string): -1 | 0 | 1 {
  return sign(specialRank(a) - specialRank(b))
}

function specialRank (form: string): number {
  const found = SPECIAL_FORMS.find(([name]) => form.startsWith(name))
  return found === undefined ? -1 : found[1]
}

// Mirrors php_canonicalize_version(): `-_+` and other punctuation become one `.`, and a `.`
// goes between digits and non-digits. The first character is copied as is.
function canonicalize (version: string): string {
  let out = version.slice(0, 1)
  let previous = out
  for (const ch of version.slice(1).split('')) {
    const lastOut = out.slice(-1)
    const dot = lastOut === '.' ? '' : '.'
    if (ch === '-' || ch === '_' || ch === '+') {
      out += dot
    } else if ((isNonDigit(previous) && isDigit(ch)) || (isDigit(previous) && isNonDigit(ch))) {
      out += dot + ch
    } else if (!/^[0-9A-Za-z]$/.test(ch)) {
      out += dot
    } else {
      out += ch
    }
    previous = ch
  }
  return out
}

function strtol (digits: string): bigint {
  const value = BigInt(/^\d+/.exec(digits)?.[0] ?? '0')
  return value > LONG_MAX ? LONG_MAX : value
}

function isDigit (ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9'
}

function isNonDigit (ch: string): boolean {
  return !isDigit(ch) && ch !== '.'
}

function sign (n: number | bigint): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0
}

// PHP hands version_compare() a C string, so anything after a NUL byte is ignored.
function cString (s: string): string {
  const nul = s.indexOf('\0')
  return nul === -1 ? s : s.slice(0, nul)
}

// PHP's trim() strips only these; JS trim() also strips Unicode spaces such as U+00A0.
function phpTrim (s: string): string {
  return s.replace(/^[ \t\n\r\0\v]+|[ \t\n\r\0\v]+$/g, '')
}

// PHP 8's strtolower() is ASCII-only; JS toLowerCase() also folds non-ASCII letters.
function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
