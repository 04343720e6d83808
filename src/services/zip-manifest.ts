import yauzl, { type Entry, type ZipFile } from 'yauzl'

const MAX_COMPOSER_JSON = 1024 * 1024

function openZip (file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: false }, (err, zip) => {
      if (err !== null || zip === undefined) reject(err ?? new Error('cannot open'))
      else resolve(zip)
    })
  })
}

function listEntries (zip: ZipFile): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = []
    zip.on('entry', (e: Entry) => { entries.push(e); zip.readEntry() })
    zip.on('end', () => resolve(entries))
    zip.on('error', reject)
    zip.readEntry()
  })
}

function readEntry (zip: ZipFile, entry: Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err !== null || stream === undefined) { reject(err ?? new Error('cannot read entry')); return }
      const chunks: Buffer[] = []
      let size = 0
      stream.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_COMPOSER_JSON) { stream.destroy(new Error('composer.json is larger than 1 MiB')); return }
        chunks.push(c)
      })
      stream.on('end', () => resolve(Buffer.concat(chunks)))
      stream.on('error', reject)
    })
  })
}

export class ZipManifestError extends Error {}

/**
 * Reads composer.json from a zip archive: at its root, or inside the single top-level
 * folder that GitHub-style archives use. Only the central directory and that one entry
 * are read, so a large archive costs little.
 */
export async function readComposerJson (file: string): Promise<string> {
  let zip: ZipFile
  try {
    zip = await openZip(file)
  } catch (err) {
    throw new ZipManifestError(`not a valid zip archive (${(err as Error).message})`)
  }
  try {
    let entries: Entry[]
    try {
      entries = await listEntries(zip)
    } catch (err) {
      throw new ZipManifestError(`not a valid zip archive (${(err as Error).message})`)
    }
    const names = new Map(entries.map((e) => [e.fileName.replace(/^\.\//, ''), e]))
    const topLevel = new Set([...names.keys()].map((n) => n.split('/')[0]))
    let entry = names.get('composer.json')
    if (entry === undefined && topLevel.size === 1) {
      const [folder] = topLevel
      entry = names.get(`${folder}/composer.json`)
    }
    if (entry === undefined) throw new ZipManifestError('no composer.json at the archive root or inside a single top-level folder')
    if (entry.uncompressedSize > MAX_COMPOSER_JSON) throw new ZipManifestError('composer.json is larger than 1 MiB')
    try {
      return (await readEntry(zip, entry)).toString('utf8')
    } catch (err) {
      throw new ZipManifestError(`cannot read composer.json (${(err as Error).message})`)
    }
  } finally {
    zip.close()
  }
}
