// `npm run bench`: Packyard against the static alternative a user would otherwise pick
// (Satis-like files behind nginx with auth_basic), in one run, alternated A B A B.
//
//   node scripts/bench/run.mjs                 the comparison (300 packages × 20 versions; ~6-10 min)
//   node scripts/bench/run.mjs --quick         short smoke run (100 × 5, 3 s wrk runs, 20 MiB archive)
//   node scripts/bench/run.mjs --scale         also the scale point (10,000 packages × 10 versions; slow)
//   node scripts/bench/run.mjs --scale-only    only the scale point
// Overrides: --packages N --versions N --seconds N --downloads N --big-mib N
//   --rounds N (default 3; --quick 2) --composer-rounds N (default 15; --quick 5) --scale-packages N --scale-versions N --scale-visible N
//   --no-warn (skip Packyard at log level warn) --no-sha (skip nginx with a {SHA} htpasswd entry)
//   --keep (keep the temp dirs) --out FILE
// PACKYARD_BENCH_BIN=path/to/bin/packyard.js benchmarks another build than this checkout's.
// Results: a markdown table on stdout and JSON in scripts/bench/results/latest.json (or --out).
// Traffic goes to 127.0.0.1 only; every process started is stopped at the end, on error and on Ctrl-C.

import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN, NODE_FLAGS } from './catalogue.mjs'
import { cleanup } from './procs.mjs'
import { benchScale } from './scale.mjs'
import { which } from './tools.mjs'
import { benchVsNginx, median, summarize } from './vs-nginx.mjs'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const argv = process.argv.slice(2)

function parseArgs () {
  const flags = new Set()
  const values = {}
  const valued = ['--packages', '--versions', '--seconds', '--rounds', '--downloads', '--big-mib', '--scale-packages', '--scale-versions', '--scale-visible', '--out', '--composer-packages', '--composer-rounds']
  const known = ['--quick', '--scale', '--scale-only', '--no-warn', '--no-sha', '--keep', '--help']
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]
    if (valued.includes(a)) {
      if (k + 1 >= argv.length) usage(`${a} needs a value`)
      values[a.slice(2)] = argv[++k]
    } else if (known.includes(a)) flags.add(a.slice(2))
    else usage(`unknown option ${a}`)
  }
  if (flags.has('help')) usage()
  const quick = flags.has('quick')
  const num = (name, dflt) => {
    if (values[name] === undefined) return dflt
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer`)
    return n
  }
  return {
    quick,
    scale: flags.has('scale') || flags.has('scale-only'),
    compare: !flags.has('scale-only'),
    keep: flags.has('keep'),
    out: values.out ?? path.join(HERE, 'results', 'latest.json'),
    compareOpts: {
      packages: num('packages', quick ? 100 : 300),
      versions: num('versions', quick ? 5 : 20),
      wrkSeconds: num('seconds', quick ? 3 : 10),
      warmupSeconds: quick ? 1 : 3,
      rounds: num('rounds', quick ? 2 : 3),
      downloads: num('downloads', quick ? 2 : 5),
      bigMiB: num('big-mib', quick ? 20 : 50),
      composerPackages: num('composer-packages', 60),
      // A resolve takes 0.2-0.6 s and moves by ±10% from run to run; 15 alternated rounds make
      // the median steady enough for a 5% goal (5 rounds swung 0.97-1.07× on the same code).
      composerRounds: num('composer-rounds', quick ? 5 : 15),
      warn: !flags.has('no-warn'),
      sha: !flags.has('no-sha')
    },
    scaleOpts: {
      packages: num('scale-packages', quick ? 1000 : 10_000),
      versions: num('scale-versions', quick ? 5 : 10),
      visible: num('scale-visible', quick ? 200 : 1000),
      wrkSeconds: num('seconds', quick ? 3 : 10)
    }
  }
}

function usage (error) {
  const text = fileURLToPath(import.meta.url)
  if (error) console.error(`run.mjs: ${error}`)
  console.error(`usage: node ${path.relative(process.cwd(), text)} [--quick] [--scale|--scale-only] (see the comment at the top of the file)`)
  process.exit(error ? 2 : 0)
}

const log = (msg) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`)
const load = () => loadavg().map((n) => n.toFixed(2)).join(' ')

function fmtValue (v, kind) {
  if (v === undefined || Number.isNaN(v)) return '–'
  if (kind === 'int') return Math.round(v).toLocaleString('en-US')
  if (kind === 'ms') return v.toFixed(2)
  if (kind === 's') return v.toFixed(2)
  if (kind === 'mib') return v.toFixed(1)
  return String(v)
}

function table (header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`)
  ].join('\n')
}

async function main () {
  const opts = parseArgs()
  let interrupted = false
  const onSignal = (sig) => {
    if (interrupted) return
    interrupted = true
    log(`${sig}: stopping every process this run started`)
    cleanup({ keepDirs: opts.keep }).finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const cpu = cpus()
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpu.length,
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    memGiB: +(totalmem() / 1024 ** 3).toFixed(1),
    platform: `${process.platform} ${process.arch}`,
    loadAtStart: load(),
    tools: Object.fromEntries(['nginx', 'wrk', 'composer', 'php', 'curl', 'openssl'].map((t) => [t, which(t)]))
  }
  console.log(`# Packyard vs static files behind nginx, ${env.date.slice(0, 10)}`)
  env.bin = BIN
  console.log(`Packyard: ${[...NODE_FLAGS, BIN].join(' ')}`)
  console.log(`Node ${env.node}, ${env.cores} cores (${env.cpu}), ${env.platform}; load average at start: ${env.loadAtStart}`)
  const results = { env, options: { ...opts } }
  const started = Date.now()
  try {
    if (opts.compare) {
      const c = opts.compareOpts
      const r = await benchVsNginx({ ...c, log })
      results.compare = r
      const rows = summarize(r)
      const pub = r.setup.publish
      console.log('\n## Packyard vs nginx + auth_basic (static mirror of the same bytes)\n')
      console.log(`Catalogue: ${c.packages} packages × ${c.versions} versions (${pub.versions} versions, all public), published with the CLI at ${pub.versionsPerSecond.toFixed(0)} versions/s; ` +
        `/packages.json ${r.setup.mirror.packagesJsonBytes.toLocaleString('en-US')} bytes; archive ${(r.setup.mirror.archiveBytes / 1048576).toFixed(1)} MiB. ` +
        `wrk -t1 -c32 -d${c.wrkSeconds}s --latency; ${c.rounds} rounds alternated (A B C D, then D C B A) after sync and one unmeasured ${c.warmupSeconds} s run per server; the median of the rounds is shown (composer: ${c.composerRounds} rounds; archive: ${c.downloads} curl downloads per round)` +
        `${r.setup.composer ? `; composer: ${r.setup.composer.required} required, ${r.setup.composer.locked} locked` : ''}.\n`)
      const hasWarn = rows.some((x) => x.warn !== undefined)
      const hasSha = rows.some((x) => x.sha !== undefined)
      const ratio = (v) => v === undefined ? '–' : `${v.toFixed(2)}×`
      const header = ['measure', 'Packyard (info)', 'nginx, apr1 htpasswd', 'nginx, {SHA} htpasswd', 'ratio to the faster nginx', 'goal', 'met?']
      console.log(table(header, rows.map((x) => [x.label, fmtValue(x.packyard, x.fmt), fmtValue(x.nginx, x.fmt), fmtValue(x.sha, x.fmt), ratio(x.judged), x.goal, x.verdict])))
      if (hasWarn || hasSha) {
        console.log('\nSecondary, same run and rotation (– = not measured for this variant):\n')
        console.log(table(['measure', 'Packyard, log level warn', 'warn / faster nginx', 'Packyard (info) / nginx apr1'],
          rows.filter((x) => x.warn !== undefined).map((x) => {
            const best = x.sha === undefined || x.nginx === undefined ? x.nginx : (x.fmt === 'int' ? Math.max(x.nginx, x.sha) : Math.min(x.nginx, x.sha))
            return [x.label, fmtValue(x.warn, x.fmt), best === undefined ? '–' : ratio(x.warn / best), ratio(x.ratio)]
          })))
      }
      const tr = r.setup.transfer
      if (tr !== undefined) {
        const pct = (v) => `${(100 * v / tr.identity).toFixed(0)}%`
        console.log(`\nMetadata a resolve transfers (packages.json and all ${tr.documents - 1} p2 documents, as a Magento-size resolve reads): ` +
          `${tr.identity.toLocaleString('en-US')} bytes plain, ${tr.gzip.toLocaleString('en-US')} with gzip (${pct(tr.gzip)}; what Composer asks for), ${tr.br.toLocaleString('en-US')} with brotli (${pct(tr.br)}).`)
      }
      const per = r.measures.p2?.packyard?.map((w) => w.logBytesPerReq).filter((v) => v !== undefined)
      if (per?.length) console.log(`\nPackyard at info wrote ${median(per).toFixed(0)} bytes of access log per p2 request (to a file).`)
      console.log('\nratio = Packyard / the faster of the two nginx set-ups for that measure (for req/s and MiB/s higher is better; for ms, s and MiB lower is better). Server = Packyard at log level info. Notes: ' + r.notes.join(' '))
      results.summary = rows.map(({ fmt, ...x }) => x)
    }
    if (opts.scale) {
      const s = await benchScale({ ...opts.scaleOpts, log })
      results.scale = s
      const target = 100_000
      console.log(`\n## Scale point: ${s.packages.toLocaleString('en-US')} packages × ${s.versions} versions (${s.publishedVersions.toLocaleString('en-US')} versions${s.publishedVersions < target ? `; the target is ${target.toLocaleString('en-US')}` : ''})\n`)
      console.log(table(['measure', 'value'], [
        ['publish with the CLI (batches of 1,000 archives), versions/s', s.versionsPerSecond.toFixed(0)],
        ['publish wall time, s (zip generation excluded)', s.publishSeconds.toFixed(0)],
        ['cold start to first 200 on /packages.json, s (3 starts)', s.coldStartSeconds.map((x) => x.toFixed(2)).join(', ')],
        ['server RSS after start, MiB', (s.rssIdleBytes / 1048576).toFixed(1)],
        [`/packages.json p50, ms (sequential, account sees ${s.packagesJsonVisible})`, s.packagesJsonSequentialP50ms.toFixed(2)],
        ...(s.packagesJsonWrk ? [['/packages.json under wrk -c32: req/s, p50 ms, p99 ms', `${s.packagesJsonWrk.rps.toFixed(0)}, ${s.packagesJsonWrk.p50ms.toFixed(2)}, ${s.packagesJsonWrk.p99ms.toFixed(2)}`]] : []),
        ...(s.packagesJsonWrk ? [['server RSS after the /packages.json load, MiB', (s.rssAfterPackagesJsonBytes / 1048576).toFixed(1)]] : []),
        ...(s.p2Wrk ? [[`random /p2 documents of the ${s.packagesJsonVisible} visible packages under wrk -c32: req/s, p50 ms, p99 ms`, `${s.p2Wrk.rps.toFixed(0)}, ${s.p2Wrk.p50ms.toFixed(2)}, ${s.p2Wrk.p99ms.toFixed(2)}`]] : []),
        ['server RSS after the whole load, MiB', (s.rssAfterLoadBytes / 1048576).toFixed(1)]
      ]))
    }
  } catch (err) {
    console.error(`\nbench failed: ${err.stack ?? err}`)
    process.exitCode = 1
  } finally {
    await cleanup({ keepDirs: opts.keep })
  }
  results.env.loadAtEnd = load()
  results.env.seconds = Math.round((Date.now() - started) / 1000)
  mkdirSync(path.dirname(opts.out), { recursive: true })
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nDone in ${results.env.seconds} s; load average at end: ${results.env.loadAtEnd}. JSON: ${opts.out}`)
}

await main()
