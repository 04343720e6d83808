import { errors } from '../errors.js'
import type { AccountService } from './accounts.js'
import type { CatalogService } from './catalog.js'
import type { DownloadsService } from './downloads.js'
import type { Transactional } from '../repositories/transaction.js'
import type { Emit } from './webhooks.js'

export type GrantResult =
  | { username: string, package: string, granted: boolean }
  | { username: string, edition: string, granted: boolean }

/**
 * Grants name either a package or a release edition. A package is looked up first; a name
 * without a vendor/ that is no package can only be an edition.
 */
export function createGrantService (deps: { transaction: Transactional, accounts: AccountService, catalog: CatalogService, downloads: DownloadsService, emit: Emit }) {
  const { accounts, catalog, downloads } = deps

  // The grant.changed event commits with the grant itself.
  const change = deps.transaction((username: string, target: string, granted: boolean): GrantResult => {
    const result = apply(username, target, granted)
    deps.emit('grant.changed', result)
    return result
  })

  function apply (username: string, target: string, granted: boolean): GrantResult {
    const account = accounts.get(username)
    if (!target.includes('/') && !catalog.exists(target)) {
      if (downloads.findEdition(target) === undefined) throw errors.notFound(`package or edition "${target}"`)
      const e = granted ? downloads.grantEdition(account.id, target) : downloads.revokeEdition(account.id, target)
      return { username: account.username, edition: e.name, granted }
    }
    const p = granted ? catalog.grant(account.id, target) : catalog.revoke(account.id, target)
    return { username: account.username, package: p.name, granted }
  }

  return {
    grant: (username: string, target: string): GrantResult => change(username, target, true),
    revoke: (username: string, target: string): GrantResult => change(username, target, false)
  }
}

export type GrantService = ReturnType<typeof createGrantService>
