import type { Db } from '../db/database.js'

/** Wraps a synchronous function so that each call runs in one database transaction (nested calls become savepoints). */
export type Transactional = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R

/**
 * How services group several repository writes atomically without seeing the database: the
 * function must be synchronous (do async work such as reading an upload before it).
 */
export function createTransactional (db: Db): Transactional {
  return (fn) => db.transaction(fn)
}
