// A faithful port of composer/semver 3.x constraint handling: VersionParser::parseConstraints()
// and the matching rules of Constraint, MultiConstraint and MatchAllConstraint as used by
// Semver::satisfies(). Licence-shaped grants (`^2.0`, `>=1.0 <3.0`) are evaluated with it, so a
// grant must mean exactly what it means to Composer. Every regex below mirrors the PHP source
// (/usr/share/php/Composer/Semver/VersionParser.php, composer/semver 3.3.2); the same PCRE-versus-JS
// adjustments as in version.ts apply (ASCII-only \s, `$` also before a final newline, `.` only
// excluding \n, possessive quantifiers dropped where nothing after them can start with a digit).

import { compareVersions, normalizeVersion, versionStability } from './version.js'

export type Operator = '==' | '!=' | '<' | '<=' | '>' | '>='

/** One node of a parsed constraint, shaped like composer/semver's constraint classes. */
export type ConstraintNode =
  | { readonly kind: 'any' } // MatchAllConstraint (`*`)
  | { readonly kind: 'compare', readonly operator: Operator, readonly version: string } // Constraint
  | { readonly kind: 'multi', readonly conjunctive: boolean, readonly constraints: readonly ConstraintNode[] }

/** A parsed constraint. Store `pretty` (what the user typed); parse it again when needed. */
export interface Constraint {
  readonly pretty: string
  readonly root: ConstraintNode
}

export type Stability = 'dev' | 'alpha' | 'beta' | 'RC' | 'stable'

const STABILITY_ORDER: readonly Stability[] = ['dev', 'alpha', 'beta', 'RC', 'stable']

// --- regexes, mirrored from VersionParser ----------------------------------------------------

const WS = '\\t\\n\\v\\f\\r '
const END = '(?=\\n?$)'
const MODIFIER = '[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\\d+)*)?)?([.-]?dev)?'
// Groups: 1-4 numbers, 5 modifier word, 6 its number run, 7 dev marker, 8 `.x-dev` wildcard.
const VERSION = `v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:\\.(\\d+))?(?:${MODIFIER}|\\.([xX*][.-]?dev))(?:\\+[^${WS}]+)?`

const OR_SPLIT = new RegExp(`[${WS}]*\\|\\|?[${WS}]*`)
const AND_SPLIT = /(?<!^|as|[=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|\n?$)/
const ALIAS = new RegExp(`^([^,${WS}]+) +as +([^,${WS}]+)${END}`)
const STABILITY_FLAG = new RegExp(`^([^,${WS}]*?)@(stable|RC|beta|alpha|dev)${END}`, 'i')
const REFERENCE = new RegExp(`^(dev-[^,${WS}@]+?|[^,${WS}@]+?\\.x-dev)#[^\\n]+${END}`, 'i')
const MATCH_ALL = new RegExp(`^(v)?[xX*](\\.[xX*])*${END}`, 'i')
const TILDE = new RegExp(`^~>?${VERSION}${END}`, 'i')
const CARET = new RegExp(`^\\^${VERSION}${END}`, 'i')
const X_RANGE = new RegExp(`^v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:\\.[xX*])+${END}`) // case-sensitive in PHP too
// Groups: 1 from (2-9 its VERSION groups), 10 to (11-18 its VERSION groups).
const HYPHEN = new RegExp(`^(${VERSION}) +- +(${VERSION})${END}`, 'i')
const COMPARATOR = new RegExp(`^(<>|!=|>=?|<=?|==?)?[${WS}]*([^\\n]*)`)
const BRANCH_CHARS = new RegExp(`^[0-9a-zA-Z./-]+${END}`)
// Applied to a lowercased string without the `i` flag, so `RC` never matches: kept as in PHP.
const HAS_MODIFIER = new RegExp(`-${MODIFIER}${END}`)

const OPERATORS: Readonly<Record<string, Operator>> = {
  '=': '==', '==': '==', '<': '<', '<=': '<=', '>': '>', '>=': '>=', '<>': '!=', '!=': '!='
}

class ConstraintError extends Error {}

// --- parsing -------------------------------------------------------------------------------

/** Port of `VersionParser::parseConstraints()`; throws where Composer throws. */
export function parseConstraint (input: string): Constraint {
  try {
    return { pretty: input, root: parseConstraints(input) }
  } catch (err) {
    if (!(err instanceof ConstraintError)) throw err
    throw new Error(`invalid version constraint ${JSON.stringify(input)}: ${err.message}`)
  }
}

/** True when Composer would accept the constraint. */
export function isValidConstraint (input: string): boolean {
  try {
    parseConstraints(input)
    return true
  } catch (err) {
    if (err instanceof ConstraintError) return false
    throw err
  }
}

function parseConstraints (input: string): ConstraintNode {
  const orGroups = phpTrim(input).split(OR_SPLIT).map((group): ConstraintNode => {
    const objects = group.split(AND_SPLIT).flatMap(parseSingle)
    return objects.length === 1 ? objects[0] as ConstraintNode : multi(objects, true)
  })
  return createDisjunction(orGroups)
}

function parseSingle (input: string): ConstraintNode[] {
  let constraint = input
  const alias = ALIAS.exec(constraint)
  if (alias) constraint = alias[1] ?? ''

  let stabilityModifier = ''
  const flag = STABILITY_FLAG.exec(constraint)
  if (flag) {
    constraint = flag[1] || '*'
    // Case-sensitive in PHP: `@STABLE` is kept as a modifier.
    if (flag[2] !== 'stable') stabilityModifier = flag[2] ?? ''
  }

  const reference = REFERENCE.exec(constraint)
  if (reference) constraint = reference[1] ?? ''

  const all = MATCH_ALL.exec(constraint)
  if (all) return all[1] || all[2] ? [compare('>=', '0.0.0.0-dev')] : [{ kind: 'any' }]

  const tilde = TILDE.exec(constraint)
  if (tilde) {
    if (constraint.startsWith('~>')) {
      throw new ConstraintError(`could not parse ${JSON.stringify(constraint)}: invalid operator "~>", you probably meant "~"`)
    }
    let position = tilde[4] ? 4 : tilde[3] ? 3 : tilde[2] ? 2 : 1
    // `2.x-dev` and `3.0.x-dev` shift the position although no number matched there.
    if (tilde[8]) position++
    const suffix = tilde[5] || tilde[7] || tilde[8] ? '' : '-dev'
    const low = normalizeOrThrow((constraint + suffix).slice(1))
    const high = manipulateVersionString(tilde, Math.max(1, position - 1), 1)
    return [compare('>=', low), compare('<', `${high}-dev`)]
  }

  const caret = CARET.exec(constraint)
  if (caret) {
    const position = caret[1] !== '0' || !caret[2] ? 1 : caret[2] !== '0' || !caret[3] ? 2 : 3
    const suffix = caret[5] || caret[7] || caret[8] ? '' : '-dev'
    const low = normalizeOrThrow((constraint + suffix).slice(1))
    const high = manipulateVersionString(caret, position, 1)
    return [compare('>=', low), compare('<', `${high}-dev`)]
  }

  const xRange = X_RANGE.exec(constraint)
  if (xRange) {
    const position = xRange[3] ? 3 : xRange[2] ? 2 : 1
    const low = `${manipulateVersionString(xRange, position)}-dev`
    const high = `${manipulateVersionString(xRange, position, 1)}-dev`
    if (low === '0.0.0.0-dev') return [compare('<', high)]
    return [compare('>=', low), compare('<', high)]
  }

  const hyphen = HYPHEN.exec(constraint)
  if (hyphen) {
    const m = (i: number): string => hyphen[i] ?? ''
    const lowSuffix = m(6) || m(8) || m(9) ? '' : '-dev'
    const lower = compare('>=', normalizeOrThrow(m(1)) + lowSuffix)
    // PHP's custom $empty() here treats '0' as present, which is JS string truthiness.
    if ((m(12) && m(13)) || m(15) || m(17) || m(18)) {
      return [lower, compare('<=', normalizeOrThrow(m(10)))]
    }
    normalizeOrThrow(m(10)) // validates the upper version
    const high = manipulateVersionString(['', m(11), m(12), m(13), m(14)], m(12) ? 2 : 1, 1)
    return [lower, compare('<', `${high}-dev`)]
  }

  return [parseComparator(constraint, stabilityModifier)]
}

function parseComparator (constraint: string, stabilityModifier: string): ConstraintNode {
  // Always matches: the operator is optional and the rest runs up to the first newline.
  const [, rawOperator = '', target = ''] = COMPARATOR.exec(constraint) ?? []
  let version = normalizeVersion(target)
  // Recover `foobar-dev` as `dev-foobar`, but only for plain branch-like names.
  if (version === null && target.endsWith('-dev') && BRANCH_CHARS.test(target)) {
    version = normalizeVersion(`dev-${target.slice(0, -4)}`)
  }
  if (version === null) {
    throw new ConstraintError(`could not parse ${JSON.stringify(constraint)}: invalid version string ${JSON.stringify(target)}`)
  }
  const operator = rawOperator || '='
  if (operator !== '==' && operator !== '=' && stabilityModifier !== '' && versionStability(version) === 'stable') {
    version += `-${stabilityModifier}`
  } else if (operator === '<' || operator === '>=') {
    if (!HAS_MODIFIER.test(asciiLower(target)) && !target.startsWith('dev-')) version += '-dev'
  }
  return compare(operator, version)
}

function normalizeOrThrow (version: string): string {
  const normalized = normalizeVersion(version)
  if (normalized === null) throw new ConstraintError(`invalid version string ${JSON.stringify(version)}`)
  return normalized
}

function compare (operator: string, version: string): ConstraintNode {
  const op = OPERATORS[operator]
  if (op === undefined) throw new ConstraintError(`invalid operator ${JSON.stringify(operator)}`)
  return { kind: 'compare', operator: op, version }
}

function multi (constraints: ConstraintNode[], conjunctive: boolean): ConstraintNode {
  return { kind: 'multi', conjunctive, constraints }
}

/**
 * Port of `manipulateVersionString()` for the increments parseConstraint uses (0 or +1):
 * numbers after `position` become 0, the one at `position` is incremented PHP-style.
 */
function manipulateVersionString (matches: ArrayLike<string | undefined>, position: number, increment = 0): string {
  const parts: string[] = []
  for (let i = 1; i <= 4; i++) {
    const part = matches[i] ?? ''
    if (i > position) parts.push('0')
    else if (i === position && increment) parts.push(phpIncrement(part))
    else parts.push(part)
  }
  return parts.join('.')
}

// PHP's `$numericString += 1`: an int unless it overflows PHP_INT_MAX, then a float printed
// with precision=14 (`1.0E+20`). Leading zeros are lost either way.
const PHP_INT_MAX = 2n ** 63n - 1n

function phpIncrement (digits: string): string {
  if (digits === '') return '1'
  const value = BigInt(digits) + 1n
  if (value <= PHP_INT_MAX) return value.toString()
  const [mantissa = '', exponent = ''] = (Number(digits) + 1).toPrecision(14).split('e')
  const [whole, fraction = ''] = mantissa.split('.')
  const trimmed = fraction.replace(/0+$/, '')
  return `${whole}.${trimmed || '0'}E${exponent.startsWith('-') ? '' : '+'}${exponent.replace(/^\+/, '')}`
}

/** `MultiConstraint::create($orGroups, false)`, including its merge of contiguous ranges. */
function createDisjunction (groups: ConstraintNode[]): ConstraintNode {
  if (groups.length === 1) return groups[0] as ConstraintNode
  // [>= 1 < 2] || [>= 2 < 3] => [>= 1 < 3], decided on the string forms exactly as in PHP.
  let left = groups[0] as ConstraintNode
  const merged: ConstraintNode[] = []
  let optimized = false
  for (const right of groups.slice(1)) {
    const joined = mergeRanges(left, right)
    if (joined) {
      optimized = true
      left = joined
    } else {
      merged.push(left)
      left = right
    }
  }
  if (!optimized) return multi(groups, false)
  merged.push(left)
  return merged.length === 1 ? merged[0] as ConstraintNode : multi(merged, false)
}

function mergeRanges (left: ConstraintNode, right: ConstraintNode): ConstraintNode | null {
  if (left.kind !== 'multi' || !left.conjunctive || left.constraints.length !== 2) return null
  if (right.kind !== 'multi' || !right.conjunctive || right.constraints.length !== 2) return null
  const [l0, l1] = left.constraints as [ConstraintNode, ConstraintNode]
  const [r0, r1] = right.constraints as [ConstraintNode, ConstraintNode]
  const left0 = constraintToString(l0)
  const left1 = constraintToString(l1)
  const right0 = constraintToString(r0)
  const right1 = constraintToString(r1)
  if (!left0.startsWith('>=') || !left1.startsWith('<') || !right0.startsWith('>=') || !right1.startsWith('<')) return null
  if (left1.slice(2) !== right0.slice(3)) return null
  return multi([l0, r1], true)
}

/** Composer's `__toString()` of the parsed form, e.g. `[>= 2.0.0.0-dev < 3.0.0.0-dev]`. */
export function constraintToString (constraint: Constraint | ConstraintNode): string {
  const node = 'root' in constraint ? constraint.root : constraint
  switch (node.kind) {
    case 'any': return '*'
    case 'compare': return `${node.operator} ${node.version}`
    case 'multi': return `[${node.constraints.map(constraintToString).join(node.conjunctive ? ' ' : ' || ')}]`
  }
}

// --- matching ------------------------------------------------------------------------------

/**
 * Whether a normalized version (a package's `version_normalized`) satisfies the constraint:
 * `$constraint->matches(new Constraint('==', $versionNormalized))`, which is what
 * `Semver::satisfies()` does after normalizing its version argument.
 */
export function satisfies (versionNormalized: string, constraint: Constraint | ConstraintNode): boolean {
  const node = 'root' in constraint ? constraint.root : constraint
  return matches(node, versionNormalized)
}

function matches (node: ConstraintNode, version: string): boolean {
  switch (node.kind) {
    case 'any': return true
    case 'multi': return node.conjunctive
      ? node.constraints.every((c) => matches(c, version))
      : node.constraints.some((c) => matches(c, version))
    case 'compare': return versionCompare(version, node.version, node.operator)
  }
}

// `Constraint::versionCompare($a, $b, $op, false)`: `dev-` branches only equal themselves.
// Against an `==` provider, matchSpecific() reduces to this call; its extra check for strict
// operators (`!(version_compare($b, $a, '=='))`) cannot fire because version_compare is
// antisymmetric.
function versionCompare (a: string, b: string, operator: Operator): boolean {
  const aIsBranch = a.startsWith('dev-')
  const bIsBranch = b.startsWith('dev-')
  if (operator === '!=' && (aIsBranch || bIsBranch)) return a !== b
  if (aIsBranch && bIsBranch) return operator === '==' && a === b
  if (aIsBranch || bIsBranch) return false
  const result = compareVersions(a, b)
  switch (operator) {
    case '==': return result === 0
    case '!=': return result !== 0
    case '<': return result < 0
    case '<=': return result <= 0
    case '>': return result > 0
    case '>=': return result >= 0
  }
}

// --- stability -----------------------------------------------------------------------------

/** `stable`, `RC`, `beta`, `alpha` or `dev` in any case (like Composer's minimum-stability); else null. */
export function parseStabilityName (input: string): Stability | null {
  const lower = asciiLower(input.trim())
  if (lower === 'rc') return 'RC'
  return STABILITY_ORDER.find((name) => name === lower) ?? null
}

/** Whether a version (pretty or normalized) is at least as stable as `minimum`. */
export function stabilityAllowed (version: string, minimum: Stability): boolean {
  return STABILITY_ORDER.indexOf(versionStability(version)) >= STABILITY_ORDER.indexOf(minimum)
}

// PHP's trim() strips only these; JS trim() also strips Unicode spaces such as U+00A0.
function phpTrim (s: string): string {
  return s.replace(/^[ \t\n\r\0\v]+|[ \t\n\r\0\v]+$/g, '')
}

// PHP 8's strtolower() is ASCII-only.
function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
