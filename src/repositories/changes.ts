import type { Db } from '../db/database.js'

export interface ChangeCounters {
  /** Packages, access, metadata and grants. */
  catalog: number
  /** Key pairs: created, regenerated, enabled, disabled, deleted. */
  credentials: number
}

/**
 * The change counters (migrations/003 and 004): moved by triggers inside every writing
 * transaction, by any connection or process. The hot path compares them with the counters its
 * caches were built at; `current()` reads them at most once per event-loop iteration.
 *
 * Why a request cannot be answered from a cache older than a change it must see: the value
 * read in an iteration is dropped by a setImmediate callback, which runs right after that
 * iteration's poll phase. A request sent after a write committed (a client that waited for
 * the CLI, the pages or the API to finish) reaches the server's socket after the commit, so
 * the poll that reports it returns after the commit, and every read made after that poll
 * returns sees the commit. The first hot-path request of that iteration therefore reads a
 * counter at least as new as the write. (The one exception is libuv polling a second time in
 * the same iteration, which it does only after a poll that returned 1024 ready sockets at
 * once; such a request is then answered with the state of a moment earlier in that iteration,
 * never with state that is older than the previous iteration.)
 */
export function createChangeCounters (db: Db) {
  const read = db.prepare<[], ChangeCounters>('SELECT revision AS catalog, credentials FROM catalog_revision WHERE id = 1')
  let cached: ChangeCounters | undefined
  const forget = (): void => { cached = undefined }
  return {
    current (): ChangeCounters {
      if (cached === undefined) {
        cached = read.get()!
        setImmediate(forget)
      }
      return cached
    },
    /** After a write by this process: the next read goes to the database. */
    invalidate: forget
  }
}

export type ChangeCountersRepository = ReturnType<typeof createChangeCounters>
