import type { AccountsRepository } from '../repositories/accounts.js'
import type { Account } from '../domain/accounts.js'
import { errors } from '../errors.js'
import { generateMageId, hashPassword, verifyPassword } from './secrets.js'
import type { Transactional } from '../repositories/transaction.js'
import type { Emit } from './webhooks.js'
import type { ChangeCountersRepository } from '../repositories/changes.js'

export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
export const MIN_PASSWORD_LENGTH = 10
/** What every surface says to a suspended (disabled) account: Composer, downloads API, pages, JSON API. */
export const ACCOUNT_SUSPENDED = 'This account is suspended. Contact the vendor to restore access.'
/** scrypt takes any length; a cap keeps one request from costing much more than another. */
export const MAX_PASSWORD_LENGTH = 1024

function checkPasswordRules (password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw errors.badRequest(`password too short: use at least ${MIN_PASSWORD_LENGTH} characters`)
  if (password.length > MAX_PASSWORD_LENGTH) throw errors.badRequest(`password too long: use at most ${MAX_PASSWORD_LENGTH} characters`)
}

function checkEmail (email: string): void {
  if (!EMAIL.test(email)) throw errors.badRequest(`invalid email "${email}"`)
}

export function createAccountService (deps: { transaction: Transactional, accounts: AccountsRepository, emit: Emit, changes: Pick<ChangeCountersRepository, 'invalidate'> }) {
  const { accounts } = deps
  /** After a write that changes which keys authenticate (the trigger moved the counter in the database). */
  const credentialsChanged = (): void => { deps.changes.invalidate() }

  const insert = deps.transaction((input: { username: string, mageId: string, email: string | null, passwordHash: string | null }): Account => {
    const account = accounts.create(input)
    deps.emit('account.created', { username: account.username, mageId: account.mageId, email: account.email })
    return account
  })

  // After the hashing (an await), so the account is looked up when the writes happen.
  const applyUpdate = deps.transaction((username: string, email: string | null | undefined, passwordHash: string | undefined): Account => {
    const account = accounts.findByUsername(username)
    if (account === undefined) throw errors.notFound(`account "${username}"`)
    if (email !== undefined) accounts.setEmail(account.id, email)
    if (passwordHash !== undefined) accounts.setPasswordHash(account.id, passwordHash)
    return accounts.findById(account.id)!
  })

  function newMageId (): string {
    for (let i = 0; i < 20; i++) {
      const id = generateMageId()
      if (!accounts.isMageIdTaken(id)) return id
    }
    throw new Error('could not allocate a unique MAGEID')
  }

  return {
    async create (input: { username: string, email?: string | undefined, password?: string | undefined }): Promise<Account> {
      if (!USERNAME.test(input.username)) {
        throw errors.badRequest(`invalid username "${input.username}": use 2-64 letters, digits, dots, dashes or underscores, starting with a letter or digit`)
      }
      if (input.email !== undefined) checkEmail(input.email)
      if (input.password !== undefined) checkPasswordRules(input.password)
      if (accounts.findByUsername(input.username) !== undefined) throw errors.conflict(`account "${input.username}" already exists`)
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password)
      return insert({ username: input.username, mageId: newMageId(), email: input.email ?? null, passwordHash })
    },
    get (username: string): Account {
      const account = accounts.findByUsername(username)
      if (account === undefined) throw errors.notFound(`account "${username}"`)
      return account
    },
    list (): Account[] {
      return accounts.list()
    },
    findById (id: number): Account | undefined {
      return accounts.findById(id)
    },
    /**
     * The account when the password is right, else undefined. An unknown username costs
     * the same scrypt work as a wrong password, so timing does not tell them apart.
     */
    async checkPassword (username: string, password: string): Promise<Account | undefined> {
      const account = password.length > MAX_PASSWORD_LENGTH ? undefined : accounts.findByUsername(username)
      const ok = await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH), account === undefined ? null : accounts.passwordHash(account.id))
      return ok ? account : undefined
    },
    /** Changes the email (null removes it) and/or the password. */
    async update (username: string, input: { email?: string | null | undefined, password?: string | undefined }): Promise<Account> {
      if (typeof input.email === 'string') checkEmail(input.email)
      if (input.password !== undefined) checkPasswordRules(input.password)
      const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password)
      return applyUpdate(username, input.email, passwordHash)
    },
    /**
     * Suspends (disabled) or restores an account. Nothing is deleted: its keys, grants and
     * downloads token are refused while it is suspended and work again once it is enabled.
     */
    setDisabled: deps.transaction((username: string, disabled: boolean): Account => {
      const account = accounts.findByUsername(username)
      if (account === undefined) throw errors.notFound(`account "${username}"`)
      const changed = accounts.setDisabledAt(account.id, disabled ? new Date().toISOString() : null)
      if (!changed) return account
      credentialsChanged()
      if (disabled) deps.emit('account.disabled', { username: account.username, mageId: account.mageId, email: account.email })
      return accounts.findById(account.id)!
    }),
    /** Installs reported by Composer (notify-batch) with this account's keys, per package and version. */
    downloads (username: string): Array<{ package: string, version: string, count: number }> {
      const account = accounts.findByUsername(username)
      if (account === undefined) throw errors.notFound(`account "${username}"`)
      return accounts.downloads(account.id)
    },
    /** Removes the account with its keys, grants, sessions and downloads token. */
    delete: deps.transaction((username: string): Account => {
      const account = accounts.findByUsername(username)
      if (account === undefined) throw errors.notFound(`account "${username}"`)
      accounts.delete(account.id)
      credentialsChanged()
      return account
    }),
    async setPassword (username: string, password: string): Promise<Account> {
      const account = accounts.findByUsername(username)
      if (account === undefined) throw errors.notFound(`account "${username}"`)
      checkPasswordRules(password)
      accounts.setPasswordHash(account.id, await hashPassword(password))
      return account
    }
  }
}

export type AccountService = ReturnType<typeof createAccountService>
