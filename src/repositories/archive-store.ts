import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs'
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'

export interface StagedFile {
  tempPath: string
  sha1: string
  sha256: string
  size: number
}

/**
 * Content-addressed archive files under <dataDir>/archives: <sha256[0:2]>/<sha256>.zip.
 * Writes go to a temp file in the same filesystem, are fsynced, then renamed into place,
 * so a crash never leaves a half-written archive under a final name.
 */
export function createArchiveStore (root: string) {
  const tmpDir = path.join(root, 'tmp')
  mkdirSync(tmpDir, { recursive: true })

  const finalPath = (sha256: string): string => path.join(root, sha256.slice(0, 2), `${sha256}.zip`)

  /** Copies a stream (an upstream download) into a temp file while hashing it; a failed stream leaves nothing. */
  async function stageStream (source: NodeJS.ReadableStream): Promise<StagedFile> {
    const tempPath = path.join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}.part`)
    const sha1 = createHash('sha1')
    const sha256 = createHash('sha256')
    let size = 0
    const hasher = new Transform({
      transform (chunk: Buffer, _enc, cb) {
        sha1.update(chunk)
        sha256.update(chunk)
        size += chunk.length
        cb(null, chunk)
      }
    })
    try {
      await pipeline(source, hasher, createWriteStream(tempPath, { flags: 'wx' }))
      const fh = await open(tempPath, 'r+')
      try { await fh.sync() } finally { await fh.close() }
    } catch (err) {
      await unlink(tempPath).catch(() => {})
      throw err
    }
    return { tempPath, sha1: sha1.digest('hex'), sha256: sha256.digest('hex'), size }
  }

  return {
    finalPath,
    /** Copies a source file into a temp file while hashing it. */
    async stage (source: string): Promise<StagedFile> {
      return await stageStream(createReadStream(source))
    },
    stageStream,
    /** Moves a staged file to its content address. Returns false when that content was already stored. */
    async commit (staged: StagedFile): Promise<boolean> {
      const target = finalPath(staged.sha256)
      const existing = await stat(target).catch(() => undefined)
      if (existing !== undefined && existing.size === staged.size) {
        await unlink(staged.tempPath)
        return false
      }
      mkdirSync(path.dirname(target), { recursive: true })
      await rename(staged.tempPath, target)
      const dir = await open(path.dirname(target), 'r')
      try { await dir.sync() } finally { await dir.close() }
      return true
    },
    async discard (staged: StagedFile): Promise<void> {
      await unlink(staged.tempPath).catch(() => {})
    },
    /** The sha256 of every stored archive, sorted (temp files excluded). */
    async list (): Promise<string[]> {
      const digests: string[] = []
      for (const shard of await readdir(root)) {
        if (!/^[0-9a-f]{2}$/.test(shard)) continue
        for (const file of await readdir(path.join(root, shard))) {
          const m = /^([0-9a-f]{64})\.zip$/.exec(file)
          if (m?.[1]?.startsWith(shard) === true) digests.push(m[1])
        }
      }
      return digests.sort()
    },
    /** The stored file, opened for reading (its bytes never change). */
    open (sha256: string): Promise<FileHandle> {
      return open(finalPath(sha256), 'r')
    }
  }
}

export type ArchiveStore = ReturnType<typeof createArchiveStore>

/** Stages a source file, turning I/O failures (a directory, a vanished file) into a user error. */
export async function stageOrExplain (store: ArchiveStore, file: string, explain: (detail: string) => Error): Promise<StagedFile> {
  try {
    return await store.stage(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw explain(`cannot read file (${code ?? (err as Error).message})`)
  }
}
