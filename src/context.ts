import type { Config } from './config.js'
import { openDatabase } from './db/database.js'
import { createAccountsRepository } from './repositories/accounts.js'
import { createAccessKeysRepository } from './repositories/access-keys.js'
import { createPackagesRepository } from './repositories/packages.js'
import { createArchiveStore } from './repositories/archive-store.js'
import { createAccountService } from './services/accounts.js'
import { createAccessKeyService, createUsageTracker } from './services/access-keys.js'
import { createCatalogService } from './services/catalog.js'
import { createSessionsRepository } from './repositories/sessions.js'
import { createDownloadTokensRepository } from './repositories/download-tokens.js'
import { createReleasesRepository } from './repositories/releases.js'
import { createSessionService } from './services/sessions.js'
import { createDownloadsService } from './services/downloads.js'
import { loadKeyVault } from './services/key-vault.js'

/**
 * The domain half of the composition root: opens this instance's database and wires
 * repositories into services. buildApp adds HTTP on top; the CLI uses it directly.
 */
export function createContext (config: Config) {
  // Before the database opens, so an unreadable key file leaves nothing to close.
  const vault = loadKeyVault(config)
  const db = openDatabase(config.dbPath)
  const store = createArchiveStore(config.archiveDir)
  const repos = {
    accounts: createAccountsRepository(db),
    keys: createAccessKeysRepository(db),
    packages: createPackagesRepository(db),
    sessions: createSessionsRepository(db),
    downloadTokens: createDownloadTokensRepository(db),
    releases: createReleasesRepository(db)
  }
  const usage = createUsageTracker({ keys: repos.keys, flushMs: config.lastUsedFlushMs })
  const services = {
    accounts: createAccountService({ accounts: repos.accounts }),
    keys: createAccessKeyService({ keys: repos.keys, usage, vault }),
    catalog: createCatalogService({ db, packages: repos.packages, store }),
    sessions: createSessionService({ sessions: repos.sessions }),
    downloads: createDownloadsService({ db, accounts: repos.accounts, tokens: repos.downloadTokens, releases: repos.releases, store })
  }
  let closed = false
  return {
    config,
    db,
    store,
    repos,
    usage,
    ...services,
    close (): void {
      if (closed) return
      closed = true
      usage.close()
      db.close()
    }
  }
}

export type Context = ReturnType<typeof createContext>
