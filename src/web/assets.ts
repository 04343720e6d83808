import { createHash } from 'node:crypto'

/*
 * The account pages' stylesheet and script, served from /account/assets/ (no CDN: the
 * pages work offline). Kept in code rather than as files so the build output is complete.
 */

export const STYLE_CSS = `:root {
  --ink: #1c2430; --muted: #5b6676; --line: #dde2e9; --bg: #f5f7fa; --card: #fff;
  --brand: #1f3a5f; --accent: #d9480f; --accent-ink: #fff; --ok: #2b8a3e; --ok-bg: #ebfbee;
  --err: #c92a2a; --err-bg: #fff5f5; --focus: #1971c2; --radius: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); line-height: 1.5;
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; }
a { color: var(--focus); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .92em; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
.vh { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.wrap { width: 100%; max-width: 980px; margin: 0 auto; padding: 0 1rem; }
header.top { background: var(--brand); color: #fff; }
header.top .wrap { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; min-height: 3.5rem; padding-top: .4rem; padding-bottom: .4rem; }
.brand { color: #fff; font-weight: 700; font-size: 1.15rem; text-decoration: none; letter-spacing: .01em; }
.brand span { color: #ffb088; }
nav.main { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1rem; flex: 1; }
nav.main a, nav.main .link { color: #dbe4f0; text-decoration: none; padding: .3rem 0; border-bottom: 2px solid transparent; }
nav.main a[aria-current="page"] { color: #fff; border-bottom-color: #ffb088; }
nav.main a:hover, nav.main .link:hover { color: #fff; }
nav.main .who { margin-left: auto; color: #b8c6d9; font-size: .9rem; }
nav.main form { margin: 0; }
.link { background: none; border: 0; font: inherit; cursor: pointer; padding: 0; }
main.wrap { flex: 1; padding-top: 2rem; padding-bottom: 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
h3 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
.lead { color: var(--muted); margin: 0 0 1.5rem; max-width: 46rem; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 1.25rem; margin: 0 0 1.5rem; }
.panel.issued { border-color: #ffc9a8; background: #fff9f5; }
.notice { border-radius: var(--radius); padding: .75rem 1rem; margin: 0 0 1.25rem; border: 1px solid; }
.notice.success { color: var(--ok); background: var(--ok-bg); border-color: #b2f2bb; }
.notice.error { color: var(--err); background: var(--err-bg); border-color: #ffc9c9; }
.notice.warn { color: #8a4b00; background: #fff9db; border-color: #ffe066; }
form { margin: 0; }
label { display: block; font-weight: 600; margin: 0 0 .3rem; }
.hint { color: var(--muted); font-size: .9rem; margin: .25rem 0 0; }
input[type=text], input[type=password], input[type=email] {
  width: 100%; font: inherit; padding: .55rem .7rem; border: 1px solid #b8c1cc; border-radius: 6px; background: #fff; color: var(--ink);
}
.field { margin: 0 0 1rem; }
button, .button {
  display: inline-flex; align-items: center; justify-content: center; gap: .35rem; font: inherit; font-weight: 600;
  padding: .5rem .9rem; border-radius: 6px; border: 1px solid #b8c1cc; background: #fff; color: var(--ink);
  cursor: pointer; text-decoration: none; min-height: 2.5rem; white-space: nowrap;
}
button:hover, .button:hover { background: #f1f3f5; }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-ink); }
button.primary:hover, .button.primary:hover { background: #c2410c; }
button.danger, .button.danger { color: var(--err); border-color: #ffa8a8; }
button.danger.solid { background: var(--err); color: #fff; border-color: var(--err); }
button.small, .button.small { padding: .25rem .6rem; min-height: 2rem; font-size: .88rem; }
.row { display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-end; }
.row .grow { flex: 1 1 16rem; }
.keys { list-style: none; margin: 0; padding: 0; display: grid; gap: 1rem; }
.key { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem 1.25rem; }
.key.is-disabled { background: #fafbfc; }
.key.is-disabled h3 { color: var(--muted); }
.key-head { display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; margin-bottom: .6rem; }
.badge { font-size: .78rem; font-weight: 700; padding: .1rem .55rem; border-radius: 999px; text-transform: uppercase; letter-spacing: .04em; }
.badge.on { color: var(--ok); background: var(--ok-bg); }
.badge.off { color: #868e96; background: #f1f3f5; }
dl.meta { display: grid; grid-template-columns: minmax(0, 2.2fr) minmax(0, 1fr) minmax(0, 1fr); gap: .5rem 1.5rem; margin: 0 0 .9rem; }
dl.meta div { min-width: 0; }
dt { color: var(--muted); font-size: .82rem; text-transform: uppercase; letter-spacing: .04em; }
dd { margin: 0; overflow-wrap: anywhere; }
.secret { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.secret code { background: #f1f3f5; border: 1px solid var(--line); border-radius: 6px; padding: .35rem .55rem; overflow-wrap: anywhere; word-break: break-all; }
dl.pair { display: grid; gap: .75rem; margin: 0 0 1rem; }
pre { background: #1f2933; color: #e6edf3; padding: .9rem 1rem; border-radius: 6px; overflow-x: auto; margin: .5rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.key-actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; border-top: 1px solid var(--line); padding-top: .9rem; }
.key-actions .rename { display: flex; gap: .5rem; align-items: flex-end; flex: 1 1 18rem; }
.key-actions .rename > div { flex: 1; }
.key-actions label { font-size: .85rem; }
.auth-box { max-width: 26rem; margin: 1rem auto; }
.empty { color: var(--muted); background: var(--card); border: 1px dashed #c5ccd6; border-radius: var(--radius); padding: 1.25rem; }
footer { color: var(--muted); font-size: .85rem; padding: 1rem 0 1.5rem; border-top: 1px solid var(--line); }
@media (max-width: 720px) {
  dl.meta { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  dl.meta > div:first-child { grid-column: 1 / -1; }
}
@media (max-width: 600px) {
  main.wrap { padding-top: 1.25rem; }
  h1 { font-size: 1.35rem; }
  .panel, .key { padding: 1rem; }
  header.top .wrap { padding-top: .6rem; padding-bottom: .6rem; }
  nav.main { flex-basis: 100%; }
  nav.main .who { margin-left: 0; flex: 1 1 auto; }
  .key-actions .rename { flex-basis: 100%; }
  .key-actions > form:not(.rename), .key-actions > .button { flex: 1 1 auto; }
  .key-actions > form:not(.rename) button { width: 100%; }
}
`

export const APP_JS = `'use strict'
// Copy buttons (progressive enhancement: hidden until this script runs).
;(function () {
  var buttons = document.querySelectorAll('button[data-copy]')
  for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false
  var live = document.getElementById('copy-status')
  function announce (button, text) {
    if (!button.dataset.label) button.dataset.label = button.textContent
    button.textContent = text
    if (live) live.textContent = text
    setTimeout(function () { button.textContent = button.dataset.label }, 2000)
  }
  function selectText (el) {
    var range = document.createRange()
    range.selectNodeContents(el)
    var sel = window.getSelection()
    sel.removeAllRanges()
    sel.addRange(range)
  }
  document.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-copy]')
    if (!button) return
    var source = document.getElementById(button.getAttribute('data-copy'))
    if (!source) return
    var text = source.textContent
    function fallback () {
      selectText(source)
      var ok = false
      try { ok = document.execCommand('copy') } catch (e) { ok = false }
      announce(button, ok ? 'Copied' : 'Press Ctrl+C to copy')
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { announce(button, 'Copied') }, fallback)
    } else {
      fallback()
    }
  })
})()
`

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f3a5f"/><path d="M10 24V8h7a5 5 0 0 1 0 10h-3v6z" fill="#ffb088"/><path d="M14 11.5v3h3a1.5 1.5 0 0 0 0-3z" fill="#1f3a5f"/></svg>
`

const version = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 10)

export const ASSETS: Record<string, { body: string, type: string, version: string }> = {
  'style.css': { body: STYLE_CSS, type: 'text/css; charset=utf-8', version: version(STYLE_CSS) },
  'app.js': { body: APP_JS, type: 'text/javascript; charset=utf-8', version: version(APP_JS) },
  'icon.svg': { body: ICON_SVG, type: 'image/svg+xml', version: version(ICON_SVG) }
}
