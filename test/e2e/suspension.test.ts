import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { cliJson, composerProject, runCli, startServer, tempDir, writePackageZip } from '../helpers/harness.js'
import { requireTools } from '../helpers/tools.js'

/*
 * A suspended customer with the real Composer against a real `packyard serve`: the customer's
 * own Magento-style key pair, imported with the CLI, installs a package; `packyard account
 * disable` in a separate process makes the next Composer run fail with the server's warning;
 * `account enable` makes it work again. Every run uses a fresh project (own COMPOSER_HOME and
 * cache), so nothing is answered from Composer's cache.
 */

// Composer wraps messages at the terminal width; a wide virtual terminal keeps each on one line.
process.env.COLUMNS = '1000'

const PAIR = { publicKey: '5c2f8e1a9b3d4c6e7f8091a2b3c4d5e6', privateKey: 'e6d5c4b3a2918f7e6c4d3b9a1e8f2c5a' }

t.test('a suspended account\'s imported key pair: Composer installs, is refused with the warning, installs again', async (t) => {
  if (!requireTools(t, 'composer', 'php', 'unzip')) return
  const dataDir = tempDir(t)
  const zipDir = tempDir(t)
  await cliJson(dataDir, ['account', 'create', 'shop'])
  const imported = await cliJson(dataDir, ['key', 'import', 'shop', '--name', 'magento marketplace', '--public-key', PAIR.publicKey], { stdin: `${PAIR.privateKey}\n` })
  t.match(imported, { username: 'shop', name: 'magento marketplace', publicKey: PAIR.publicKey, enabled: true })
  const zip = await writePackageZip(zipDir, {
    name: 'vendor/extension',
    version: '1.2.0',
    autoload: { 'psr-4': { 'Vendor\\Extension\\': 'src/' } }
  }, { files: { VERSION: '1.2.0', 'src/Info.php': '<?php\nnamespace Vendor\\Extension;\n\nfinal class Info {}\n' } })
  await cliJson(dataDir, ['publish', '--access', 'restricted', zip])
  await cliJson(dataDir, ['grant', 'shop', 'vendor/extension'])
  const server = await startServer(t, dataDir)

  const install = async () => {
    const p = composerProject(t, server.url, { require: { 'vendor/extension': '^1.2' } })
    p.setAuth(PAIR.publicKey, PAIR.privateKey)
    const res = await p.run(['update'])
    const versionFile = path.join(p.dir, 'vendor', 'vendor', 'extension', 'VERSION')
    return { res, installed: existsSync(versionFile) ? readFileSync(versionFile, 'utf8') : undefined, locked: existsSync(path.join(p.dir, 'composer.lock')) }
  }

  const before = await install()
  t.equal(before.res.code, 0, `composer installs with the imported pair\n${before.res.output}`)
  t.equal(before.installed, '1.2.0')

  const disabled = await runCli(dataDir, ['--json', 'account', 'disable', 'shop'])
  t.equal(disabled.code, 0, disabled.stderr)
  t.match(disabled.json, { username: 'shop', disabled: true, disabledAt: String })
  const refused = await install()
  t.not(refused.res.code, 0, `composer fails for the suspended account\n${refused.res.output}`)
  t.match(refused.res.output, /HTTP 401/, 'Composer reports the 401')
  t.match(refused.res.output, /This account is suspended\. Contact the vendor/, 'Composer prints the server\'s warning')
  t.equal(refused.installed, undefined, 'nothing installed')
  t.notOk(refused.locked, 'no lock file written')

  const enabled = await runCli(dataDir, ['--json', 'account', 'enable', 'shop'])
  t.equal(enabled.code, 0, enabled.stderr)
  t.match(enabled.json, { username: 'shop', disabled: false, disabledAt: null })
  const after = await install()
  t.equal(after.res.code, 0, `composer installs again once the account is enabled\n${after.res.output}`)
  t.equal(after.installed, '1.2.0')

  const serverLog = await server.settledLog()
  t.notOk(serverLog.includes(PAIR.privateKey), 'the private key never reaches the log')
  t.match(serverLog, /"reason":"suspended"/, 'the refusal is logged with its reason')
})
