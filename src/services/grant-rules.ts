import { parseConstraint, parseStabilityName, satisfies, stabilityAllowed, type Constraint } from '../composer/constraint.js'
import type { Entitlement, GrantRule } from '../domain/catalog.js'
import { errors } from '../errors.js'

/** What a grant's limits are checked against: the server's publish time, never composer.json's `time`. */
export interface RuledVersion { version: string, versionNormalized: string, releasedAt: string }

export const UNRESTRICTED: GrantRule = Object.freeze({ constraint: null, updatesUntil: null, minimumStability: null })

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/

function isRealDay (year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/**
 * An `updatesUntil` as the ISO instant (UTC) it ends at: `YYYY-MM-DD` is through the end of
 * that day UTC; a date-time needs its offset (`Z` or `+02:00`). Impossible dates are refused.
 */
export function parseUpdatesUntil (input: string): string {
  const expected = 'use YYYY-MM-DD (through the end of that day, UTC) or an ISO-8601 date-time with an offset, e.g. 2026-03-31T12:00:00Z'
  const day = DAY.exec(input)
  if (day !== null) {
    if (!isRealDay(Number(day[1]), Number(day[2]), Number(day[3]))) throw errors.badRequest(`invalid updatesUntil "${input}": no such date; ${expected}`)
    return `${input}T23:59:59.999Z`
  }
  const dt = DATE_TIME.exec(input)
  if (dt === null) throw errors.badRequest(`invalid updatesUntil "${input}": ${expected}`)
  const [hour, minute, second] = [Number(dt[4]), Number(dt[5]), Number(dt[6] ?? 0)]
  if (!isRealDay(Number(dt[1]), Number(dt[2]), Number(dt[3])) || hour > 23 || minute > 59 || second > 59) {
    throw errors.badRequest(`invalid updatesUntil "${input}": no such date or time; ${expected}`)
  }
  const ms = Date.parse(input.replace(' ', 'T'))
  if (!Number.isFinite(ms)) throw errors.badRequest(`invalid updatesUntil "${input}": ${expected}`)
  return new Date(ms).toISOString()
}

/** A grant's limits as a person gives them (CLI options, API body). */
export interface GrantRuleInput { constraint?: string | null | undefined, updatesUntil?: string | null | undefined, minimumStability?: string | null | undefined }

/** Validates and normalizes the parts of a grant given by a person; absent or empty parts are no limit. */
export function parseGrantRule (input: GrantRuleInput = {}): GrantRule {
  const given = (s: string | null | undefined): string | null => s === undefined || s === null || s.trim() === '' ? null : s.trim()
  const constraint = given(input.constraint)
  if (constraint !== null) {
    try {
      parseConstraint(constraint)
    } catch (err) {
      throw errors.badRequest(`${(err as Error).message}; use a Composer constraint such as ^2.0 or >=1.0 <3.0`)
    }
  }
  const until = given(input.updatesUntil)
  const stabilityText = given(input.minimumStability)
  const minimumStability = stabilityText === null ? null : parseStabilityName(stabilityText)
  if (stabilityText !== null && minimumStability === null) {
    throw errors.badRequest(`invalid minimum stability "${stabilityText}": use stable, RC, beta, alpha or dev`)
  }
  return { constraint, updatesUntil: until === null ? null : parseUpdatesUntil(until), minimumStability }
}

export function isUnrestricted (rule: GrantRule): boolean {
  return rule.constraint === null && rule.updatesUntil === null && rule.minimumStability === null
}

/** The rule an entitlement applies to versions, or null for every version (public, or a grant without limits). */
export function limitingRuleOf (e: Entitlement): GrantRule | null {
  return e.via === 'public' || isUnrestricted(e.rule) ? null : e.rule
}

/** The cache key of a rule: accounts whose rules have the same key see the same documents. */
export function ruleKey (rule: GrantRule): string {
  return `${rule.constraint ?? ''}|${rule.updatesUntil ?? ''}|${rule.minimumStability ?? ''}`
}

/** The rule as a test of one version. */
export function compileRule (rule: GrantRule): (v: RuledVersion) => boolean {
  const constraint: Constraint | null = rule.constraint === null ? null : parseConstraint(rule.constraint)
  const until = rule.updatesUntil === null ? null : Date.parse(rule.updatesUntil)
  const stability = rule.minimumStability
  return (v) => (constraint === null || satisfies(v.versionNormalized, constraint)) &&
    (until === null || Date.parse(v.releasedAt) <= until) &&
    (stability === null || stabilityAllowed(v.version, stability))
}

/** `2026-03-31` for the end of a day, else the instant. */
export function describeUntil (updatesUntil: string): string {
  return updatesUntil.endsWith('T23:59:59.999Z') ? updatesUntil.slice(0, 10) : updatesUntil
}

/** For people: `versions ^1.0, updates until 2026-03-31, stable or better`. */
export function describeRule (rule: GrantRule): string {
  const parts: string[] = []
  if (rule.constraint !== null) parts.push(`versions ${rule.constraint}`)
  if (rule.updatesUntil !== null) parts.push(`updates until ${describeUntil(rule.updatesUntil)}`)
  if (rule.minimumStability !== null) parts.push(rule.minimumStability === 'stable' ? 'stable versions only' : `${rule.minimumStability} or more stable`)
  return parts.length === 0 ? 'all versions' : parts.join(', ')
}
