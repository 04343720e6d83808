import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type Page } from 'playwright-core'
import { cliJson, composerProject, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

const PASSWORD = 'correct horse battery'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface Pair { publicKey: string, privateKey: string }

async function issuedPair (page: Page): Promise<Pair> {
  return {
    publicKey: (await page.locator('#new-public-key').textContent())!.trim(),
    privateKey: (await page.locator('#new-private-key').textContent())!.trim()
  }
}

async function notice (page: Page): Promise<string> {
  return (await page.locator('.notice').first().textContent())!.trim()
}

t.test('in Chromium: register, log in, manage keys with Composer checking each step, downloads token', async (t) => {
  if (!requireTools(t, '/usr/bin/chromium', 'composer', 'php', 'unzip', 'curl')) return
  const dataDir = tempDir(t)
  const work = tempDir(t)
  const widget = await writePackageZip(work, { name: 'acme/widget', version: '1.0.0', autoload: { 'psr-4': { 'Acme\\Widget\\': 'src/' } } },
    { files: { 'src/Widget.php': '<?php namespace Acme\\Widget; class Widget {}' } })
  await cliJson(dataDir, ['publish', '--access', 'public', widget])
  const release = randomBytes(2_000_000)
  writeFileSync(path.join(work, 'acme-suite-2.4.6.zip'), release)
  await cliJson(dataDir, ['release', 'add', path.join(work, 'acme-suite-2.4.6.zip'), '--version', '2.4.6'])
  const server = await startServer(t, dataDir)

  /** A fresh Composer project and cache each time: a warm cache would hide a revoked key. */
  const composer = async (pair: Pair): Promise<{ code: number, output: string }> => {
    const project = composerProject(t, server.url, { require: { 'acme/widget': '^1.0' } })
    project.setAuth(pair.publicKey, pair.privateKey)
    return await project.run(['update'])
  }
  const curlStatus = (mageId: string, token: string, out: string): string =>
    spawnSync('curl', ['-sS', '-o', out, '-w', '%{http_code}', '-u', `${mageId}:${token}`, `${server.url}/products/downloads/file/acme-suite-2.4.6.zip`], { encoding: 'utf8' }).stdout

  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
  const page = await context.newPage()
  const consoleErrors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/account/login')) consoleErrors.push(`${r.status()} ${r.url()}`) })

  // Register, then log out and log in again.
  await page.goto(`${server.url}/account/register`)
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Email').fill('alice@example.com')
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
  await page.getByLabel('Repeat the password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL('**/account/keys')
  t.match(await notice(page), /Welcome, alice/)
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL('**/account/login?loggedOut=1')
  t.match(await notice(page), /You have logged out/)
  await page.getByLabel('Username').fill('alice')
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL('**/account/keys')
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Access Keys')

  // Keyboard: the first Tab reaches the skip link; a key can be created by typing and Enter.
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate('document.activeElement && document.activeElement.textContent'), 'Skip to content')
  await page.getByLabel('Key name').focus()
  await page.keyboard.type('alice laptop')
  await page.keyboard.press('Enter')
  await page.waitForSelector('#new-private-key')
  const laptop = await issuedPair(page)
  t.match(await page.locator('#issued').textContent(), /cannot be shown again/)
  await page.getByRole('button', { name: 'Copy private key', exact: true }).click()
  t.equal(await page.evaluate('navigator.clipboard.readText()'), laptop.privateKey, 'the copy button copies the private key')

  await page.getByLabel('Key name').fill('ci')
  await page.getByRole('button', { name: 'Create a new access key' }).click()
  await page.waitForSelector('#issued-title:has-text("ci")')
  const ci = await issuedPair(page)
  t.match(laptop.publicKey, /^[0-9a-f]{32}$/)
  t.match(ci.privateKey, /^[0-9a-f]{32}$/)
  t.not(ci.publicKey, laptop.publicKey)
  await page.goto(`${server.url}/account/keys`)
  t.same(await page.locator('.key-name').allTextContents(), ['alice laptop', 'ci'], 'both keys are listed by name')
  t.notMatch(await page.content(), ci.privateKey, 'a private key is not shown again')
  const ciCard = () => page.locator(`li.key[data-public-key="${ci.publicKey}"]`)

  // Rename.
  await ciCard().getByLabel('Name').fill('ci-server')
  await ciCard().getByRole('button', { name: /^Save/ }).click()
  await page.waitForURL('**/account/keys')
  t.match(await notice(page), /Renamed “ci” to “ci-server”/)
  t.same(await page.locator('.key-name').allTextContents(), ['alice laptop', 'ci-server'])

  // Disable: the real Composer client fails with this key; enable: it works again.
  await ciCard().getByRole('button', { name: /^Disable/ }).click()
  await page.waitForURL('**/account/keys')
  t.match(await notice(page), /Disabled “ci-server”/)
  t.equal(await ciCard().locator('.badge').textContent(), 'Disabled')
  const refused = await composer(ci)
  t.not(refused.code, 0, 'composer fails with a disabled key')
  t.match(refused.output, /This access key is disabled/, 'and says why')
  await ciCard().getByRole('button', { name: /^Enable/ }).click()
  await page.waitForURL('**/account/keys')
  t.equal(await ciCard().locator('.badge').textContent(), 'Enabled')
  const accepted = await composer(ci)
  t.equal(accepted.code, 0, `composer works once the key is enabled again\n${accepted.output}`)

  // Regenerate (with a confirmation): the old pair fails, the new pair works.
  await ciCard().getByRole('link', { name: /^Regenerate/ }).click()
  await page.waitForURL(`**/account/keys/${ci.publicKey}/regenerate`)
  t.match(await page.locator('main').textContent(), /stops working at once/)
  await page.getByRole('button', { name: 'Regenerate key' }).click()
  await page.waitForSelector('#new-private-key')
  const regenerated = await issuedPair(page)
  t.not(regenerated.publicKey, ci.publicKey)
  t.match(await notice(page), /The old pair no longer works/)
  const oldPair = await composer(ci)
  t.not(oldPair.code, 0, 'the old pair fails')
  t.match(oldPair.output, /access keys are invalid/)
  const newPair = await composer(regenerated)
  t.equal(newPair.code, 0, `the new pair works\n${newPair.output}`)

  await page.goto(`${server.url}/account/keys`)
  await page.screenshot({ path: '/tmp/packyard-keys.png', fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: '/tmp/packyard-keys-phone.png', fullPage: true })
  t.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'no horizontal scrolling on a phone')
  await page.setViewportSize({ width: 1280, height: 900 })

  // Delete (with a confirmation).
  const regeneratedCard = page.locator(`li.key[data-public-key="${regenerated.publicKey}"]`)
  await regeneratedCard.getByRole('link', { name: /^Delete/ }).click()
  await page.waitForURL(`**/account/keys/${regenerated.publicKey}/delete`)
  await page.getByRole('button', { name: 'Delete key' }).click()
  await page.waitForURL('**/account/keys')
  t.match(await notice(page), /Deleted “ci-server”/)
  t.same(await page.locator('.key-name').allTextContents(), ['alice laptop'])

  // Downloads Access Token: generate, download with it; generate another: the old one gets 401.
  await page.getByRole('link', { name: 'Downloads Access Token' }).click()
  await page.waitForURL('**/account/downloads-token')
  const mageId = (await page.locator('#mage-id').textContent())!.trim()
  t.match(mageId, /^MAG\d{9}$/)
  await page.getByRole('button', { name: 'Generate new token' }).click()
  await page.waitForSelector('#new-token')
  const token = (await page.locator('#new-token').textContent())!.trim()
  t.match(token, /^[0-9a-f]{40}$/)
  await page.screenshot({ path: '/tmp/packyard-token.png', fullPage: true })
  const out = path.join(work, 'download.zip')
  t.equal(curlStatus(mageId, token, out), '200')
  t.ok(readFileSync(out).equals(release), 'the file fetched with the token')
  await page.getByRole('button', { name: 'Generate new token' }).click()
  await page.waitForFunction(`document.querySelector('#new-token').textContent.trim() !== '${token}'`)
  const token2 = (await page.locator('#new-token').textContent())!.trim()
  t.not(token2, token)
  t.equal(curlStatus(mageId, token, path.join(work, 'old.txt')), '401', 'the old token gets 401')
  t.equal(curlStatus(mageId, token2, path.join(work, 'new.zip')), '200', 'the new token works')

  t.same(consoleErrors, [], 'no console errors (CSP violations would show here)')
  await context.close()
})
