// Domain types: what services and routes talk about. Repositories map rows to these;
// nothing here knows SQL.

export type Access = 'public' | 'restricted'

export type Stability = 'dev' | 'alpha' | 'beta' | 'RC' | 'stable'

/**
 * The limits of a grant (a licence): a version is opened when it satisfies every part that is
 * set. All null: every version.
 */
export interface GrantRule {
  /** A Composer version constraint, as typed (`^2.0`, `>=1.0 <3.0`). */
  constraint: string | null
  /** ISO-8601 instant (UTC): versions the server published after it are not included. */
  updatesUntil: string | null
  minimumStability: Stability | null
}

/** How an account may see a package: `public` (every version), an exact grant, or a `vendor/*` grant. */
export type Entitlement =
  | { via: 'public' }
  | { via: 'package' | 'vendor', rule: GrantRule }

/** `true`, the replacement package's name, or false for a maintained package. */
export type Abandoned = boolean | string

export interface Package {
  id: number
  name: string
  access: Access
  metadataUpdatedAt: number
  abandoned: Abandoned
}

export interface VersionRecord {
  id: number
  packageId: number
  version: string
  versionNormalized: string
  distFile: string
  shasum: string
  sha256: string
  size: number
  manifest: Record<string, unknown>
  releasedAt: string
  downloads: number
  /** When the version was yanked (left out of the metadata, archive kept), or null. */
  yankedAt: string | null
}

export interface NewVersion {
  version: string
  versionNormalized: string
  distFile: string
  shasum: string
  sha256: string
  size: number
  manifest: Record<string, unknown>
  releasedAt: string
}

export interface SearchCandidate {
  name: string
  downloads: number
  versions: Array<{ versionNormalized: string, description: string | null, type: string | null }>
}

/** One grant an account holds: a package, every package of a vendor (`vendor/*`), or a release edition. */
export type GrantView =
  | { kind: 'package' | 'vendor', target: string, rule: GrantRule, createdAt: string }
  | { kind: 'edition', target: string, createdAt: string }

export interface Advisory {
  id: number
  /** `PACKYARD-<id>`: what Composer shows and sources[].remoteId. */
  advisoryId: string
  packageName: string
  affectedVersions: string
  title: string
  cve: string | null
  link: string | null
  severity: string | null
  reportedAt: string
}
