import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { access as fsAccess, constants } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Transactional } from '../repositories/transaction.js'
import type { AccountsRepository } from '../repositories/accounts.js'
import { stageOrExplain, type ArchiveStore } from '../repositories/archive-store.js'
import type { DownloadTokensRepository } from '../repositories/download-tokens.js'
import type { Access } from '../domain/catalog.js'
import type { ReleasesRepository } from '../repositories/releases.js'
import type { Edition, EditionGrant, Release } from '../domain/releases.js'
import { normalizeVersion, sortVersionsDescending } from '../composer/version.js'
import { errors } from '../errors.js'
import { hashSecret, secretMatches } from './secrets.js'

const TOKEN = /^[0-9a-f]{40}$/
const MAGE_ID = /^MAG\d{9}$/
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/
const RELEASE_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/
const EDITION_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
// An unknown MAGEID costs the same hash and comparison as a wrong token.
const DUMMY_HASH = hashSecret('packyard-dummy-downloads-token')

export interface AddedRelease {
  file: string
  version: string
  edition: string | null
  /** False when the same file with the same bytes was already there (a no-op). */
  created: boolean
}

async function md5Of (file: string): Promise<string> {
  const hash = createHash('md5')
  await pipeline(createReadStream(file), hash)
  return hash.digest('hex')
}

/**
 * Shell-style `*` matching without a regular expression: the classic two-pointer walk that
 * backtracks only to the last star, so any pattern costs at most O(pattern × text) — a
 * pattern like `*.*.*.*…x` cannot stall the event loop.
 */
export function globMatch (pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let star = -1
  let mark = 0
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++
      mark = t
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++
      t++
    } else if (star !== -1) {
      p = star + 1
      t = ++mark
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++
  return p === pattern.length
}

/** `1.9.*` matches like a shell glob; a plain `2.4` matches 2.4, 2.4.x and 2.4-…; case-insensitive. */
export function versionMatcher (pattern: string): (version: string) => boolean {
  const p = pattern.toLowerCase().replace(/\*+/g, '*')
  if (p.includes('*')) return (v) => globMatch(p, v.toLowerCase())
  return (v) => {
    const lower = v.toLowerCase()
    return lower === p || lower.startsWith(`${p}.`) || lower.startsWith(`${p}-`)
  }
}

function newestFirst (list: Release[]): Release[] {
  return sortVersionsDescending(list, (r) => normalizeVersion(r.version) ?? r.version)
}

/**
 * Release files served by the downloads API (MAGEID + Downloads Access Token), their
 * editions and edition grants, and the tokens themselves.
 */
export function createDownloadsService (deps: {
  transaction: Transactional
  accounts: AccountsRepository
  tokens: DownloadTokensRepository
  releases: ReleasesRepository
  store: ArchiveStore
}) {
  const { transaction, accounts, tokens, releases, store } = deps

  function getEdition (name: string): Edition {
    const edition = releases.findEdition(name)
    if (edition === undefined) throw errors.notFound(`edition "${name}"`)
    return edition
  }

  const visible = (accountId: number): Release[] => newestFirst(releases.listVisible(accountId))

  const insertRelease = transaction((input: { fileName: string, version: string, edition: string | null, size: number, sha1: string, sha256: string, md5: string }): Release => {
    let editionId: number | null = null
    if (input.edition !== null) {
      editionId = (releases.findEdition(input.edition) ?? releases.insertEdition(input.edition, 'public')).id
    }
    return releases.insert({ ...input, editionId })
  })

  return {
    /** A new token for the account; the previous one stops working at once. Shown once. */
    regenerateToken (accountId: number): { token: string, createdAt: string } {
      const token = randomBytes(20).toString('hex')
      const createdAt = tokens.replace(accountId, hashSecret(token))
      return { token, createdAt }
    },
    tokenCreatedAt (accountId: number): string | undefined {
      return tokens.find(accountId)?.createdAt
    },
    /** The account of a MAGEID and its current token; a suspended account's right token is refused as such. */
    authenticate (mageId: string, token: string): { ok: true, accountId: number } | { ok: false, reason: 'wrong_token' | 'suspended' } {
      const account = MAGE_ID.test(mageId.toUpperCase()) ? accounts.findByMageId(mageId.toUpperCase()) : undefined
      const stored = account === undefined ? undefined : tokens.find(account.id)
      const matches = secretMatches(token, stored?.tokenHash ?? DUMMY_HASH)
      if (account === undefined || stored === undefined || !matches || !TOKEN.test(token)) return { ok: false, reason: 'wrong_token' }
      if (account.disabledAt !== null) return { ok: false, reason: 'suspended' }
      return { ok: true, accountId: account.id }
    },

    /**
     * Adds a release file: copied into the content-addressed store (temp file, fsync,
     * rename) before its row is committed. File names are unique and immutable.
     */
    async addRelease (file: string, opts: { version: string, edition?: string | undefined, name?: string | undefined }): Promise<AddedRelease> {
      const fileName = opts.name ?? path.basename(file)
      if (!FILE_NAME.test(fileName)) throw errors.badRequest(`invalid file name "${fileName}": use letters, digits, dots, dashes, underscores and plus signs`)
      if (!RELEASE_VERSION.test(opts.version)) throw errors.badRequest(`invalid version "${opts.version}": use letters, digits, dots, dashes, underscores and plus signs, e.g. 2.4.6-p3`)
      const edition = opts.edition ?? null
      if (edition !== null && !EDITION_NAME.test(edition)) throw errors.badRequest(`invalid edition "${edition}": use lowercase letters, digits, dots, dashes and underscores, e.g. ee-full`)
      try {
        await fsAccess(file, constants.R_OK)
      } catch (err) {
        throw errors.badRequest(`${fileName}: cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
      const staged = await stageOrExplain(store, file, (detail) => errors.badRequest(`${fileName}: ${detail}`))
      const result = { file: fileName, version: opts.version, edition }
      const existing = releases.findByFileName(fileName)
      if (existing !== undefined) {
        await store.discard(staged)
        if (existing.sha256 !== staged.sha256 || existing.version !== opts.version || existing.edition !== edition) {
          throw errors.conflict(`a release file named ${fileName} already exists with other contents, version or edition; release files are immutable, add it under a new name`)
        }
        return { ...result, created: false }
      }
      let md5: string
      try {
        md5 = await md5Of(staged.tempPath)
      } catch (err) {
        await store.discard(staged)
        throw err
      }
      // File before row, and the file stays if the insert fails (see catalog.publish).
      await store.commit(staged)
      insertRelease({ fileName, version: opts.version, edition, size: staged.size, sha1: staged.sha1, sha256: staged.sha256, md5 })
      return { ...result, created: true }
    },
    list (): Release[] {
      return newestFirst(releases.list())
    },
    /** Every file the account may download, newest version first. */
    visible,
    versions (accountId: number): string[] {
      return [...new Set(visible(accountId).map((r) => r.version))]
    },
    filterByVersion (accountId: number, pattern: string): Release[] {
      const matches = versionMatcher(pattern)
      return visible(accountId).filter((r) => matches(r.version))
    },
    filterByEdition (accountId: number, edition: string): Release[] {
      return visible(accountId).filter((r) => r.edition === edition.toLowerCase())
    },
    /** A file by its name, looked up in the database: 404 when absent or not the account's to download. */
    file (accountId: number, fileName: string): Release {
      const release = FILE_NAME.test(fileName) ? releases.findVisible(accountId, fileName) : undefined
      if (release === undefined) throw errors.notFound(`file ${fileName}`)
      return release
    },
    open (release: Release): Promise<FileHandle> {
      return store.open(release.sha256)
    },

    listEditions () {
      return releases.listEditions()
    },
    /** Sets an edition's access, creating the edition when it is new (so it can be restricted before its first file). */
    setEditionAccess: transaction((name: string, access: Access): Edition => {
      if (!EDITION_NAME.test(name)) throw errors.badRequest(`invalid edition "${name}": use lowercase letters, digits, dots, dashes and underscores, e.g. ee-full`)
      const edition = releases.findEdition(name)
      if (edition === undefined) return releases.insertEdition(name, access)
      releases.setEditionAccess(edition.id, access)
      return { ...edition, access }
    }),
    findEdition (name: string): Edition | undefined {
      return releases.findEdition(name)
    },
    grantEdition (accountId: number, name: string): Edition {
      const edition = getEdition(name)
      releases.grant(accountId, edition.id)
      return edition
    },
    /** The release editions an account was granted (a public edition needs no grant, so it is listed only when granted). */
    editionGrantsOf (accountId: number): EditionGrant[] {
      return releases.grantsOf(accountId)
    },
    revokeEdition (accountId: number, name: string): Edition {
      const edition = getEdition(name)
      releases.revoke(accountId, edition.id)
      return edition
    }
  }
}

export type DownloadsService = ReturnType<typeof createDownloadsService>
