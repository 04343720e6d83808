import { hash, randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** A 32-character key (128 bits) from the CSPRNG, lowercase hex like Magento's keys. */
export function generateKey (): string {
  return randomBytes(16).toString('hex')
}

export const KEY_PATTERN = /^[0-9a-f]{32}$/

/**
 * Keys are long and random, so a fast hash is the right tool (a password KDF would
 * only make every Composer request slow); guessing a 128-bit key is not practical.
 */
export function hashSecret (secret: string): Buffer {
  return hash('sha256', secret, 'buffer')
}

/**
 * The one constant-time comparison of secret material (hashes, HMACs, KDF outputs): false for
 * different lengths, else timingSafeEqual. Every secret check goes through it.
 */
export function sameBytes (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Constant-time comparison of a presented secret with a stored SHA-256. */
export function secretMatches (secret: string, storedHash: Buffer): boolean {
  return sameBytes(hashSecret(secret), storedHash)
}

/** MAGEID-style account id: MAG followed by nine digits. */
export function generateMageId (): string {
  return `MAG${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 }

function scryptAsync (password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => { if (err) reject(err); else resolve(key) })
  })
}

/** Passwords use scrypt (memory-hard); format: scrypt$N$r$p$salt$hash (base64). */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT.maxmem })
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword (password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? '').split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    // Same work as a real check, so timing does not reveal whether the account exists.
    await hashPassword(password)
    return false
  }
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
  const expected = Buffer.from(hash, 'base64')
  const key = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem })
  return sameBytes(key, expected)
}
