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
