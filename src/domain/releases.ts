// Domain types: what services and routes talk about. Repositories map rows to these;
// nothing here knows SQL.

import type { Access } from './catalog.js'

export interface Edition {
  id: number
  name: string
  access: Access
}

/** An account's grant of a restricted edition's release files. */
export interface EditionGrant {
  edition: string
  createdAt: string
}

export interface Release {
  id: number
  fileName: string
  version: string
  edition: string | null
  editionAccess: Access | null
  size: number
  sha1: string
  sha256: string
  md5: string
  createdAt: string
}

export interface NewRelease {
  fileName: string
  version: string
  editionId: number | null
  size: number
  sha1: string
  sha256: string
  md5: string
}
