export type Json = Record<string, any>

/** The Composer client's expansion of a composer/2.0 list (docs/composer-protocol.md §2.3). */
export function expand<T extends Json> (list: T[]): T[] {
  const out: T[] = []
  let previous: T | undefined
  for (const item of list) {
    const next = (previous === undefined ? {} : { ...previous }) as Json
    for (const [key, value] of Object.entries(item)) {
      if (value === '__unset') delete next[key]
      else next[key] = value
    }
    out.push(next as T)
    previous = next as T
  }
  return out
}

/** Maps items with at most `limit` promises in flight, keeping the order. */
export async function inParallel<T, R> (items: T[], fn: (item: T) => Promise<R>, limit = 4): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** The value of one sample line `name{labels} value`, or undefined when absent. */
export function sample (text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => found[k] === v) && Object.keys(found).length === Object.keys(labels).length) return Number(m[3])
  }
  return undefined
}
