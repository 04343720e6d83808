import t from 'tap'
import { basic, buildTestApp, cliJsonQuick as cliOk, runCliQuick as cli } from '../helpers/harness.js'
import { browser } from '../helpers/web.js'

t.test('account password signs the account out of every web session', async (t) => {
  const { app, dataDir } = await buildTestApp(t)
  const oldPassword = 'correct horse battery'
  const newPassword = 'a brand new passphrase'
  await cliOk(dataDir, ['account', 'create', 'alice', '--password-stdin'], { stdin: `${oldPassword}\n` })
  const session = browser(app)
  t.equal((await session.submit('/account/login', '/account/login', { username: 'alice', password: oldPassword })).statusCode, 303)
  t.equal((await session.get('/account/keys')).statusCode, 200, 'logged in')

  t.same(await cliOk(dataDir, ['account', 'password', 'alice'], { stdin: `${newPassword}\n` }), { username: 'alice', sessionsEnded: 1 })
  const after = await session.get('/account/keys')
  t.equal(after.statusCode, 303, 'the old session is gone')
  t.equal(after.headers.location, '/account/login?next=%2Faccount%2Fkeys')
  const old = await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: oldPassword })
  t.equal(old.statusCode, 401, 'the old password no longer works')
  t.equal((await browser(app).submit('/account/login', '/account/login', { username: 'alice', password: newPassword })).statusCode, 303, 'the new one does')
  t.equal((await app.inject({ url: '/api/v1/account', headers: basic('alice', newPassword) })).statusCode, 200, 'for the API too')

  const text = await cli(dataDir, ['account', 'password', 'alice'], { stdin: `${oldPassword}\n` })
  t.equal(text.code, 0)
  t.equal(text.stdout, 'set the password of alice (1 sessions ended)\n', 'the login with the new password above is ended too')
})
