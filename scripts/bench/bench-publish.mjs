// Publish: 200 small archives through ctx.catalog.publish (in-process, one after another
// as the CLI does), against copying the same files with fs.copyFile (the file I/O floor).
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import path from 'node:path'
import { createContext } from '../../dist/context.js'
import { loadConfig } from '../../dist/config.js'
import { composerJson, fmt, header, makeZip, table, tempDir } from './lib.mjs'

const PACKAGES = 20
const VERSIONS = 10
const ROUNDS = 2

async function writeArchives (dir) {
  const files = []
  for (let p = 0; p < PACKAGES; p++) {
    const name = `bench/publish-${String(p).padStart(2, '0')}`
    for (let v = 0; v < VERSIONS; v++) {
      const version = `1.${v}.0`
      const file = path.join(dir, `${name.replace('/', '-')}-${version}.zip`)
      writeFileSync(file, await makeZip({
        'composer.json': JSON.stringify(composerJson(name, version, v), null, 2),
        'src/Example.php': `<?php\nnamespace Bench;\nfinal class Example { public const VERSION = '${version}'; }\n`,
        'README.md': `# ${name}\n\n${'Lorem ipsum dolor sit amet. '.repeat(40)}\n`
      }))
      files.push(file)
    }
  }
  return files
}

async function timed (fn) {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

const LABELS = {
  publish: 'Packyard: ctx.catalog.publish (new version)',
  again: 'Packyard: publish the same archive again (no-op, same bytes)',
  copy: 'Reference: fs.copyFile only',
  durable: 'Reference: copyFile + fsync(file) + fsync(dir)'
}

/**
 * One round in fresh directories. The operations are interleaved archive by archive, so a
 * burst of disk load from another process hits all of them alike.
 */
async function round (dir, order) {
  const ctx = createContext(loadConfig({}, { dataDir: path.join(dir, 'data'), logLevel: 'silent' }))
  try {
    const copyDir = path.join(dir, 'copies')
    const durableDir = path.join(dir, 'durable')
    mkdirSync(copyDir)
    mkdirSync(durableDir)
    const times = new Map(Object.keys(LABELS).map((k) => [k, 0]))
    const add = (k, ms) => times.set(k, times.get(k) + ms)
    for (const f of order) {
      add('publish', await timed(async () => {
        if (!(await ctx.catalog.publish(f, { access: 'public' })).created) throw new Error(`${f} was not created`)
      }))
      add('again', await timed(async () => {
        if ((await ctx.catalog.publish(f)).created) throw new Error('re-publish created a version')
      }))
      add('copy', await timed(() => copyFile(f, path.join(copyDir, path.basename(f)))))
      add('durable', await timed(async () => {
        const target = path.join(durableDir, path.basename(f))
        copyFileSync(f, target)
        for (const p of [target, durableDir]) {
          const fd = openSync(p, 'r')
          try { fsyncSync(fd) } finally { closeSync(fd) }
        }
      }))
    }
    return times
  } finally {
    ctx.close()
  }
}

async function main () {
  const tmp = tempDir()
  try {
    const sources = path.join(tmp.dir, 'sources')
    mkdirSync(sources)
    const files = await writeArchives(sources)
    // Interleave packages (1.0.0 of every package, then 1.1.0, …) as a release day would.
    const order = Array.from({ length: VERSIONS }, (_, v) => files.filter((_, i) => i % VERSIONS === v)).flat()
    // Best of two rounds, each in fresh directories: fsync time swings with other load on the disk.
    const best = new Map()
    for (let r = 0; r < ROUNDS; r++) {
      const dir = path.join(tmp.dir, `round-${r}`)
      mkdirSync(dir)
      for (const [label, ms] of await round(dir, order)) best.set(label, Math.min(best.get(label) ?? Infinity, ms))
    }

    header(`Publish (${order.length} small archives, ${PACKAGES} packages × ${VERSIONS} versions, sequential, best of ${ROUNDS} rounds)`)
    const rows = [...best.entries()].map(([k, ms]) => [LABELS[k], ms])
    const base = rows[0][1]
    console.log(table(
      ['operation', 'total ms', 'ms per archive', 'archives/s', 'vs Packyard publish'],
      rows.map(([label, ms]) => [label, fmt.int(ms), fmt.num(ms / order.length, 2), fmt.int(order.length / (ms / 1000)), fmt.ratio(ms / base)])
    ))
  } finally {
    tmp.remove()
  }
}

await main()
