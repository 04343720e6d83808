import type { Config } from './config.js'
import { openDatabase } from './db/database.js'
import { createAccountsRepository } from './repositories/accounts.js'
import { createAccessKeysRepository } from './repositories/access-keys.js'
import { createPackagesRepository } from './repositories/packages.js'
import { createArchiveStore } from './repositories/archive-store.js'
import { createBackupsRepository } from './repositories/backups.js'
import { createHealthRepository } from './repositories/health.js'
import { createTransactional } from './repositories/transaction.js'
import { createChangeCounters } from './repositories/changes.js'
import { createAccountService } from './services/accounts.js'
import { createAccessKeyService, createUsageTracker } from './services/access-keys.js'
import { createBackupService } from './services/backup.js'
import { createCatalogService } from './services/catalog.js'
import { createGrantService } from './services/grants.js'
import { createHealthService } from './services/health.js'
import { createSessionsRepository } from './repositories/sessions.js'
import { createDownloadTokensRepository } from './repositories/download-tokens.js'
import { createReleasesRepository } from './repositories/releases.js'
import { createSessionService } from './services/sessions.js'
import { createDownloadsService } from './services/downloads.js'
import { loadKeyVault } from './services/key-vault.js'
import { createWebhooksRepository } from './repositories/webhooks.js'
import { createWebhookService } from './services/webhooks.js'
import { createApiTokensRepository } from './repositories/api-tokens.js'
import { createApiTokenService } from './services/api-tokens.js'
import { createMirrorRepository } from './repositories/mirror.js'
import { createMirrorService } from './services/mirror.js'
import { createAdvisoriesRepository } from './repositories/advisories.js'
import { createAdvisoryService } from './services/advisories.js'

/**
 * The domain half of the composition root: opens this instance's database and wires
 * repositories into services. buildApp adds HTTP on top; the CLI uses it directly.
 * Only the services leave this function: the database and repositories stay inside.
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
    releases: createReleasesRepository(db),
    backups: createBackupsRepository(db),
    health: createHealthRepository(db)
  }
  const usage = createUsageTracker({ keys: repos.keys, flushMs: config.lastUsedFlushMs })
  const transaction = createTransactional(db)
  // Webhook events are queued in the outbox by the services, inside the transaction of each change.
  const webhooks = createWebhookService({ webhooks: createWebhooksRepository(db), keyFile: config.webhookKeyFile, allowPrivate: config.webhookAllowPrivate })
  const emit = webhooks.emit
  const changes = createChangeCounters(db)
  const accounts = createAccountService({ transaction, accounts: repos.accounts, emit, changes })
  // Mirrored upstreams (repo.magento.com, packagist.org) answer through the catalog for names no local package has.
  const mirror = createMirrorService({
    mirror: createMirrorRepository(db),
    store,
    changes,
    transaction,
    accounts,
    auth: { json: config.upstreamAuth, file: config.upstreamAuthFile },
    timeoutMs: config.upstreamTimeoutMs,
    maxAgeSeconds: config.mirrorMaxAgeSeconds
  })
  const catalog = createCatalogService({ transaction, packages: repos.packages, store, changes, emit, mirror })
  const downloads = createDownloadsService({ transaction, accounts: repos.accounts, tokens: repos.downloadTokens, releases: repos.releases, store })
  const services = {
    accounts,
    keys: createAccessKeyService({ keys: repos.keys, usage, changes, vault, transaction, accounts: repos.accounts, emit }),
    catalog,
    mirror,
    sessions: createSessionService({ sessions: repos.sessions }),
    downloads,
    grants: createGrantService({ transaction, accounts, catalog, downloads, emit }),
    health: createHealthService({ health: repos.health, upstreams: mirror.health }),
    backups: createBackupService({ backups: repos.backups, store, dataDir: config.dataDir }),
    apiTokens: createApiTokenService({ tokens: createApiTokensRepository(db) }),
    webhooks,
    advisories: createAdvisoryService({ advisories: createAdvisoriesRepository(db), catalog, mirror })
  }
  let closed = false
  return {
    config,
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
