import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServer, tempDir } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

const PASSWORD = 'correct horse battery'
const NEW_PASSWORD = 'a brand new passphrase'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function notice (page: Page): Promise<string> {
  return (await page.locator('.notice').first().textContent())!.trim()
}

async function logIn (page: Page, password: string): Promise<void> {
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
}

t.test('in Chromium: the front page leads to log in and registration; the password is changed on /account/password', async (t) => {
  if (!requireTools(t, '/usr/bin/chromium')) return
  const server = await startServer(t, tempDir(t))
  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  // A wrong password is answered 401 on purpose below; Chromium logs that as a console error.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(m.text()) })
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/account/')) problems.push(`${r.status()} ${r.url()}`) })

  // The front page: what this is, the composer.json repository and an auth.json for this host.
  await page.goto(`${server.url}/`)
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Private Composer repository')
  t.match(await page.locator('main').textContent(), /private Composer repository run with Packyard/)
  t.same(JSON.parse((await page.locator('#composer-json').textContent())!), { repositories: [{ type: 'composer', url: server.url }], config: { 'secure-http': false } })
  const host = new URL(server.url).host
  t.same(JSON.parse((await page.locator('#auth-json').textContent())!), { 'http-basic': { [host]: { username: '<public key>', password: '<private key>' } } })
  await page.screenshot({ path: '/tmp/packyard-landing.png', fullPage: true })

  // Its links: log in, then back, and create an account.
  const main = page.getByRole('main')
  await main.getByRole('link', { name: 'Log in' }).click()
  await page.waitForURL('**/account/login')
  t.match(await page.locator('main').textContent(), /has no password until the operator sets one/)
  await page.goBack()
  await main.getByRole('link', { name: 'Create an account' }).click()
  await page.waitForURL('**/account/register')
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('Repeat the password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL('**/account/keys')

  // A second browser signed in as alice: it is signed out by the change.
  const other = await browser.newContext()
  const otherPage = await other.newPage()
  await otherPage.goto(`${server.url}/account/login`)
  await logIn(otherPage, PASSWORD)
  await otherPage.waitForURL('**/account/keys')

  // Change the password from the navigation: first with a wrong current password.
  await page.getByRole('link', { name: 'Password', exact: true }).click()
  await page.waitForURL('**/account/password')
  await page.getByLabel('Current password', { exact: true }).fill('not my password')
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForSelector('.notice.error')
  t.match(await notice(page), /Wrong current password/)
  await page.getByLabel('Current password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
  await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD)
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.waitForSelector('.notice.success')
  t.match(await notice(page), /Your password has been changed\. 1 other session was signed out; this one stays signed in/)
  await page.screenshot({ path: '/tmp/packyard-password.png', fullPage: true })

  await otherPage.goto(`${server.url}/account/keys`)
  await otherPage.waitForURL('**/account/login?next=*')
  t.pass('the other browser was signed out')

  // Log out, the old password fails, the new one works.
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL('**/account/login?loggedOut=1')
  await logIn(page, PASSWORD)
  await page.waitForSelector('.notice.error')
  t.match(await notice(page), /Wrong username or password/)
  await logIn(page, NEW_PASSWORD)
  await page.waitForURL('**/account/keys')
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Access Keys')

  t.same(problems, [], 'no console errors (CSP violations would show here) and no failed requests outside /account')
  await other.close()
  await context.close()
})
