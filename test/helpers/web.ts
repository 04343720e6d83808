import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

/** The form token of the first form on a page. */
export function csrfOf (html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html)
  if (m === null) throw new Error('no form token on the page')
  return m[1]!
}

/** Decodes the few entities our templates produce, to read text back. */
export function textOf (html: string): string {
  return html.replace(/<[^>]+>/g, '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

/** A newly issued key pair as shown on the page (ids new-public-key / new-private-key). */
export function issuedPairOf (html: string): { publicKey: string, privateKey: string } {
  const pub = /id="new-public-key">([0-9a-f]{32})</.exec(html)
  const priv = /id="new-private-key">([0-9a-f]{32})</.exec(html)
  if (pub === null || priv === null) throw new Error('no issued key pair on the page')
  return { publicKey: pub[1]!, privateKey: priv[1]! }
}

export interface Browser {
  cookies: Map<string, string>
  get: (url: string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  /** Posts a form as a browser would, with the cookies it holds. */
  post: (url: string, form: Record<string, string>, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
  /** GETs `pageUrl` and posts its form token with `form` to `action`. */
  submit: (pageUrl: string, action: string, form?: Record<string, string>) => Promise<LightMyRequestResponse>
}

/** A cookie-keeping client over app.inject: just enough of a browser for the account pages. */
export function browser (app: FastifyInstance, opts: { remoteAddress?: string } = {}): Browser {
  const cookies = new Map<string, string>()
  const store = (res: LightMyRequestResponse): void => {
    for (const c of res.cookies as Array<{ name: string, value: string, maxAge?: number }>) {
      if (c.maxAge === 0 || c.value === '') cookies.delete(c.name)
      else cookies.set(c.name, c.value)
    }
  }
  const cookieHeader = (): Record<string, string> =>
    cookies.size === 0 ? {} : { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method: 'GET', url, headers: { ...cookieHeader(), ...headers }, remoteAddress: opts.remoteAddress })
    store(res)
    return res
  }
  const post = async (url: string, form: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await app.inject({
      method: 'POST',
      url,
      payload: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookieHeader(), ...headers },
      remoteAddress: opts.remoteAddress
    })
    store(res)
    return res
  }
  return {
    cookies,
    get,
    post,
    async submit (pageUrl, action, form = {}) {
      const page = await get(pageUrl)
      return await post(action, { _csrf: csrfOf(page.body), ...form })
    }
  }
}

/** Registers an account through the page and returns a logged-in browser. */
export async function registered (app: FastifyInstance, username: string, password: string, opts: { remoteAddress?: string } = {}): Promise<Browser> {
  const b = browser(app, opts)
  const res = await b.submit('/account/register', '/account/register', { username, email: `${username}@example.com`, password, password2: password })
  if (res.statusCode !== 303) throw new Error(`registration failed (${res.statusCode}): ${res.body}`)
  return b
}
