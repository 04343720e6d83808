import type { Db } from '../db/database.js'

/** Wraps a synchronous function so that each call runs in one database transaction (nested calls become savepoints). */
export type Transactional = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R

/**
 * How services group several repository writes atomically without seeing the database: the
 * function must be synchronous (do async work such as reading an upload before it).
 *
 * `BEGIN IMMEDIATE`: the write lock is taken when the transaction starts, waiting up to the
 * busy timeout for another writer (the server, the CLI, a second server process). A deferred
 * transaction that reads first and then writes fails at once with "database is locked"
 * (SQLITE_BUSY, without waiting) when another connection committed in between, which is
 * what a CLI command running beside a busy server (webhook deliveries, key usage) ran into.
 */
export function createTransactional (db: Db): Transactional {
  return (fn) => immediate(db, fn)
}

/** A repository's own multi-statement write, as one `BEGIN IMMEDIATE` transaction (see above). */
export function immediate<A extends unknown[], R> (db: Db, fn: (...args: A) => R): (...args: A) => R {
  const transaction = db.transaction(fn)
  return (...args) => transaction.immediate(...args)
}
