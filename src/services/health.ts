import type { HealthRepository } from '../repositories/health.js'

/** Liveness for /healthz: the process answers and so does its database. */
export function createHealthService (deps: { health: HealthRepository }) {
  return {
    check (): { status: 'ok' } {
      deps.health.ping()
      return { status: 'ok' }
    }
  }
}

export type HealthService = ReturnType<typeof createHealthService>
