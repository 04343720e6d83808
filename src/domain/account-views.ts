import type { AccessKey, Account } from './accounts.js'

// The JSON shapes of an account and an access key for the operator: the admin API
// (routes/admin-accounts.ts) and the CLI's --json print the same objects.

export function accountView (a: Account) {
  return { username: a.username, mageId: a.mageId, email: a.email, createdAt: a.createdAt, disabled: a.disabledAt !== null, disabledAt: a.disabledAt }
}

export function keyView (k: AccessKey, username: string) {
  return { username, name: k.name, publicKey: k.publicKey, enabled: k.enabled, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revealable: k.revealable }
}
