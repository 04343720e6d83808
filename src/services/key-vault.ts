import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errors } from '../errors.js'

const FORMAT = 1
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_ID_BYTES = 4

/**
 * Reads a 32-byte AES key written as 64 hex characters or base64 (what
 * `openssl rand -hex 32` / `openssl rand -base64 32` print), or, for a key file,
 * exactly 32 raw bytes. Returns undefined when the text is neither.
 */
export function parseRevealKey (input: string | Buffer): Buffer | undefined {
  if (Buffer.isBuffer(input) && input.length === 32) return input
  const text = input.toString('utf8').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (bytes.length === 32) return bytes
  }
  return undefined
}

/**
 * Encrypted copies of private keys, for operators who let account holders view a key
 * again (off by default). AES-256-GCM with the public key as associated data, so a copy
 * only opens for the row it was made for. Layout: format(1) | keyId(4) | iv(12) | tag(16) | ciphertext.
 */
export function createKeyVault (key: Buffer) {
  if (key.length !== 32) throw new Error('the key reveal key must be 32 bytes')
  const keyId = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES)

  return {
    seal (publicKey: string, privateKey: string): Buffer {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(Buffer.from(publicKey, 'utf8'))
      const ciphertext = Buffer.concat([cipher.update(privateKey, 'utf8'), cipher.final()])
      return Buffer.concat([Buffer.from([FORMAT]), keyId, iv, cipher.getAuthTag(), ciphertext])
    },
    open (publicKey: string, sealed: Buffer): string {
      const header = 1 + KEY_ID_BYTES
      if (sealed.length < header + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT) {
        throw errors.conflict('the stored copy of this key is unreadable; regenerate the key to get a new pair')
      }
      if (!sealed.subarray(1, header).equals(keyId)) {
        throw errors.conflict('this key was stored under a different reveal key (the operator changed it); regenerate the key to get a new pair')
      }
      const iv = sealed.subarray(header, header + IV_BYTES)
      const tag = sealed.subarray(header + IV_BYTES, header + IV_BYTES + TAG_BYTES)
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(publicKey, 'utf8'))
      decipher.setAuthTag(tag)
      try {
        return Buffer.concat([decipher.update(sealed.subarray(header + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw errors.conflict('the stored copy of this key does not verify; regenerate the key to get a new pair')
      }
    }
  }
}

export type KeyVault = ReturnType<typeof createKeyVault>

/** The vault for this configuration, or undefined when key reveal is off (no key configured). */
export function loadKeyVault (config: { keyRevealKey: string | undefined, keyRevealKeyFile: string | undefined }): KeyVault | undefined {
  if (config.keyRevealKey !== undefined) {
    const key = parseRevealKey(config.keyRevealKey)
    if (key === undefined) throw errors.badRequest('PACKYARD_KEY_REVEAL_KEY must be 32 bytes as 64 hex characters or base64')
    return createKeyVault(key)
  }
  if (config.keyRevealKeyFile !== undefined) {
    let raw: Buffer
    try {
      raw = readFileSync(config.keyRevealKeyFile)
    } catch (err) {
      throw errors.badRequest(`cannot read PACKYARD_KEY_REVEAL_KEY_FILE ${config.keyRevealKeyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    const key = parseRevealKey(raw)
    if (key === undefined) throw errors.badRequest(`PACKYARD_KEY_REVEAL_KEY_FILE ${config.keyRevealKeyFile} must hold 32 bytes: raw, 64 hex characters or base64`)
    return createKeyVault(key)
  }
  return undefined
}
