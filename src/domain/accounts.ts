// Domain types: what services and routes talk about. Repositories map rows to these;
// nothing here knows SQL.

export interface Account {
  id: number
  username: string
  mageId: string
  email: string | null
  createdAt: string
  /** When the account was suspended (disabled); null while it is active. */
  disabledAt: string | null
}

export interface AccessKey {
  id: number
  accountId: number
  name: string
  publicKey: string
  enabled: boolean
  createdAt: string
  lastUsedAt: string | null
  /** An encrypted copy of the private key is kept (key reveal option). */
  revealable: boolean
}

/** What the authentication check needs, and nothing more. */
export interface KeyCredential {
  id: number
  accountId: number
  privateKeyHash: Buffer
  enabled: boolean
  /** The key's account is suspended: the pair is refused whatever the key's own state. */
  accountDisabled: boolean
}

export interface SessionRecord {
  accountId: number
  createdAt: number
  expiresAt: number
  flash: string | null
}
