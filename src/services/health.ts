import type { HealthRepository } from '../repositories/health.js'
import type { UpstreamHealth } from './mirror.js'

/**
 * Liveness for /healthz: the process answers and so does its database. Upstreams are reported
 * for information only: Packyard serves what it has cached while they are down, so their
 * failures never make /healthz fail.
 */
export function createHealthService (deps: { health: HealthRepository, upstreams: () => UpstreamHealth[] }) {
  return {
    check (): { status: 'ok', upstreams: UpstreamHealth[] } {
      deps.health.ping()
      return { status: 'ok', upstreams: deps.upstreams() }
    }
  }
}

export type HealthService = ReturnType<typeof createHealthService>
