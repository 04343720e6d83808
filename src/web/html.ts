const SAFE: unique symbol = Symbol('packyard.safeHtml')

/** Markup that is already escaped (built by `html` or marked with `trusted`). */
export interface SafeHtml {
  readonly [SAFE]: true
  readonly value: string
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}

/** Wraps a string of markup written by us (never one with user input in it). */
export function trusted (markup: string): SafeHtml {
  return { [SAFE]: true, value: markup }
}

function isSafe (v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as Partial<SafeHtml>)[SAFE] === true
}

function render (v: unknown): string {
  if (v === undefined || v === null || v === false) return ''
  if (isSafe(v)) return v.value
  if (Array.isArray(v)) return v.map(render).join('')
  return escapeHtml(String(v))
}

/**
 * Tagged template for pages: every interpolated value is escaped unless it is itself
 * `html` output; arrays are joined; null, undefined and false render as nothing.
 */
export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '')
  return trusted(out)
}
