import type { AccessKey } from '../domain/accounts.js'
import type { Flash } from '../services/sessions.js'
import { ASSETS } from './assets.js'
import { html, type SafeHtml } from './html.js'

/** What every page needs to know about the request. */
export interface PageContext {
  /** Path prefix of the public URL ('' or e.g. '/repo'), prepended to every link. */
  base: string
  /** The form token for this session (or anonymous visitor). */
  csrf: string
  account: { username: string, mageId: string } | null
  flash: Flash | null
  registrationOpen: boolean
}

type Section = 'keys' | 'packages' | 'token' | 'password' | 'login' | 'register' | undefined

const MINUTE_PRECISION = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}).*$/

function when (iso: string | null, never = 'Never'): SafeHtml {
  if (iso === null) return html`<span class="muted">${never}</span>`
  return html`<time datetime="${iso}">${iso.replace(MINUTE_PRECISION, '$1 $2 UTC')}</time>`
}

function csrfField (ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`
}

function copyButton (targetId: string, what: string): SafeHtml {
  return html`<button type="button" class="small" data-copy="${targetId}" hidden>Copy<span class="vh"> ${what}</span></button>`
}

function secret (id: string, value: string, what: string): SafeHtml {
  return html`<div class="secret"><code id="${id}">${value}</code>${copyButton(id, what)}</div>`
}

function notice (flash: Flash | null): SafeHtml {
  if (flash === null) return html``
  return flash.kind === 'success'
    ? html`<div class="notice success" role="status">${flash.text}</div>`
    : html`<div class="notice error" role="alert">${flash.text}</div>`
}

export function layout (ctx: PageContext, title: string, content: SafeHtml, section?: Section): SafeHtml {
  const b = ctx.base
  const link = (href: string, label: string, s: Section): SafeHtml =>
    html`<a href="${b}${href}"${section === s ? html` aria-current="page"` : ''}>${label}</a>`
  const nav = ctx.account === null
    ? html`${link('/account/login', 'Log in', 'login')}${ctx.registrationOpen ? link('/account/register', 'Create an account', 'register') : ''}`
    : html`${link('/account/keys', 'Access Keys', 'keys')}${link('/account/packages', 'My packages', 'packages')}${link('/account/downloads-token', 'Downloads Access Token', 'token')}${link('/account/password', 'Password', 'password')}
      <span class="who">Signed in as <strong>${ctx.account.username}</strong> · ${ctx.account.mageId}</span>
      <form method="post" action="${b}/account/logout">${csrfField(ctx)}<button type="submit" class="link">Log out</button></form>`
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Packyard</title>
<link rel="icon" href="${b}/account/assets/icon.svg?v=${ASSETS['icon.svg']!.version}" type="image/svg+xml">
<link rel="stylesheet" href="${b}/account/assets/style.css?v=${ASSETS['style.css']!.version}">
<script src="${b}/account/assets/app.js?v=${ASSETS['app.js']!.version}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><div class="wrap">
<a class="brand" href="${b}/account/keys">Pack<span>yard</span></a>
<nav class="main" aria-label="Account">${nav}</nav>
</div></header>
<main id="main" class="wrap" tabindex="-1">
${notice(ctx.flash)}
${content}
<p id="copy-status" class="vh" aria-live="polite"></p>
</main>
<footer><div class="wrap">Packyard · Composer repository and downloads</div></footer>
</body>
</html>
`
}

export function loginPage (ctx: PageContext, opts: { username?: string, next?: string | undefined, error?: string | undefined } = {}): SafeHtml {
  return layout(ctx, 'Log in', html`
<div class="auth-box">
<h1>Log in</h1>
<p class="lead">Manage your access keys and your Downloads Access Token.</p>
${opts.error === undefined ? '' : html`<div class="notice error" role="alert">${opts.error}</div>`}
<form method="post" action="${ctx.base}/account/login" class="panel">
${csrfField(ctx)}
${opts.next === undefined ? '' : html`<input type="hidden" name="next" value="${opts.next}">`}
<div class="field"><label for="username">Username</label>
<input type="text" id="username" name="username" value="${opts.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus></div>
<div class="field"><label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required></div>
<button type="submit" class="primary">Log in</button>
</form>
${ctx.registrationOpen ? html`<p>No account yet? <a href="${ctx.base}/account/register">Create an account</a>.</p>` : ''}
<p class="hint" id="operator-hint">An account created by the server's operator has no password until the operator sets one
(<code>packyard account password <var>username</var></code>); ask them if you cannot log in.</p>
</div>`, 'login')
}

export function registerPage (ctx: PageContext, opts: { username?: string, email?: string, error?: string | undefined, minPassword: number }): SafeHtml {
  if (!ctx.registrationOpen) {
    return layout(ctx, 'Registration closed', html`
<div class="auth-box"><h1>Registration is closed</h1>
<p class="lead">Accounts on this server are created by its operator. Ask them for an account, then <a href="${ctx.base}/account/login">log in</a>.</p></div>`, 'register')
  }
  return layout(ctx, 'Create an account', html`
<div class="auth-box">
<h1>Create an account</h1>
<p class="lead">Your account gets a MAGEID and holds your Composer access keys.</p>
${opts.error === undefined ? '' : html`<div class="notice error" role="alert">${opts.error}</div>`}
<form method="post" action="${ctx.base}/account/register" class="panel">
${csrfField(ctx)}
<div class="field"><label for="username">Username</label>
<input type="text" id="username" name="username" value="${opts.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false"
 required minlength="2" maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{1,63}" aria-describedby="username-hint">
<p class="hint" id="username-hint">2–64 letters, digits, dots, dashes or underscores.</p></div>
<div class="field"><label for="email">Email <span class="hint">(optional)</span></label>
<input type="email" id="email" name="email" value="${opts.email ?? ''}" autocomplete="email"></div>
<div class="field"><label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required minlength="${opts.minPassword}" aria-describedby="password-hint">
<p class="hint" id="password-hint">At least ${opts.minPassword} characters.</p></div>
<div class="field"><label for="password2">Repeat the password</label>
<input type="password" id="password2" name="password2" autocomplete="new-password" required minlength="${opts.minPassword}"></div>
<button type="submit" class="primary">Create account</button>
</form>
<p>Already registered? <a href="${ctx.base}/account/login">Log in</a>.</p>
</div>`, 'register')
}

export interface IssuedView {
  key: AccessKey
  privateKey: string
  regenerated: boolean
}

function authJson (host: string, publicKey: string, privateKey: string): string {
  return JSON.stringify({ 'http-basic': { [host]: { username: publicKey, password: privateKey } } }, null, 2)
}

function issuedPanel (issued: IssuedView, opts: { revealEnabled: boolean, host: string }): SafeHtml {
  const { key, privateKey } = issued
  return html`
<section class="panel issued" aria-labelledby="issued-title" id="issued">
<h2 id="issued-title">${issued.regenerated ? 'New key pair for' : 'Your new key'} “${key.name}”</h2>
<p><strong>Copy the private key now.</strong> ${opts.revealEnabled
    ? 'It is stored as a hash for checking and, on this server, also encrypted, so you can view it again later after entering your password.'
    : 'It is stored only as a hash, so it cannot be shown again. If you lose it, regenerate the key.'}
${issued.regenerated ? ' The previous pair has stopped working.' : ''}</p>
<dl class="pair">
<div><dt>Public key (username)</dt><dd>${secret('new-public-key', key.publicKey, 'public key')}</dd></div>
<div><dt>Private key (password)</dt><dd>${secret('new-private-key', privateKey, 'private key')}</dd></div>
</dl>
<details><summary>auth.json for this key</summary>
<pre id="new-auth-json">${authJson(opts.host, key.publicKey, privateKey)}</pre>${copyButton('new-auth-json', 'auth.json')}
</details>
</section>`
}

function keyCard (ctx: PageContext, key: AccessKey, revealEnabled: boolean): SafeHtml {
  const b = ctx.base
  const pk = key.publicKey
  const action = (verb: string): string => `${b}/account/keys/${pk}/${verb}`
  return html`
<li class="key${key.enabled ? '' : ' is-disabled'}" id="key-${pk}" data-public-key="${pk}">
<div class="key-head"><h3 class="key-name">${key.name}</h3>
${key.enabled ? html`<span class="badge on">Enabled</span>` : html`<span class="badge off">Disabled</span>`}</div>
<dl class="meta">
<div><dt>Public key</dt><dd>${secret(`public-${pk}`, pk, `public key of ${key.name}`)}</dd></div>
<div><dt>Created</dt><dd>${when(key.createdAt)}</dd></div>
<div><dt>Last used</dt><dd>${when(key.lastUsedAt)}</dd></div>
</dl>
<div class="key-actions">
<form method="post" action="${action('rename')}" class="rename">${csrfField(ctx)}
<div><label for="name-${pk}">Name</label><input type="text" id="name-${pk}" name="name" value="${key.name}" required maxlength="100"></div>
<button type="submit">Save<span class="vh"> name of ${key.name}</span></button></form>
<form method="post" action="${action(key.enabled ? 'disable' : 'enable')}">${csrfField(ctx)}
<button type="submit">${key.enabled ? 'Disable' : 'Enable'}<span class="vh"> ${key.name}</span></button></form>
<a class="button" href="${action('regenerate')}">Regenerate…<span class="vh"> ${key.name}</span></a>
${revealEnabled && key.revealable ? html`<a class="button" href="${action('reveal')}">View private key…<span class="vh"> of ${key.name}</span></a>` : ''}
<a class="button danger" href="${action('delete')}">Delete…<span class="vh"> ${key.name}</span></a>
</div>
</li>`
}

export function keysPage (ctx: PageContext, opts: { keys: AccessKey[], issued?: IssuedView | undefined, revealEnabled: boolean, host: string, nameValue?: string }): SafeHtml {
  const { keys } = opts
  return layout(ctx, 'Access Keys', html`
<h1>Access Keys</h1>
<p class="lead">Composer signs in to this repository with a key pair: the public key is the username and the private key the password in
<code>auth.json</code>. Create one named key per developer, contractor or CI system, so that you can disable, regenerate or delete one
the moment it may be compromised or a person leaves. Changes take effect on the next Composer request.</p>
${opts.issued === undefined ? '' : issuedPanel(opts.issued, opts)}
<section class="panel" aria-labelledby="create-title">
<h2 id="create-title">Create a new access key</h2>
<form method="post" action="${ctx.base}/account/keys" class="row">${csrfField(ctx)}
<div class="grow"><label for="new-key-name">Key name</label>
<input type="text" id="new-key-name" name="name" value="${opts.nameValue ?? ''}" required maxlength="100" placeholder="e.g. Sam’s laptop, GitHub Actions" aria-describedby="new-key-hint"></div>
<button type="submit" class="primary">Create a new access key</button>
</form>
<p class="hint" id="new-key-hint">A name says who or what uses the key.</p>
</section>
<section aria-labelledby="keys-title">
<h2 id="keys-title">Your keys <span class="hint">(${keys.length})</span></h2>
${keys.length === 0
    ? html`<p class="empty">No access keys yet. Create one above and put it in <code>auth.json</code>.</p>`
    : html`<ul class="keys">${keys.map((k) => keyCard(ctx, k, opts.revealEnabled))}</ul>`}
</section>`, 'keys')
}

export function confirmPage (ctx: PageContext, opts: { title: string, key: AccessKey, text: string, action: string, button: string, danger: boolean }): SafeHtml {
  return layout(ctx, opts.title, html`
<div class="auth-box">
<h1>${opts.title}</h1>
<div class="panel">
<p>Key <strong>${opts.key.name}</strong> <code class="mono">${opts.key.publicKey}</code></p>
<p>${opts.text}</p>
<form method="post" action="${opts.action}" class="row">${csrfField(ctx)}
<button type="submit" class="${opts.danger ? 'danger solid' : 'primary'}" autofocus>${opts.button}</button>
<a class="button" href="${ctx.base}/account/keys">Cancel</a>
</form>
</div>
</div>`, 'keys')
}

export function revealPage (ctx: PageContext, opts: { key: AccessKey, error?: string | undefined, privateKey?: string }): SafeHtml {
  const { key } = opts
  const body = opts.privateKey === undefined
    ? html`
<p>Enter your password to view the private key of <strong>${key.name}</strong>.</p>
${opts.error === undefined ? '' : html`<div class="notice error" role="alert">${opts.error}</div>`}
<form method="post" action="${ctx.base}/account/keys/${key.publicKey}/reveal">${csrfField(ctx)}
<div class="field"><label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required autofocus></div>
<div class="row"><button type="submit" class="primary">View private key</button>
<a class="button" href="${ctx.base}/account/keys">Cancel</a></div>
</form>`
    : html`
<dl class="pair">
<div><dt>Public key (username)</dt><dd>${secret('revealed-public-key', key.publicKey, 'public key')}</dd></div>
<div><dt>Private key (password)</dt><dd>${secret('revealed-private-key', opts.privateKey, 'private key')}</dd></div>
</dl>
<p class="hint">Anyone with this pair can install your packages. If it may have been seen by someone else, regenerate it.</p>
<p><a class="button" href="${ctx.base}/account/keys">Back to Access Keys</a></p>`
  return layout(ctx, 'View private key', html`
<h1>View private key</h1>
<div class="panel">${body}</div>`, 'keys')
}

export function downloadsTokenPage (ctx: PageContext, opts: { mageId: string, createdAt: string | undefined, token?: string, baseUrl: string }): SafeHtml {
  const example = (token: string): string =>
    `curl -u ${opts.mageId}:${token} ${opts.baseUrl}/products/downloads/info/files\ncurl -u ${opts.mageId}:${token} -C - -O ${opts.baseUrl}/products/downloads/file/<file name>`
  return layout(ctx, 'Downloads Access Token', html`
<h1>Downloads Access Token</h1>
<p class="lead">Full release archives are downloaded with curl or a script from <code>${opts.baseUrl}/products/downloads/</code>,
authenticated by your MAGEID as the username and your Downloads Access Token as the password.</p>
${opts.token === undefined
    ? ''
    : html`<section class="panel issued" aria-labelledby="token-title" id="issued">
<h2 id="token-title">Your new Downloads Access Token</h2>
<p><strong>Copy it now.</strong> It is stored only as a hash, so it cannot be shown again. The previous token has stopped working.</p>
${secret('new-token', opts.token, 'token')}
<pre id="token-example">${example(opts.token)}</pre>${copyButton('token-example', 'example commands')}
</section>`}
<section class="panel" aria-labelledby="id-title">
<h2 id="id-title">Your MAGEID</h2>
${secret('mage-id', opts.mageId, 'MAGEID')}
<p class="hint">Token: ${opts.createdAt === undefined ? 'none generated yet.' : html`generated ${when(opts.createdAt)}.`}</p>
</section>
<section class="panel" aria-labelledby="generate-title">
<h2 id="generate-title">Generate new token</h2>
<p>${opts.createdAt === undefined ? 'You have no token yet.' : 'Generating a new token replaces your current one, which stops working at once.'}</p>
<form method="post" action="${ctx.base}/account/downloads-token">${csrfField(ctx)}
<button type="submit" class="primary">Generate new token</button></form>
</section>
<section aria-labelledby="usage-title">
<h2 id="usage-title">Usage</h2>
<pre>${example('TOKEN')}</pre>
<p>The full command list: <code>curl -u ${opts.mageId}:TOKEN ${opts.baseUrl}/products/downloads/info/help</code></p>
</section>`, 'token')
}

/** One package an account can install, as the "My packages" page shows it. */
export interface InstallableView { name: string, reason: string, versions: string[], abandoned: boolean | string }

export function packagesPage (ctx: PageContext, opts: { packages: InstallableView[] }): SafeHtml {
  const row = (p: InstallableView, i: number): SafeHtml => html`
<li class="key" id="package-${i}">
<div class="key-head"><h3 class="key-name">${p.name}</h3><span class="badge on">${p.reason}</span>
${p.abandoned === false ? '' : html`<span class="badge off">Abandoned${typeof p.abandoned === 'string' ? html`: use ${p.abandoned}` : ''}</span>`}</div>
<dl class="meta">
<div><dt>Versions you can install</dt><dd class="versions">${p.versions.join(', ')}</dd></div>
<div><dt>Install</dt><dd>${secret(`require-${i}`, `composer require ${p.name}`, `install command for ${p.name}`)}</dd></div>
</dl>
</li>`
  return layout(ctx, 'My packages', html`
<h1>My packages</h1>
<p class="lead">The packages your access keys can install from this repository, the versions your licence covers, and why.
Versions outside your licence are not offered to Composer.</p>
${opts.packages.length === 0
    ? html`<p class="empty">No packages yet. Ask the vendor for access.</p>`
    : html`<ul class="keys">${opts.packages.map(row)}</ul>`}`, 'packages')
}

export function passwordPage (ctx: PageContext, opts: { minPassword: number, error?: string | undefined }): SafeHtml {
  return layout(ctx, 'Change your password', html`
<div class="auth-box">
<h1>Change your password</h1>
<p class="lead">The password for these pages and the account API. Changing it signs out every other browser where you are logged in;
access keys and the Downloads Access Token keep working.</p>
${opts.error === undefined ? '' : html`<div class="notice error" role="alert">${opts.error}</div>`}
<form method="post" action="${ctx.base}/account/password" class="panel">
${csrfField(ctx)}
<div class="field"><label for="current">Current password</label>
<input type="password" id="current" name="current" autocomplete="current-password" required autofocus></div>
<div class="field"><label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required minlength="${opts.minPassword}" aria-describedby="password-hint">
<p class="hint" id="password-hint">At least ${opts.minPassword} characters.</p></div>
<div class="field"><label for="password2">Repeat the new password</label>
<input type="password" id="password2" name="password2" autocomplete="new-password" required minlength="${opts.minPassword}"></div>
<button type="submit" class="primary">Change password</button>
</form>
</div>`, 'password')
}

/**
 * The front page for a browser: what this server is, where to log in, and the two files
 * a Composer project needs (the repository in composer.json, the key pair in auth.json).
 */
export function landingPage (ctx: PageContext, opts: { baseUrl: string, host: string }): SafeHtml {
  // Composer refuses plain http unless told otherwise: say so in the snippet itself.
  const insecure = opts.baseUrl.startsWith('http:') ? { config: { 'secure-http': false } } : {}
  const composerJson = JSON.stringify({ repositories: [{ type: 'composer', url: opts.baseUrl }], ...insecure }, null, 2)
  const authJson = JSON.stringify({ 'http-basic': { [opts.host]: { username: '<public key>', password: '<private key>' } } }, null, 2)
  return layout(ctx, 'Private Composer repository', html`
<h1>Private Composer repository</h1>
<p class="lead">This server is a private Composer repository run with Packyard. Composer installs its packages with an access key;
you create and manage your keys on your account's pages.</p>
<section class="panel" aria-labelledby="account-title">
<h2 id="account-title">Your account</h2>
<p><a class="button primary" href="${ctx.base}/account/login">Log in</a>
${ctx.registrationOpen
    ? html` <a class="button" href="${ctx.base}/account/register">Create an account</a>`
    : html` <span class="hint">Accounts on this server are created by its operator.</span>`}</p>
</section>
<section class="panel" aria-labelledby="composer-title">
<h2 id="composer-title">composer.json</h2>
<p>Add this repository to your project's <code>composer.json</code>:</p>
<pre id="composer-json">${composerJson}</pre>${copyButton('composer-json', 'composer.json snippet')}
</section>
<section class="panel" aria-labelledby="auth-title">
<h2 id="auth-title">auth.json</h2>
<p>Put an access key pair in <code>auth.json</code> next to <code>composer.json</code> (keep it out of version control),
or in Composer's global <code>auth.json</code>. The Access Keys page shows this file filled in for each new key.</p>
<pre id="auth-json">${authJson}</pre>${copyButton('auth-json', 'auth.json template')}
</section>`)
}

const ERROR_TITLES: Record<number, string> = {
  400: 'Check your input',
  403: 'Not allowed',
  404: 'Not found',
  409: 'That did not work',
  413: 'Too large',
  429: 'Too many attempts'
}

/** The words of Fastify's and plugins' errors, rewritten for someone at a browser. */
const FRAMEWORK_MESSAGES: Record<number, string> = {
  413: 'The form was too large.',
  429: 'Too many attempts from your address. Wait a few minutes and try again.'
}

/** The HTML rendering of a classified error (src/http/errors.ts). */
export function errorPageFor (ctx: PageContext, e: { status: number, message: string, log: boolean, fromFramework: boolean }): SafeHtml {
  const message = e.log
    ? 'Something went wrong on our side. Try again in a moment.'
    : (e.fromFramework ? FRAMEWORK_MESSAGES[e.status] : undefined) ?? e.message
  return errorPage(ctx, e.status, ERROR_TITLES[e.status] ?? 'Something went wrong', message)
}

export function errorPage (ctx: PageContext, status: number, title: string, message: string): SafeHtml {
  return layout(ctx, title, html`
<div class="auth-box">
<h1>${title}</h1>
<div class="notice error" role="alert">${message}</div>
<p><a href="${ctx.base}/account/keys">Go to your Access Keys</a></p>
<p class="hint">HTTP ${status}</p>
</div>`)
}
