import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { basic, buildTestApp, cliJson, runCli, tempDir } from '../helpers/harness.js'
import { browser, csrfOf, issuedPairOf, registered, textOf } from '../helpers/web.js'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createLoginThrottle } from '../../src/services/login-throttle.js'
import { createKeyVault, parseRevealKey } from '../../src/services/key-vault.js'
import { createSessionService, SESSION_IDLE_MS } from '../../src/services/sessions.js'
import { createSessionsRepository } from '../../src/repositories/sessions.js'
import { createAccountsRepository } from '../../src/repositories/accounts.js'
import { openDatabase } from '../../src/db/database.js'
import { html } from '../../src/web/html.js'

const PASSWORD = 'correct horse battery'
const REVEAL_KEY = 'a3f1c27e9b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7'

/** The database as bytes: the main file and its write-ahead log, where fresh pages live. */
function databaseBytes (dataDir: string): Buffer {
  const file = path.join(dataDir, 'packyard.sqlite')
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)))
}

async function composerStatus (app: FastifyInstance, pair: { publicKey: string, privateKey: string }): Promise<number> {
  return (await app.inject({ url: '/packages.json', headers: basic(pair.publicKey, pair.privateKey) })).statusCode
}

async function createKey (b: ReturnType<typeof browser>, name: string) {
  const res = await b.submit('/account/keys', '/account/keys', { name })
  if (res.statusCode !== 200) throw new Error(`key creation failed (${res.statusCode})`)
  return { ...issuedPairOf(res.body), page: res.body }
}

t.test('register, log out, log in: session cookie is HttpOnly, SameSite=Lax, scoped to /account', async (t) => {
  const { app } = await buildTestApp(t)
  const b = browser(app)
  const form = await b.get('/account/register')
  t.equal(form.statusCode, 200)
  t.match(form.headers['content-type'], /^text\/html/)
  t.match(form.body, /<label for="username">Username<\/label>/)
  t.match(form.body, /<label for="password">Password<\/label>/)
  t.match(form.headers['content-security-policy'], /default-src 'self'/)

  const res = await b.post('/account/register', { _csrf: csrfOf(form.body), username: 'alice', email: 'alice@example.com', password: PASSWORD, password2: PASSWORD })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/account/keys')
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('packyard_session='))
  t.ok(setCookie, 'a session cookie is set')
  t.match(setCookie, /; HttpOnly/)
  t.match(setCookie, /; SameSite=Lax/)
  t.match(setCookie, /; Path=\/account/)
  t.notMatch(setCookie, /Secure/, 'no Secure flag over plain http')

  const keys = await b.get('/account/keys')
  t.equal(keys.statusCode, 200)
  t.match(textOf(keys.body), /Welcome, alice\. Your MAGEID is MAG\d{9}/)
  t.match(keys.body, /Signed in as <strong>alice<\/strong>/)
  t.equal(keys.headers['cache-control'], 'no-store')

  const logout = await b.post('/account/logout', { _csrf: csrfOf(keys.body) })
  t.equal(logout.statusCode, 303)
  t.equal(logout.headers.location, '/account/login?loggedOut=1')
  const after = await b.get('/account/keys')
  t.equal(after.statusCode, 303, 'the session is gone after logout')
  t.equal(after.headers.location, '/account/login?next=%2Faccount%2Fkeys')

  const wrong = await b.submit('/account/login', '/account/login', { username: 'alice', password: 'not the password' })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.body, /Wrong username or password/)
  const login = await b.submit('/account/login?next=/account/downloads-token', '/account/login', { username: 'alice', password: PASSWORD, next: '/account/downloads-token' })
  t.equal(login.statusCode, 303)
  t.equal(login.headers.location, '/account/downloads-token', 'back to the page that asked for a login')
  t.equal((await b.get('/account/keys')).statusCode, 200)

  const open = await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD, next: '//evil.example/account/' })
  t.equal(open.headers.location, '/account/keys', 'no open redirect')
})

t.test('the session cookie is Secure when the request came over https', async (t) => {
  const { app } = await buildTestApp(t, { trustProxy: true })
  const b = browser(app)
  const form = await b.get('/account/register', { 'x-forwarded-proto': 'https' })
  const res = await b.post('/account/register', { _csrf: csrfOf(form.body), username: 'alice', password: PASSWORD, password2: PASSWORD }, { 'x-forwarded-proto': 'https' })
  t.equal(res.statusCode, 303)
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('packyard_session='))
  t.match(cookie, /; Secure/)
  t.match(cookie, /; HttpOnly/)
})

t.test('a form post without a valid form token is refused', async (t) => {
  const { app } = await buildTestApp(t, { keyRevealKey: REVEAL_KEY })
  const alice = await registered(app, 'alice', PASSWORD)
  const bob = await registered(app, 'bob', PASSWORD)

  const none = await alice.post('/account/keys', { name: 'sneaky' })
  t.equal(none.statusCode, 403)
  t.match(none.headers['content-type'], /^text\/html/)
  t.match(none.body, /This form has expired or did not come from this site/)

  const forged = await alice.post('/account/keys', { name: 'sneaky', _csrf: 'A'.repeat(43) })
  t.equal(forged.statusCode, 403)

  const bobsToken = csrfOf((await bob.get('/account/keys')).body)
  t.equal((await alice.post('/account/keys', { name: 'sneaky', _csrf: bobsToken })).statusCode, 403, "another session's token does not fit")

  const anonymousToken = csrfOf((await browser(app).get('/account/login')).body)
  t.equal((await alice.post('/account/keys', { name: 'sneaky', _csrf: anonymousToken })).statusCode, 403)

  const keys = await alice.get('/account/keys')
  t.notMatch(keys.body, /sneaky/, 'no key was created')

  // Every other form too: logout, key actions (reveal is on here), token, login and register.
  const key = await createKey(alice, 'laptop')
  const off = await createKey(alice, 'disabled one')
  t.equal((await alice.submit('/account/keys', `/account/keys/${off.publicKey}/disable`)).statusCode, 303)
  t.equal(await composerStatus(app, off), 401)
  for (const url of ['/account/logout', `/account/keys/${key.publicKey}/disable`, `/account/keys/${key.publicKey}/rename`,
    `/account/keys/${key.publicKey}/regenerate`, `/account/keys/${key.publicKey}/delete`, '/account/downloads-token',
    `/account/keys/${off.publicKey}/enable`, `/account/keys/${key.publicKey}/reveal`]) {
    for (const form of [{ name: 'x', password: PASSWORD }, { name: 'x', password: PASSWORD, _csrf: 'A'.repeat(43) }] as Array<Record<string, string>>) {
      const res = await alice.post(url, form)
      t.equal(res.statusCode, 403, url)
      t.notMatch(res.body, key.privateKey, 'no key material in the answer')
    }
  }
  t.equal(await composerStatus(app, key), 200, 'the key was left alone')
  t.equal(await composerStatus(app, off), 401, 'the disabled key stayed disabled')
  const after = await alice.get('/account/keys')
  t.match(after.body, new RegExp(`id="name-${key.publicKey}" name="name" value="laptop"`), 'not renamed')
  t.ok(alice.cookies.has('packyard_session'), 'still logged in')
  t.equal((await browser(app).post('/account/login', { username: 'alice', password: PASSWORD })).statusCode, 403, 'login without a token')
  t.equal((await browser(app).post('/account/register', { username: 'carol', password: PASSWORD, password2: PASSWORD })).statusCode, 403, 'register without a token')
})

t.test('Access Keys page: create, read, rename, disable, enable, regenerate, delete; Composer sees each at once', async (t) => {
  const { app } = await buildTestApp(t)
  const b = await registered(app, 'alice', PASSWORD)

  const empty = await b.get('/account/keys')
  t.match(empty.body, /No access keys yet/)
  t.match(empty.body, /<label for="new-key-name">Key name<\/label>/)

  const laptop = await createKey(b, 'alice laptop')
  t.match(textOf(laptop.page), /Created the access key “alice laptop”/)
  t.match(textOf(laptop.page), /stored only as a hash, so it cannot be shown again/)
  t.match(laptop.page, /data-copy="new-private-key"/, 'a copy button for the private key')
  t.match(textOf(laptop.page), /"username": "[0-9a-f]{32}"/, 'an auth.json snippet')
  const ci = await createKey(b, 'GitHub Actions')
  t.not(ci.publicKey, laptop.publicKey)

  const page = await b.get('/account/keys')
  t.match(page.body, new RegExp(`id="key-${laptop.publicKey}"`))
  t.match(page.body, new RegExp(`id="key-${ci.publicKey}"`))
  t.match(textOf(page.body), /alice laptop/)
  t.match(textOf(page.body), /GitHub Actions/)
  t.notMatch(page.body, new RegExp(laptop.privateKey), 'the private key is not shown again')
  t.notMatch(page.body, new RegExp(ci.privateKey))
  t.match(page.body, /Last used<\/dt><dd><span class="muted">Never/)
  t.equal(await composerStatus(app, laptop), 200)
  t.equal(await composerStatus(app, ci), 200)
  t.match((await b.get('/account/keys')).body, /Last used<\/dt><dd><time datetime=/, 'last-used time shows up after a Composer request')

  const renamed = await b.submit('/account/keys', `/account/keys/${ci.publicKey}/rename`, { name: 'ci-server' })
  t.equal(renamed.statusCode, 303)
  const afterRename = await b.get('/account/keys')
  t.match(textOf(afterRename.body), /Renamed “GitHub Actions” to “ci-server”/)
  t.match(afterRename.body, new RegExp(`id="name-${ci.publicKey}" name="name" value="ci-server"`))
  const badName = await b.submit('/account/keys', `/account/keys/${ci.publicKey}/rename`, { name: '   ' })
  t.equal(badName.statusCode, 303)
  t.match(textOf((await b.get('/account/keys')).body), /invalid key name/, 'a clear error message')

  await b.submit('/account/keys', `/account/keys/${ci.publicKey}/disable`)
  const disabled = await b.get('/account/keys')
  t.match(textOf(disabled.body), /Disabled “ci-server”/)
  t.match(disabled.body, /class="badge off">Disabled/)
  t.equal(await composerStatus(app, ci), 401, 'disabled: Composer is refused on the next request')
  t.equal(await composerStatus(app, laptop), 200, 'the other key is untouched')
  await b.submit('/account/keys', `/account/keys/${ci.publicKey}/enable`)
  t.match(textOf((await b.get('/account/keys')).body), /Enabled “ci-server”/)
  t.equal(await composerStatus(app, ci), 200, 'enabled again')

  const confirm = await b.get(`/account/keys/${ci.publicKey}/regenerate`)
  t.equal(confirm.statusCode, 200)
  t.match(confirm.body, /Regenerate this key\?/)
  t.match(confirm.body, /stops working at once/)
  t.equal(await composerStatus(app, ci), 200, 'showing the confirmation changes nothing')
  const regenerated = await b.post(`/account/keys/${ci.publicKey}/regenerate`, { _csrf: csrfOf(confirm.body) })
  t.equal(regenerated.statusCode, 200)
  const fresh = issuedPairOf(regenerated.body)
  t.not(fresh.publicKey, ci.publicKey)
  t.match(textOf(regenerated.body), /The old pair no longer works/)
  t.equal(await composerStatus(app, ci), 401, 'the old pair stops working at once')
  t.equal(await composerStatus(app, fresh), 200, 'the new pair works')

  const del = await b.get(`/account/keys/${fresh.publicKey}/delete`)
  t.match(del.body, /Delete this key\?/)
  t.equal((await b.post(`/account/keys/${fresh.publicKey}/delete`, { _csrf: csrfOf(del.body) })).statusCode, 303)
  const afterDelete = await b.get('/account/keys')
  t.match(textOf(afterDelete.body), /Deleted “ci-server”/)
  t.notMatch(afterDelete.body, new RegExp(fresh.publicKey))
  t.equal(await composerStatus(app, fresh), 401)
  t.equal(await composerStatus(app, laptop), 200)

  const invalid = await b.submit('/account/keys', '/account/keys', { name: '' })
  t.equal(invalid.statusCode, 400)
  t.match(textOf(invalid.body), /Invalid key name/)
})

t.test('page output is escaped', async (t) => {
  const { app } = await buildTestApp(t)
  const b = await registered(app, 'alice', PASSWORD)
  const res = await b.submit('/account/keys', '/account/keys', { name: '<script>alert("x")</script> & co' })
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, /<script>alert/)
  t.match(res.body, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; co/)
  t.equal(html`<p>${'<b>'}${['<i>', html`<em>ok</em>`]}</p>`.value, '<p>&lt;b&gt;&lt;i&gt;<em>ok</em></p>')
})

t.test('one account can never see or change another account\'s keys through the pages', async (t) => {
  const { app } = await buildTestApp(t)
  const alice = await registered(app, 'alice', PASSWORD)
  const bob = await registered(app, 'bob', PASSWORD)
  const key = await createKey(alice, 'alice laptop')

  const bobsPage = await bob.get('/account/keys')
  t.notMatch(bobsPage.body, new RegExp(key.publicKey))
  t.notMatch(bobsPage.body, /alice laptop/)
  const csrf = csrfOf(bobsPage.body)
  for (const url of [`/account/keys/${key.publicKey}/regenerate`, `/account/keys/${key.publicKey}/delete`, `/account/keys/${key.publicKey}/reveal`]) {
    const res = await bob.get(url)
    t.equal(res.statusCode, 404, `GET ${url}`)
    t.match(res.headers['content-type'], /^text\/html/)
  }
  for (const verb of ['rename', 'disable', 'enable', 'regenerate', 'delete', 'reveal']) {
    const res = await bob.post(`/account/keys/${key.publicKey}/${verb}`, { _csrf: csrf, name: 'pwned', password: PASSWORD })
    t.equal(res.statusCode, 404, `POST ${verb}`)
    t.notMatch(res.body, /[0-9a-f]{32}"?<\/code>/, 'no key material in the answer')
  }
  const alicePage = await alice.get('/account/keys')
  t.match(alicePage.body, new RegExp(`id="name-${key.publicKey}" name="name" value="alice laptop"`), 'name unchanged')
  t.match(alicePage.body, /class="badge on">Enabled/)
  t.equal(await composerStatus(app, key), 200, 'the key still works')
})

t.test('failed logins are throttled with 429 and Retry-After; the owner elsewhere is not locked out', async (t) => {
  const { app } = await buildTestApp(t)
  await registered(app, 'alice', PASSWORD)
  const attacker = browser(app, { remoteAddress: '203.0.113.9' })
  for (let i = 1; i <= 5; i++) {
    const res = await attacker.submit('/account/login', '/account/login', { username: 'alice', password: `guess ${i}` })
    t.equal(res.statusCode, 401, `failure ${i}`)
  }
  const throttled = await attacker.submit('/account/login', '/account/login', { username: 'alice', password: 'guess 6' })
  t.equal(throttled.statusCode, 429)
  const retryAfter = Number(throttled.headers['retry-after'])
  t.ok(retryAfter >= 25 && retryAfter <= 60, `Retry-After ${retryAfter}`)
  t.match(textOf(throttled.body), /Too many failed attempts\. Wait \d+ seconds/)
  const evenRight = await attacker.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })
  t.equal(evenRight.statusCode, 429, 'no password is checked while throttled')

  const owner = browser(app, { remoteAddress: '198.51.100.7' })
  const ok = await owner.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })
  t.equal(ok.statusCode, 303, 'the owner from another address logs in')
})

t.test('login throttle: short, modestly growing waits; a success resets', async (t) => {
  let now = 1_000_000
  const throttle = createLoginThrottle({ now: () => now })
  const wrong = async (): Promise<undefined> => undefined
  const right = async (): Promise<string> => 'ok'
  const guess = (username: string, address: string) => throttle.attempt(username, address, wrong)
  for (let i = 0; i < 5; i++) t.same(await guess('alice', '10.0.0.1'), { throttled: false, value: undefined })
  t.same(await throttle.attempt('Alice', '10.0.0.1', right), { throttled: true, retryAfterSeconds: 30 }, 'usernames are case-insensitive; even the right password waits')
  t.same(await throttle.attempt('alice', '10.0.0.2', right), { throttled: false, value: 'ok' }, 'another address is not affected')
  now += 30_000
  t.same(await guess('alice', '10.0.0.1'), { throttled: false, value: undefined }, 'allowed again after 30 s')
  t.same(await guess('alice', '10.0.0.1'), { throttled: true, retryAfterSeconds: 60 }, 'the next wait doubles')
  now += 60_000
  t.same(await throttle.attempt('alice', '10.0.0.1', right), { throttled: false, value: 'ok' })
  for (let i = 0; i < 4; i++) await guess('alice', '10.0.0.1')
  t.equal((await throttle.attempt('alice', '10.0.0.1', right)).throttled, false, 'a success starts the count again')
  for (let i = 0; i < 20; i++) {
    now += 5 * 60_000
    await guess('alice', '10.0.0.3')
  }
  t.same(await guess('alice', '10.0.0.3'), { throttled: true, retryAfterSeconds: 300 }, 'capped at 5 minutes')
  now += 16 * 60_000
  await guess('alice', '10.0.0.3')
  t.equal((await guess('alice', '10.0.0.3')).throttled, false, 'a quiet 15 minutes forgets earlier failures')
  await t.rejects(throttle.attempt('bob', '10.0.0.4', async () => { throw new Error('database gone') }), /database gone/)
  for (let i = 0; i < 4; i++) await guess('bob', '10.0.0.4')
  t.equal((await guess('bob', '10.0.0.4')).throttled, true, 'a check that threw counted as a failure')

  const spray = createLoginThrottle({ now: () => now, maxFailuresPerAddress: 10 })
  for (let i = 0; i < 10; i++) await spray.attempt(`user${i}`, '10.9.9.9', wrong)
  t.equal((await spray.attempt('someone-else', '10.9.9.9', right)).throttled, true, 'one address guessing many usernames is throttled too')
  t.equal(spray.size(), 11, 'one entry per username and address, one for the address')
})

t.test('login throttle: attempts in flight are reserved, so parallel guesses cannot all be checked', async (t) => {
  const throttle = createLoginThrottle({ maxFailuresPerAddress: 8 })
  let verified = 0
  const slowWrong = async (): Promise<undefined> => {
    verified++
    await new Promise((resolve) => setTimeout(resolve, 20))
    return undefined
  }
  const outcomes = await Promise.all(Array.from({ length: 20 }, async () => await throttle.attempt('alice', '10.0.0.1', slowWrong)))
  t.equal(verified, 5, 'only five checks ran')
  t.equal(outcomes.filter((o) => o.throttled).length, 15)
  t.ok(outcomes.every((o) => !o.throttled || o.retryAfterSeconds === 1), 'the rest are told to retry in a second…')
  t.same(await throttle.attempt('alice', '10.0.0.1', async () => 'ok'), { throttled: true, retryAfterSeconds: 30 }, '…when the real wait applies, to the right password too')

  // Past the limit, each wait lets exactly one attempt through, however many are sent.
  let slowRight = 0
  const rightSlowly = async (): Promise<string> => {
    slowRight++
    await new Promise((resolve) => setTimeout(resolve, 20))
    return 'ok'
  }
  const elsewhere = await Promise.all(Array.from({ length: 5 }, async () => await throttle.attempt('bob', '10.0.0.1', rightSlowly)))
  t.equal(slowRight, 3, 'the address limit (8) counts in-flight checks too: 5 failures + 3')
  t.equal(elsewhere.filter((o) => !o.throttled && o.value === 'ok').length, 3)
  t.equal((await throttle.attempt('bob', '10.0.0.1', async () => 'ok')).throttled, false, 'successes give their reservation back')
  t.equal((await throttle.attempt('alice', '10.0.0.2', async () => 'ok')).throttled, false, 'the owner elsewhere is fine')
})

t.test('sessions expire when idle and after logout; only a hash of the id is stored', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(path.join(dir, 'db.sqlite'))
  t.teardown(() => db.close())
  const account = createAccountsRepository(db).create({ username: 'alice', mageId: 'MAG000000001', email: null, passwordHash: null })
  let now = Date.now()
  const sessions = createSessionService({ sessions: createSessionsRepository(db), now: () => now })
  const id = sessions.create(account.id)
  t.match(id, /^[A-Za-z0-9_-]{43}$/)
  t.equal(sessions.resolve(id)?.accountId, account.id)
  t.notOk(databaseBytes(dir).includes(id), 'the id itself is not in the database')
  now += SESSION_IDLE_MS - 1000
  t.ok(sessions.resolve(id), 'still valid just before the idle limit')
  now += SESSION_IDLE_MS - 1000
  t.ok(sessions.resolve(id), 'use extends it')
  now += SESSION_IDLE_MS + 1
  t.equal(sessions.resolve(id), undefined, 'expired after being idle')
  t.equal(sessions.resolve('not-a-session'), undefined)
})

t.test('the database holds no password, private key, token or session id in clear', async (t) => {
  const dataDir = tempDir(t)
  const config = loadConfig({}, { dataDir, lastUsedFlushMs: 0, logLevel: 'info', keyRevealKey: REVEAL_KEY })
  let log = ''
  const app = await buildApp(config, { logStream: { write: (s: string) => { log += s; return true } } as unknown as NodeJS.WritableStream })
  let closed = false
  t.teardown(async () => { if (!closed) await app.close() })
  const b = await registered(app, 'alice', PASSWORD)
  const secrets: string[] = [PASSWORD, b.cookies.get('packyard_session')!]
  const first = await createKey(b, 'laptop')
  const second = await createKey(b, 'ci')
  const regenerated = issuedPairOf((await b.submit(`/account/keys/${second.publicKey}/regenerate`, `/account/keys/${second.publicKey}/regenerate`)).body)
  const token = /id="new-token">([0-9a-f]{40})</.exec((await b.submit('/account/downloads-token', '/account/downloads-token')).body)![1]!
  const token2 = /id="new-token">([0-9a-f]{40})</.exec((await b.submit('/account/downloads-token', '/account/downloads-token')).body)![1]!
  const revealPage = await b.get(`/account/keys/${first.publicKey}/reveal`)
  const revealed = await b.post(`/account/keys/${first.publicKey}/reveal`, { _csrf: csrfOf(revealPage.body), password: PASSWORD })
  t.match(revealed.body, first.privateKey, 'reveal works in this setup')
  secrets.push(first.privateKey, second.privateKey, regenerated.privateKey, token, token2, csrfOf(revealPage.body), REVEAL_KEY)
  t.equal(await composerStatus(app, first), 200)

  const check = (bytes: Buffer, when: string): void => {
    for (const s of secrets) {
      t.notOk(bytes.includes(Buffer.from(s)), `${when}: ${s.slice(0, 6)}… is not in the database`)
      t.notOk(bytes.includes(Buffer.from(s, 'utf16le')), `${when}: not as UTF-16 either`)
    }
    t.notOk(bytes.includes(Buffer.from(REVEAL_KEY, 'hex')), `${when}: the reveal key bytes are not stored`)
  }
  check(databaseBytes(dataDir), 'open, with the WAL')
  await app.close()
  closed = true
  check(databaseBytes(dataDir), 'closed')
  for (const s of secrets) t.notOk(log.includes(s), `the log does not contain ${s.slice(0, 6)}…`)
})

t.test('key reveal on: view a key again after re-entering the password; still no private key in clear', async (t) => {
  const { app, dataDir } = await buildTestApp(t, { keyRevealKey: REVEAL_KEY })
  const b = await registered(app, 'alice', PASSWORD)
  const key = await createKey(b, 'laptop')
  t.match(textOf(key.page), /you can view it again later after entering your password/)
  const page = await b.get('/account/keys')
  t.match(page.body, new RegExp(`href="/account/keys/${key.publicKey}/reveal"`), 'a view link is offered')
  t.notMatch(page.body, new RegExp(key.privateKey))

  const form = await b.get(`/account/keys/${key.publicKey}/reveal`)
  t.equal(form.statusCode, 200)
  t.match(form.body, /<label for="password">Password<\/label>/)
  t.notMatch(form.body, new RegExp(key.privateKey), 'nothing before the password')
  const wrong = await b.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrfOf(form.body), password: 'wrong password!' })
  t.equal(wrong.statusCode, 401)
  t.notMatch(wrong.body, new RegExp(key.privateKey))
  t.match(wrong.body, /Wrong password/)
  const shown = await b.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrfOf(form.body), password: PASSWORD })
  t.equal(shown.statusCode, 200)
  t.match(shown.body, new RegExp(`id="revealed-private-key">${key.privateKey}<`))
  t.equal(shown.headers['cache-control'], 'no-store')

  const regenerated = issuedPairOf((await b.submit(`/account/keys/${key.publicKey}/regenerate`, `/account/keys/${key.publicKey}/regenerate`)).body)
  const form2 = await b.get(`/account/keys/${regenerated.publicKey}/reveal`)
  const shown2 = await b.post(`/account/keys/${regenerated.publicKey}/reveal`, { _csrf: csrfOf(form2.body), password: PASSWORD })
  t.match(shown2.body, regenerated.privateKey, 'a regenerated key can be viewed too')
  t.equal((await b.get(`/account/keys/${key.publicKey}/reveal`)).statusCode, 404, 'the old public key is gone')

  const bytes = databaseBytes(dataDir)
  for (const s of [key.privateKey, regenerated.privateKey]) t.notOk(bytes.includes(Buffer.from(s)), 'no private key in clear')
})

t.test('key reveal: keys created with the CLI are encrypted too; a key made while reveal was off cannot be viewed', async (t) => {
  const dataDir = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'alice', '--password-stdin'], { stdin: `${PASSWORD}\n` })
  const before = await cliJson(dataDir, ['key', 'create', 'alice', '--name', 'made while off'])
  const env = { PACKYARD_KEY_REVEAL_KEY: REVEAL_KEY }
  const made = JSON.parse((await runCli(dataDir, ['--json', 'key', 'create', 'alice', '--name', 'cli key'], { env })).stdout)
  t.notOk(databaseBytes(dataDir).includes(Buffer.from(made.privateKey)))

  const app = await buildApp(loadConfig({}, { dataDir, lastUsedFlushMs: 0, logLevel: 'silent', keyRevealKey: REVEAL_KEY }))
  t.teardown(() => app.close())
  const b = browser(app)
  t.equal((await b.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 303)
  const page = await b.get('/account/keys')
  t.match(page.body, new RegExp(`/account/keys/${made.publicKey}/reveal`))
  t.notMatch(page.body, new RegExp(`/account/keys/${before.publicKey}/reveal`), 'no view link for a key without an encrypted copy')
  const form = await b.get(`/account/keys/${made.publicKey}/reveal`)
  const shown = await b.post(`/account/keys/${made.publicKey}/reveal`, { _csrf: csrfOf(form.body), password: PASSWORD })
  t.match(shown.body, made.privateKey)
  const old = await b.get(`/account/keys/${before.publicKey}/reveal`)
  t.equal(old.statusCode, 409)
  t.match(textOf(old.body), /Regenerate it to get a new pair/)
})

t.test('key reveal off (the default): no reveal offered, and turning it off drops the encrypted copies', async (t) => {
  const dataDir = tempDir(t)
  const on = await buildApp(loadConfig({}, { dataDir, lastUsedFlushMs: 0, logLevel: 'silent', keyRevealKey: REVEAL_KEY }))
  const b = await registered(on, 'alice', PASSWORD)
  const key = await createKey(b, 'laptop')
  await on.close()
  const countSealed = (): number => {
    const db = openDatabase(path.join(dataDir, 'packyard.sqlite'))
    try { return (db.prepare('SELECT count(*) AS n FROM access_keys WHERE private_key_sealed IS NOT NULL').get() as { n: number }).n } finally { db.close() }
  }
  t.equal(countSealed(), 1)

  const off = await buildApp(loadConfig({}, { dataDir, lastUsedFlushMs: 0, logLevel: 'silent' }))
  t.teardown(() => off.close())
  t.equal(countSealed(), 0, 'nothing reversible is stored with the option off')
  const b2 = browser(off)
  await b2.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })
  const page = await b2.get('/account/keys')
  t.notMatch(page.body, /reveal|View private key/)
  const created = await createKey(b2, 'ci')
  t.match(textOf(created.page), /cannot be shown again/)
  t.equal((await b2.get(`/account/keys/${key.publicKey}/reveal`)).statusCode, 404)
  t.equal((await b2.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrfOf(page.body), password: PASSWORD })).statusCode, 404)
  t.equal(countSealed(), 0)
})

t.test('key vault: AES-256-GCM bound to the public key; key formats', async (t) => {
  const vault = createKeyVault(parseRevealKey(REVEAL_KEY)!)
  const sealed = vault.seal('a'.repeat(32), 'b'.repeat(32))
  t.equal(vault.open('a'.repeat(32), sealed), 'b'.repeat(32))
  t.throws(() => vault.open('c'.repeat(32), sealed), /does not verify/, 'a copy opens only for its own row')
  t.throws(() => createKeyVault(Buffer.alloc(32, 1)).open('a'.repeat(32), sealed), /different reveal key/)
  t.not(vault.seal('a'.repeat(32), 'b'.repeat(32)).toString('hex'), sealed.toString('hex'), 'a fresh IV every time')
  t.equal(parseRevealKey(Buffer.from(REVEAL_KEY, 'hex').toString('base64'))?.toString('hex'), REVEAL_KEY)
  t.equal(parseRevealKey('too short'), undefined)
  t.throws(() => loadConfig({ PACKYARD_KEY_REVEAL_KEY: 'nope' }), /PACKYARD_KEY_REVEAL_KEY/)

  const dir = tempDir(t)
  const file = path.join(dir, 'reveal.key')
  writeFileSync(file, `${REVEAL_KEY}\n`, { mode: 0o600 })
  const { app } = await buildTestApp(t, { keyRevealKeyFile: file })
  const b = await registered(app, 'alice', PASSWORD)
  const key = await createKey(b, 'laptop')
  const form = await b.get(`/account/keys/${key.publicKey}/reveal`)
  t.match((await b.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrfOf(form.body), password: PASSWORD })).body, key.privateKey, 'the key can come from a key file')
  await t.rejects(buildTestApp(t, { keyRevealKeyFile: path.join(dir, 'missing.key') }), /cannot read PACKYARD_KEY_REVEAL_KEY_FILE/)
})

t.test('downloads token page: shows the MAGEID; a new token replaces the old one and is shown once', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const b = await registered(app, 'alice', PASSWORD)
  const src = path.join(tempDir(t), 'Packyard-1.0.0.zip')
  writeFileSync(src, 'release bytes')
  await app.ctx.downloads.addRelease(src, { version: '1.0.0' })
  const page = await b.get('/account/downloads-token')
  t.equal(page.statusCode, 200)
  const mageId = /id="mage-id">(MAG\d{9})</.exec(page.body)![1]!
  t.match(textOf(page.body), /none generated yet/)
  const first = await b.post('/account/downloads-token', { _csrf: csrfOf(page.body) })
  t.equal(first.statusCode, 200)
  const token = /id="new-token">([0-9a-f]{40})</.exec(first.body)![1]!
  t.match(textOf(first.body), /cannot be shown again/)
  t.match(textOf(first.body), new RegExp(`curl -u ${mageId}:${token} http://localhost(:80)?/products/downloads/info/files`))
  const again = await b.get('/account/downloads-token')
  t.notMatch(again.body, new RegExp(token), 'shown once')
  t.match(textOf(again.body), /Token: generated/)
  const files = await app.inject({ url: '/products/downloads/info/files', headers: basic(mageId, token) })
  t.equal(files.statusCode, 200)
  t.match(files.body, /Packyard-1\.0\.0\.zip$/m)
  const second = await b.post('/account/downloads-token', { _csrf: csrfOf(again.body) })
  const token2 = /id="new-token">([0-9a-f]{40})</.exec(second.body)![1]!
  t.equal((await app.inject({ url: '/products/downloads/info/files', headers: basic(mageId, token) })).statusCode, 401, 'the old token stops working')
  t.equal((await app.inject({ url: '/products/downloads/info/files', headers: basic(mageId, token2) })).statusCode, 200)
  t.ok(dataDir)
})

t.test('registration can be closed; accounts created by the operator still log in', async (t) => {
  const { app, dataDir } = await buildTestApp(t, { registration: 'closed' })
  const b = browser(app)
  const page = await b.get('/account/register')
  t.equal(page.statusCode, 403)
  t.match(page.body, /Registration is closed/)
  const login = await b.get('/account/login')
  t.notMatch(login.body, /Create an account/)
  const res = await b.post('/account/register', { _csrf: csrfOf(login.body), username: 'mallory', password: PASSWORD, password2: PASSWORD })
  t.equal(res.statusCode, 403)
  t.equal(app.ctx.accounts.list().length, 0)
  await app.ctx.accounts.create({ username: 'alice', password: PASSWORD })
  t.equal((await b.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 303)
  t.ok(dataDir)
})

t.test('registration form errors are shown on the form', async (t) => {
  const { app } = await buildTestApp(t)
  const b = browser(app)
  const short = await b.submit('/account/register', '/account/register', { username: 'alice', password: 'short', password2: 'short' })
  t.equal(short.statusCode, 400)
  t.match(textOf(short.body), /password too short/)
  t.match(short.body, /value="alice"/, 'what was typed is kept')
  const differ = await b.submit('/account/register', '/account/register', { username: 'alice', password: PASSWORD, password2: `${PASSWORD}!` })
  t.equal(differ.statusCode, 400)
  t.match(textOf(differ.body), /The two passwords differ/)
  await registered(app, 'alice', PASSWORD)
  const taken = await browser(app).submit('/account/register', '/account/register', { username: 'ALICE', password: PASSWORD, password2: PASSWORD })
  t.equal(taken.statusCode, 409)
  t.match(textOf(taken.body), /already exists/)
})

t.test('web errors are HTML pages; assets are served; logged-out pages redirect to login', async (t) => {
  const { app } = await buildTestApp(t)
  const missing = await app.inject({ url: '/account/no-such-page' })
  t.equal(missing.statusCode, 404)
  t.match(missing.headers['content-type'], /^text\/html/)
  t.match(missing.body, /<h1>Not found<\/h1>/)
  const css = await app.inject({ url: '/account/assets/style.css' })
  t.equal(css.statusCode, 200)
  t.match(css.headers['content-type'], /^text\/css/)
  t.match(css.body, /@media \(max-width: 600px\)/)
  const js = await app.inject({ url: '/account/assets/app.js' })
  t.match(js.headers['content-type'], /^text\/javascript/)
  t.match(js.body, /navigator\.clipboard/)
  t.equal((await app.inject({ url: '/account/assets/nope.css' })).statusCode, 404)
  t.equal((await app.inject({ url: '/account/assets/style.css', headers: { 'if-none-match': css.headers.etag as string } })).statusCode, 304)
  for (const url of ['/account/keys', '/account/downloads-token', '/account/keys/0123456789abcdef0123456789abcdef/delete']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 303, url)
    t.match(res.headers.location, /^\/account\/login/)
  }
  t.equal((await app.inject({ url: '/account' })).headers.location, '/account/login')
  const apiMissing = await app.inject({ url: '/api/v1/nope' })
  t.match(apiMissing.headers['content-type'], /^application\/json/, 'outside /account errors stay JSON')
})

t.test('config: registration and key reveal settings', async (t) => {
  t.equal(loadConfig({}).registrationOpen, true, 'open by default')
  t.equal(loadConfig({ PACKYARD_REGISTRATION: 'closed' }).registrationOpen, false)
  t.equal(loadConfig({ PACKYARD_REGISTRATION: 'open' }).registrationOpen, true)
  t.throws(() => loadConfig({ PACKYARD_REGISTRATION: 'maybe' }), /PACKYARD_REGISTRATION/)
  const off = loadConfig({})
  t.equal(off.keyRevealKey, undefined, 'reveal is off by default')
  t.equal(off.keyRevealKeyFile, undefined)
  t.equal(loadConfig({ PACKYARD_KEY_REVEAL_KEY: REVEAL_KEY }).keyRevealKey, REVEAL_KEY)
  t.equal(loadConfig({ PACKYARD_KEY_REVEAL_KEY_FILE: 'secrets/reveal.key' }, {}, '/srv/packyard').keyRevealKeyFile, '/srv/packyard/secrets/reveal.key')
})

t.test('behind a proxy under a path prefix, links and the cookie path carry the prefix', async (t) => {
  const { app } = await buildTestApp(t, { publicUrl: 'https://packages.example.com/repo' })
  const b = browser(app)
  const form = await b.get('/account/register')
  t.match(form.body, /action="\/repo\/account\/register"/)
  t.match(form.body, /href="\/repo\/account\/assets\/style\.css/)
  const res = await b.post('/account/register', { _csrf: csrfOf(form.body), username: 'alice', password: PASSWORD, password2: PASSWORD })
  t.equal(res.headers.location, '/repo/account/keys')
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('packyard_session='))
  t.match(cookie, /; Path=\/repo\/account/)
  const created = await b.submit('/account/keys', '/account/keys', { name: 'laptop' })
  t.match(textOf(created.body), /"packages\.example\.com": \{/, 'auth.json names the public host')
})

t.test('registration is rate-limited per address', async (t) => {
  const { app } = await buildTestApp(t)
  const b = browser(app, { remoteAddress: '192.0.2.50' })
  const csrf = csrfOf((await b.get('/account/register')).body)
  for (let i = 0; i < 10; i++) {
    const res = await b.post('/account/register', { _csrf: csrf, username: `user${i}`, password: PASSWORD, password2: 'different password' })
    t.equal(res.statusCode, 400)
  }
  const limited = await b.post('/account/register', { _csrf: csrf, username: 'user10', password: PASSWORD, password2: PASSWORD })
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.match(limited.headers['content-type'], /^text\/html/)
  t.match(textOf(limited.body), /Too many attempts/)
  t.equal(app.ctx.accounts.list().length, 0)
  const other = browser(app, { remoteAddress: '192.0.2.51' })
  t.equal((await other.submit('/account/register', '/account/register', { username: 'carol', password: PASSWORD, password2: PASSWORD })).statusCode, 303)
})

t.test('parallel wrong passwords on the login page: at most 5 are checked, the rest get 429', async (t) => {
  const { app } = await buildTestApp(t)
  await registered(app, 'alice', PASSWORD)
  const attacker = browser(app, { remoteAddress: '203.0.113.20' })
  const csrf = csrfOf((await attacker.get('/account/login')).body)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await attacker.post('/account/login', { _csrf: csrf, username: 'alice', password: `parallel guess ${i}` })))
  const checked = answers.filter((r) => r.statusCode === 401)
  const throttled = answers.filter((r) => r.statusCode === 429)
  t.ok(checked.length <= 5, `${checked.length} passwords checked`)
  t.ok(checked.every((r) => /Wrong username or password/.test(r.body)))
  t.equal(checked.length + throttled.length, 20, 'every other answer is 429')
  t.ok(throttled.every((r) => /^\d+$/.test(String(r.headers['retry-after']))), 'with Retry-After')
  t.equal((await attacker.post('/account/login', { _csrf: csrf, username: 'alice', password: PASSWORD })).statusCode, 429, 'still throttled afterwards')
  const owner = browser(app, { remoteAddress: '198.51.100.20' })
  t.equal((await owner.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 303, 'the owner from another address logs in')
})

t.test('parallel wrong passwords on the key reveal form: at most 5 are checked', async (t) => {
  const { app } = await buildTestApp(t, { keyRevealKey: REVEAL_KEY })
  const b = await registered(app, 'alice', PASSWORD, { remoteAddress: '203.0.113.21' })
  const key = await createKey(b, 'laptop')
  const csrf = csrfOf((await b.get(`/account/keys/${key.publicKey}/reveal`)).body)
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await b.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrf, password: `parallel guess ${i}` })))
  t.ok(answers.filter((r) => r.statusCode === 401).length <= 5)
  t.equal(answers.filter((r) => r.statusCode === 401 || r.statusCode === 429).length, 20)
  t.ok(answers.every((r) => !r.body.includes(key.privateKey)))
  const right = await b.post(`/account/keys/${key.publicKey}/reveal`, { _csrf: csrf, password: PASSWORD })
  t.equal(right.statusCode, 429, 'the right password waits too')
  t.match(right.headers['retry-after'], /^\d+$/)
})

t.test('logging out after the session expired clears the cookie and goes to the login page', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const b = await registered(app, 'alice', PASSWORD)
  const page = await b.get('/account/keys')
  const db = openDatabase(path.join(dataDir, 'packyard.sqlite'))
  try { db.prepare('UPDATE sessions SET expires_at = 0').run() } finally { db.close() }
  t.equal((await b.get('/account/keys')).statusCode, 303, 'the session has expired')
  const res = await b.post('/account/logout', { _csrf: csrfOf(page.body) })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/account/login?loggedOut=1')
  const cleared = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('packyard_session='))
  t.match(cleared, /^packyard_session=;.*Expires=Thu, 01 Jan 1970/, 'the stale cookie is cleared')
  t.notOk(b.cookies.has('packyard_session'))
  t.equal((await browser(app).post('/account/logout', {})).statusCode, 303, 'no cookie at all: the same')
})

t.test('login log lines name the account only when it exists: a password typed as the username is not logged', async (t) => {
  const { app, log } = await buildTestApp(t)
  await registered(app, 'alice', PASSWORD)
  const typo = 'Tr0ub4dor&3-my-real-password'
  const b = browser(app, { remoteAddress: '203.0.113.30' })
  for (let i = 0; i < 6; i++) await b.submit('/account/login', '/account/login', { username: typo, password: 'whatever' })
  await app.inject({ url: '/api/v1/account', headers: basic(typo, 'whatever'), remoteAddress: '203.0.113.31' })
  await b.submit('/account/login', '/account/login', { username: 'alice', password: 'wrong password' })
  t.notOk(log().includes(typo), 'the typed username is nowhere in the log')
  const lines = log().trim().split('\n').map((l) => JSON.parse(l) as { msg: string, account?: string })
  t.ok(lines.some((l) => l.msg === 'login failed' && l.account === 'unknown-user'))
  t.ok(lines.some((l) => l.msg === 'login throttled' && l.account === 'unknown-user'))
  t.ok(lines.some((l) => l.msg === 'API login failed' && l.account === 'unknown-user'))
  t.ok(lines.some((l) => l.msg === 'login failed' && l.account === 'alice'), 'an existing account is still named')
})

t.test('login: the page and a failed login say how an account created without a password gets one', async (t) => {
  const { app } = await buildTestApp(t)
  await app.ctx.accounts.create({ username: 'bob' })
  const b = browser(app)
  const page = await b.get('/account/login')
  t.match(textOf(page.body), /created by the server's operator has no password until the operator sets one/)
  t.match(textOf(page.body), /packyard account password username/)
  const res = await b.submit('/account/login', '/account/login', { username: 'bob', password: PASSWORD })
  t.equal(res.statusCode, 401)
  t.match(textOf(res.body), /Wrong username or password\. If the operator created your account, it has no password for these pages until they set one with: packyard account password bob/)
  const nobody = await b.submit('/account/login', '/account/login', { username: 'nobody', password: PASSWORD })
  t.equal(textOf(nobody.body).match(/Wrong username or password[^\n]*/)![0], textOf(res.body).match(/Wrong username or password[^\n]*/)![0].replace('bob', 'nobody'),
    'an unknown username gets the same words: nothing tells whether an account exists or has a password')
})

t.test('change password: current password required, other sessions end, this one stays', async (t) => {
  const { app } = await buildTestApp(t)
  const here = await registered(app, 'alice', PASSWORD)
  const elsewhere = browser(app)
  t.equal((await elsewhere.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 303)
  const third = browser(app)
  t.equal((await third.submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 303)
  const bob = await registered(app, 'bob', PASSWORD)

  const keys = await here.get('/account/keys')
  t.match(keys.body, /href="\/account\/password">Password<\/a>/, 'linked from the navigation')
  const form = await here.get('/account/password')
  t.equal(form.statusCode, 200)
  t.match(form.body, /<label for="current">Current password<\/label>/)
  t.match(form.body, /minlength="10"/)
  t.equal((await browser(app).get('/account/password')).headers.location, '/account/login?next=%2Faccount%2Fpassword', 'needs a session')

  const NEW = 'a brand new passphrase'
  const wrong = await here.submit('/account/password', '/account/password', { current: 'not my password', password: NEW, password2: NEW })
  t.equal(wrong.statusCode, 401)
  t.match(textOf(wrong.body), /Wrong current password/)
  const differ = await here.submit('/account/password', '/account/password', { current: PASSWORD, password: NEW, password2: `${NEW}!` })
  t.equal(differ.statusCode, 400)
  t.match(textOf(differ.body), /The two new passwords differ/)
  const short = await here.submit('/account/password', '/account/password', { current: PASSWORD, password: 'short', password2: 'short' })
  t.equal(short.statusCode, 400)
  t.match(textOf(short.body), /Password too short: use at least 10 characters/)
  t.equal((await here.post('/account/password', { current: PASSWORD, password: NEW, password2: NEW })).statusCode, 403, 'no form token')
  t.equal((await elsewhere.get('/account/keys')).statusCode, 200, 'nothing changed yet')
  t.ok(await app.ctx.accounts.checkPassword('alice', PASSWORD), 'the password is unchanged')

  const before = here.cookies.get('packyard_session')
  const done = await here.submit('/account/password', '/account/password', { current: PASSWORD, password: NEW, password2: NEW })
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, '/account/password')
  t.not(here.cookies.get('packyard_session'), before, 'this browser continues under a fresh session id')
  const after = await here.get('/account/password')
  t.equal(after.statusCode, 200, 'this session stays signed in')
  t.match(textOf(after.body), /Your password has been changed\. 2 other sessions were signed out; this one stays signed in\./)
  t.equal((await elsewhere.get('/account/keys')).statusCode, 303, 'another browser is signed out')
  t.equal((await third.get('/account/keys')).statusCode, 303)
  t.equal((await bob.get('/account/keys')).statusCode, 200, "another account's session is untouched")

  t.equal((await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: PASSWORD })).statusCode, 401, 'the old password fails')
  t.equal((await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: NEW })).statusCode, 303, 'the new one works')
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('alice', NEW) })).statusCode, 200, 'and on the API')
})

t.test('change password: wrong current passwords are throttled like the login', async (t) => {
  const { app } = await buildTestApp(t)
  const b = await registered(app, 'alice', PASSWORD, { remoteAddress: '203.0.113.60' })
  const csrf = csrfOf((await b.get('/account/password')).body)
  const NEW = 'a brand new passphrase'
  const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) =>
    await b.post('/account/password', { _csrf: csrf, current: `guess ${i}`, password: NEW, password2: NEW })))
  t.ok(answers.filter((r) => r.statusCode === 401).length <= 5)
  t.equal(answers.filter((r) => r.statusCode === 401 || r.statusCode === 429).length, 12)
  const right = await b.post('/account/password', { _csrf: csrf, current: PASSWORD, password: NEW, password2: NEW })
  t.equal(right.statusCode, 429, 'the right password waits too')
  t.match(right.headers['retry-after'], /^\d+$/)
  t.ok(await app.ctx.accounts.checkPassword('alice', PASSWORD), 'unchanged')
})

t.test('one identity: a logged-in page request carries request.principal via the session', async (t) => {
  const { app } = await buildTestApp(t)
  const seen: unknown[] = []
  app.addHook('onResponse', async (request) => { if (request.url === '/account/keys') seen.push(request.principal) })
  const b = await registered(app, 'alice', PASSWORD)
  await b.get('/account/keys')
  const alice = app.ctx.accounts.get('alice')
  t.same(seen, [{ accountId: alice.id, via: 'session' }])
})
