// The production image, built from the Dockerfile with podman (../shared/container/README.md),
// run as an operator would: named volume, port on 127.0.0.1, admin through `podman exec`,
// the real Composer client on the host, a restart, a container replaced on the same volume
// (an upgrade), and a clean stop. `npm run test:container` runs this file alone.
import t from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { composerProject, ROOT, tempDir, writePackageZip } from '../helpers/harness.js'
import { hasTool, requireTools } from '../helpers/tools.js'

// A first build on a fresh machine (base image, npm install in the build stage) takes minutes.
t.setTimeout(45 * 60 * 1000)

const SHARED = path.resolve(ROOT, '..', 'shared', 'container')
// Overridable so two checkouts can run the container test side by side.
const IMAGE = process.env.PACKYARD_TEST_IMAGE ?? 'localhost/packyard:test'

interface Run { code: number, stdout: string, stderr: string, ms: number }

function run (cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 10 * 60 * 1000 })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }) })
  })
}

/** Runs a command that must succeed; its output goes into the failure message. */
async function must (cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${(r.stdout + r.stderr).slice(-4000)}`)
  return r
}

async function waitHealthy (url: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url}/healthz did not answer within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

t.test('the Docker image: build, run with a volume, publish, composer install, restart, upgrade, clean stop', async (t) => {
  if (!existsSync(path.join(SHARED, 'setup-podman.sh'))) {
    const msg = `${SHARED}/setup-podman.sh is missing: cannot build the image here`
    if (process.env.CI === 'true') t.fail(msg)
    else t.plan(0, msg)
    return
  }
  if (!hasTool('podman') || !existsSync('/etc/containers/containers.conf')) {
    t.comment('setting up podman (../shared/container/setup-podman.sh)')
    const setup = await run('bash', [path.join(SHARED, 'setup-podman.sh')])
    if (setup.code !== 0) t.comment(`setup-podman.sh failed:\n${(setup.stdout + setup.stderr).slice(-2000)}`)
  }
  if (!requireTools(t, 'podman', 'composer', 'php', 'unzip')) return

  // The stand-in for the Dockerfile's base image, with the major version the Dockerfile names.
  const major = /^ARG NODE_MAJOR=(\d+)$/m.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '24'
  const base = await must('bash', [path.join(SHARED, 'base-image.sh'), major], { timeoutMs: 20 * 60 * 1000 })
  t.comment(`base image: ${base.stdout.trim()} (${base.ms} ms)`)
  // Images without a tag from before the build are someone else's; those the build leaves (its
  // build stage) are removed at the end with the image itself.
  const danglingBefore = new Set((await run('podman', ['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).stdout.split('\n').filter((x) => x !== ''))
  const build = await run('podman', ['build', '--pull=never', '--format', 'docker', '-t', IMAGE, ROOT], { timeoutMs: 30 * 60 * 1000 })
  t.equal(build.code, 0, `podman build (${Math.round(build.ms / 1000)} s)`, { output: (build.stdout + build.stderr).slice(-4000) })
  if (build.code !== 0) return
  const size = Number((await must('podman', ['image', 'inspect', IMAGE, '--format', '{{.Size}}'])).stdout.trim())
  t.comment(`image ${IMAGE}: ${(size / 1e6).toFixed(1)} MB`)
  const config = JSON.parse((await must('podman', ['image', 'inspect', IMAGE, '--format', '{{json .Config}}'])).stdout) as {
    User: string, Volumes: Record<string, unknown>, ExposedPorts: Record<string, unknown>, Entrypoint: string[], StopSignal: string
  }
  const healthcheck = JSON.parse((await must('podman', ['image', 'inspect', IMAGE, '--format', '{{json .HealthCheck}}'])).stdout) as { Test?: string[] } | null
  t.equal(config.User, 'node', 'runs as the unprivileged node user')
  t.ok('/app/storage' in config.Volumes, '/app/storage is a VOLUME')
  t.ok('8080/tcp' in config.ExposedPorts, 'EXPOSE 8080')
  t.match(healthcheck?.Test?.join(' '), /^CMD node -e .*\/healthz/, 'HEALTHCHECK probes /healthz with node alone')
  t.equal(config.Entrypoint[0], '/usr/bin/tini', 'tini is PID 1')

  const id = `packyard-ct-${process.pid}-${randomBytes(3).toString('hex')}`
  const volume = `${id}-data`
  const backups = `${id}-backups`
  const restored = `${id}-restored`
  let containers: string[] = []
  t.teardown(async () => {
    if (!t.passing()) {
      for (const c of containers) {
        const logs = await run('podman', ['logs', '--tail', '40', c])
        t.comment(`podman logs ${c}:\n${logs.stdout}${logs.stderr}`)
      }
    }
    for (const c of containers) await run('podman', ['rm', '-f', '-t', '0', c])
    for (const v of [volume, backups, restored]) await run('podman', ['volume', 'rm', '-f', v])
    // Leave no image behind: the tagged image and the untagged build stage it came from.
    await run('podman', ['rmi', '-f', IMAGE])
    const dangling = (await run('podman', ['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).stdout.split('\n').filter((x) => x !== '' && !danglingBefore.has(x))
    if (dangling.length > 0) await run('podman', ['rmi', '-f', ...dangling])
  })

  /** Starts a container of the image on a data volume, with the backups volume; returns its base URL. */
  const start = async (name: string, data = volume): Promise<string> => {
    containers.push(name)
    await must('podman', ['run', '-d', '--name', name, '-p', '127.0.0.1::8080', '-v', `${data}:/app/storage`, '-v', `${backups}:/app/backups`, IMAGE])
    const port = /127\.0\.0\.1:(\d+)/.exec((await must('podman', ['port', name, '8080'])).stdout)?.[1]
    if (port === undefined) throw new Error(`no port published for ${name}`)
    const url = `http://127.0.0.1:${port}`
    await waitHealthy(url)
    return url
  }
  const packyard = async (name: string, args: string[]): Promise<any> =>
    JSON.parse((await must('podman', ['exec', name, 'packyard', '--json', ...args])).stdout)

  // 1. first start, administration through `podman exec … packyard …`
  const first = `${id}-a`
  let url = await start(first)
  t.equal((await run('podman', ['healthcheck', 'run', first])).code, 0, 'the HEALTHCHECK passes')
  const ps = (await must('podman', ['top', first, 'user', 'args'])).stdout
  t.match(ps, /node\s+\/usr\/bin\/tini -- packyard serve/, 'tini runs as node')
  t.match(ps, /node\s+node --max-semi-space-size=16 \/usr\/local\/bin\/packyard serve/, 'the server runs as node under tini, with the options of its #! line')
  const account = await packyard(first, ['account', 'create', 'alice'])
  t.equal(account.username, 'alice')
  const key = await packyard(first, ['key', 'create', 'alice', '--name', 'container test'])
  t.match(key.privateKey, /^[A-Za-z0-9]{32}$/)
  const work = tempDir(t)
  const zip = await writePackageZip(work, { name: 'acme/widget', version: '1.0.0', autoload: { 'psr-4': { 'Acme\\Widget\\': 'src/' } } },
    { files: { 'src/Widget.php': '<?php namespace Acme\\Widget; class Widget {}' } })
  await must('podman', ['cp', zip, `${first}:/tmp/acme-widget-1.0.0.zip`])
  const [published] = await packyard(first, ['publish', '--access', 'public', '/tmp/acme-widget-1.0.0.zip'])
  t.equal(published.versionNormalized, '1.0.0.0', 'published inside the container')

  // 2. the real Composer client on the host installs it
  const install = async (label: string): Promise<void> => {
    const project = composerProject(t, url, { require: { 'acme/widget': '^1.0' } })
    project.setAuth(key.publicKey, key.privateKey)
    const res = await project.run(['update'])
    t.equal(res.code, 0, `composer update (${label})`, { output: res.output })
    t.ok(existsSync(path.join(project.dir, 'vendor/acme/widget/src/Widget.php')), `vendor/acme/widget installed (${label})`)
  }
  await install('first start')
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, /^packyard_archive_downloads_total\{package="acme\/widget"\} 1$/m, '/metrics counted the download')
  const backup = await packyard(first, ['backup', '/app/backups/nightly'])
  t.match(backup, { database: '/app/backups/nightly/packyard.sqlite', packages: 1, versions: 1, archives: 1 }, 'packyard backup into the backups volume')

  // 3. restart: the data is still there
  await must('podman', ['restart', first])
  url = `http://127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec((await must('podman', ['port', first, '8080'])).stdout)?.[1]}`
  await waitHealthy(url)
  t.same((await packyard(first, ['package', 'list'])).map((p: { name: string }) => p.name), ['acme/widget'], 'the package survived a restart')
  await install('after restart')

  // 4. upgrade: a new container of the image on the same volume
  const stopA = await must('podman', ['stop', '-t', '30', first])
  t.ok(stopA.ms < 10_000, `podman stop took ${stopA.ms} ms`)
  await must('podman', ['rm', first])
  containers = containers.filter((c) => c !== first)
  const second = `${id}-b`
  url = await start(second)
  t.same((await packyard(second, ['key', 'list', 'alice'])).map((k: { publicKey: string }) => k.publicKey), [key.publicKey], 'the key survived a new container')
  await install('new container on the same volume')

  // 5. a clean stop: SIGTERM reaches Node through tini, exit code 0 well before podman's SIGKILL
  const stop = await must('podman', ['stop', '-t', '30', second])
  const state = JSON.parse((await must('podman', ['inspect', second, '--format', '{{json .State}}'])).stdout) as { ExitCode: number, OOMKilled: boolean }
  t.equal(state.ExitCode, 0, 'exit code 0')
  t.ok(stop.ms < 10_000, `stopped in ${stop.ms} ms (SIGKILL would come after 30 s)`)
  t.match((await must('podman', ['logs', second])).stdout, /"msg":"shutdown complete"/, 'the server logged a complete shutdown')

  // 6. restore the backup into a new volume, exactly as the README says, and install from it
  const cp = await run('podman', ['run', '--rm', '-v', `${restored}:/app/storage`, '-v', `${backups}:/backup:ro`, '--entrypoint', 'cp', IMAGE, '-a', '/backup/nightly/.', '/app/storage/'])
  t.equal(cp.code, 0, 'README restore: cp -a /backup/<name>/. /app/storage/', { output: cp.stdout + cp.stderr })
  const third = `${id}-c`
  url = await start(third, restored)
  t.same((await packyard(third, ['package', 'list'])).map((p: { name: string }) => p.name), ['acme/widget'], 'the restored volume has the package')
  await install('restored from the backup')
})

t.teardown(() => {
  t.comment(`container test: ${t.passing() ? 'PASS' : 'FAIL'}`)
})
