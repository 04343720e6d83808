// Domain types: what services and routes talk about. Repositories map rows to these;
// nothing here knows SQL.

export type Access = 'public' | 'restricted'

export interface Package {
  id: number
  name: string
  access: Access
  metadataUpdatedAt: number
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
