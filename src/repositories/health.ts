import type { Db } from '../db/database.js'

/** The cheapest query that proves the database answers. */
export function createHealthRepository (db: Db) {
  const select1 = db.prepare('SELECT 1')
  return {
    ping (): void {
      select1.get()
    }
  }
}

export type HealthRepository = ReturnType<typeof createHealthRepository>
