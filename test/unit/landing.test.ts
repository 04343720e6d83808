import t from 'tap'
import { buildTestApp } from '../helpers/harness.js'
import { textOf } from '../helpers/web.js'

const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

t.test('GET / for a browser: what the server is, where to log in, composer.json and auth.json for this host', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/', headers: { accept: HTML_ACCEPT, host: 'repo.example.test:8080' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(res.headers['content-security-policy'], /default-src 'self'/)
  const text = textOf(res.body)
  t.match(text, /private Composer repository run with Packyard/)
  t.match(res.body, /href="\/account\/login"/)
  t.match(res.body, /href="\/account\/register"/)
  const composerJson = /<pre id="composer-json">([^<]*)<\/pre>/.exec(res.body)
  t.same(JSON.parse(textOf(composerJson![1]!)), { repositories: [{ type: 'composer', url: 'http://repo.example.test:8080' }], config: { 'secure-http': false } }, 'plain http needs secure-http off, and the snippet says so')
  const authJson = /<pre id="auth-json">([^<]*)<\/pre>/.exec(res.body)
  t.same(JSON.parse(textOf(authJson![1]!)), { 'http-basic': { 'repo.example.test:8080': { username: '<public key>', password: '<private key>' } } })
  t.notMatch(res.body, /<public key>/, 'the placeholders are escaped')
})

t.test('GET / uses the public URL (path prefix too) and says so when registration is closed', async (t) => {
  const { app } = await buildTestApp(t, { publicUrl: 'https://packages.example.com/repo', registration: 'closed' })
  const res = await app.inject({ url: '/', headers: { accept: 'text/html' } })
  t.equal(res.statusCode, 200)
  t.match(res.body, /href="\/repo\/account\/login"/)
  t.notMatch(res.body, /account\/register"/)
  t.match(textOf(res.body), /created by its operator/)
  t.match(textOf(res.body), /"url": "https:\/\/packages\.example\.com\/repo"/)
  t.notMatch(textOf(res.body), /secure-http/, 'https needs no secure-http setting')
  t.match(textOf(res.body), /"packages\.example\.com": \{/)
})

t.test('GET / escapes the host it shows', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ url: '/', headers: { accept: 'text/html', host: 'evil"><script>x</script>' } })
  t.notMatch(res.body, /<script>x/)
})

t.test('GET / for a JSON client is still the JSON 404', async (t) => {
  const { app } = await buildTestApp(t)
  for (const headers of [{}, { accept: 'application/json' }, { accept: '*/*' }] as Array<Record<string, string>>) {
    const res = await app.inject({ url: '/', headers })
    t.equal(res.statusCode, 404)
    t.equal(res.headers['content-type'], 'application/json')
    t.same(JSON.parse(res.body), { code: 'NOT_FOUND', message: 'No such URL: GET /' })
  }
  const other = await app.inject({ url: '/nothing-here', headers: { accept: 'text/html' } })
  t.equal(other.statusCode, 404)
  t.equal(other.headers['content-type'], 'application/json', 'only / has a page')
})
