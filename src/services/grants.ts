import { errors } from '../errors.js'
import type { GrantRule } from '../domain/catalog.js'
import type { EditionGrant } from '../domain/releases.js'
import type { AccountService } from './accounts.js'
import type { CatalogService } from './catalog.js'
import type { DownloadsService } from './downloads.js'
import type { Transactional } from '../repositories/transaction.js'
import type { Emit } from './webhooks.js'
import { isUnrestricted, parseGrantRule, type GrantRuleInput } from './grant-rules.js'

export type GrantResult =
  | { username: string, package: string, granted: boolean, rule: GrantRule | null }
  | { username: string, vendor: string, granted: boolean, rule: GrantRule | null }
  | { username: string, edition: string, granted: boolean }

export interface AccountGrant { kind: 'package' | 'vendor', target: string, rule: GrantRule, createdAt: string }

/**
 * Grants name a package (`vendor/name`), every package of a vendor (`vendor/*`), or a release
 * edition. A package is looked up first; a name without a vendor/ that is no package can only
 * be an edition. Package and vendor grants may carry a licence rule (constraint, updates
 * until, minimum stability); a second grant of the same target replaces the rule.
 */
export function createGrantService (deps: { transaction: Transactional, accounts: AccountService, catalog: CatalogService, downloads: DownloadsService, emit: Emit }) {
  const { accounts, catalog, downloads } = deps

  // The grant.changed event commits with the grant itself.
  const change = deps.transaction((username: string, target: string, granted: boolean, input: GrantRuleInput | undefined): GrantResult => {
    const result = apply(username, target, granted, input)
    deps.emit('grant.changed', result)
    return result
  })

  const hasRule = (input: GrantRuleInput | undefined): boolean =>
    input !== undefined && !isUnrestricted(parseGrantRule(input))

  function apply (username: string, target: string, granted: boolean, input: GrantRuleInput | undefined): GrantResult {
    const account = accounts.get(username)
    if (target.endsWith('/*')) {
      const vendor = target.slice(0, -2)
      if (!granted) return { username: account.username, vendor: `${catalog.revokeVendor(account.id, vendor)}/*`, granted, rule: null }
      const g = catalog.grantVendor(account.id, vendor, input)
      return { username: account.username, vendor: `${g.vendor}/*`, granted, rule: g.rule }
    }
    if (!target.includes('/') && !catalog.exists(target)) {
      if (downloads.findEdition(target) === undefined) throw errors.notFound(`package or edition "${target}"`)
      if (granted && hasRule(input)) throw errors.badRequest('a release edition grant has no version constraint, updates-until or minimum stability: those limit package grants')
      const e = granted ? downloads.grantEdition(account.id, target) : downloads.revokeEdition(account.id, target)
      return { username: account.username, edition: e.name, granted }
    }
    if (!granted) return { username: account.username, package: catalog.revoke(account.id, target).name, granted, rule: null }
    const g = catalog.grant(account.id, target, input)
    return { username: account.username, package: g.package.name, granted, rule: g.rule }
  }

  return {
    /** Grants (or re-grants with a new rule) a package, `vendor/*` or edition. */
    grant: (username: string, target: string, rule?: GrantRuleInput): GrantResult => change(username, target, true, rule),
    revoke: (username: string, target: string): GrantResult => change(username, target, false, undefined),
    /** The package and `vendor/*` grants of an account, with their rules, and its release edition grants. */
    list (username: string): { username: string, grants: AccountGrant[], editions: EditionGrant[] } {
      const account = accounts.get(username)
      return { username: account.username, grants: catalog.grantsOf(account.id), editions: downloads.editionGrantsOf(account.id) }
    }
  }
}

export type GrantService = ReturnType<typeof createGrantService>
