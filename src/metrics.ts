import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

/** Seconds; downloads of large archives over slow links land in the upper buckets. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/**
 * This app's Prometheus metrics, in a registry of its own (never prom-client's global one:
 * tests run many apps in one process). Route labels are route patterns, never raw URLs,
 * so package names in paths cannot blow up the series count.
 */
/** Where a sign-in failed: Composer keys, the account pages, the JSON API, the downloads API. */
export type AuthSurface = 'composer' | 'pages' | 'api' | 'downloads'

export function createMetrics (opts: { authFailureReasons?: Partial<Record<AuthSurface, readonly string[]>> } = {}) {
  const register = new Registry()
  collectDefaultMetrics({ register })
  const http = createRequestSeries(register)
  const authFailures = new Counter({
    name: 'packyard_auth_failures_total',
    help: 'Rejected sign-ins, by surface (composer, pages, api, downloads) and reason (e.g. missing, wrong_secret, wrong_password, throttled)',
    labelNames: ['surface', 'reason'] as const,
    registers: [register]
  })
  const throttled = new Counter({
    name: 'packyard_auth_throttled_total',
    help: 'Requests refused with 429 because of earlier failed sign-ins, by surface',
    labelNames: ['surface'] as const,
    registers: [register]
  })
  throttled.inc({ surface: 'composer' }, 0)
  const archiveDownloads = new Counter({
    name: 'packyard_archive_downloads_total',
    help: 'Dist archives served, by package',
    labelNames: ['package'] as const,
    registers: [register]
  })
  // Known reasons start at 0, so a rate() alert works before the first failure.
  for (const [surface, reasons] of Object.entries(opts.authFailureReasons ?? {})) {
    for (const reason of reasons) authFailures.inc({ surface, reason }, 0)
  }

  return {
    contentType: register.contentType,
    render: (): Promise<string> => register.metrics(),
    observeRequest (method: string, route: string, statusCode: number, seconds: number): void {
      http.series(method, route, statusCode).observe(seconds)
    },
    /** The series of one method, route and status, for a caller that answers many of them (the fast lane). */
    requestSeries: http.series,
    throttled (surface: AuthSurface): void {
      throttled.inc({ surface })
    },
    authFailure (surface: AuthSurface, reason: string): void {
      authFailures.inc({ surface, reason })
    },
    archiveDownload (packageName: string): void {
      archiveDownloads.inc({ package: packageName })
    },
    /** Per-upstream mirror counters (services/mirror.ts), read from `source` at each scrape. */
    observeMirror (source: () => Array<{ upstream: string, requests: number, errors: number, bytes: number, cacheHits: number, oldestMetadataSeconds: number }>): void {
      const counters = [
        ['packyard_upstream_requests_total', 'Requests Packyard made to each mirrored upstream', 'requests'],
        ['packyard_upstream_errors_total', 'Failed upstream requests (refused, timeout, 5xx, 401, bad data), by upstream', 'errors'],
        ['packyard_upstream_bytes_total', 'Bytes received from each upstream (metadata and archives)', 'bytes'],
        ['packyard_upstream_cache_hits_total', 'Mirrored documents and archives served from the local copy, by upstream', 'cacheHits']
      ] as const
      for (const [name, help, field] of counters) {
        // eslint-disable-next-line no-new
        new Counter({
          name,
          help,
          labelNames: ['upstream'] as const,
          registers: [register],
          collect () {
            this.reset()
            for (const s of source()) this.inc({ upstream: s.upstream }, s[field])
          }
        })
      }
      // eslint-disable-next-line no-new
      new Gauge({
        name: 'packyard_upstream_oldest_metadata_age_seconds',
        help: 'Age of the oldest mirrored metadata not refreshed from its upstream, by upstream',
        labelNames: ['upstream'] as const,
        registers: [register],
        collect () {
          this.reset()
          for (const s of source()) this.set({ upstream: s.upstream }, s.oldestMetadataSeconds)
        }
      })
    },
    close (): void {
      register.clear()
    }
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * Counts every response of this app. A root hook on purpose: every route, present and
 * future, is measured, and unmatched URLs share one label instead of one series each.
 */
export function observeHttp (app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
  })
}

/** One method + route + status: a request count, a duration sum and per-bucket counts. */
export interface RequestSeries {
  observe: (seconds: number) => void
}

/**
 * `packyard_http_requests_total` and `packyard_http_request_duration_seconds`, kept in plain
 * numbers and turned into Prometheus samples only when scraped. prom-client's Counter and
 * Histogram hash their label object on every inc()/observe(), even through labels(), which
 * under load cost more than answering a metadata request from memory; here an observation is
 * a few additions on an object the caller may keep. The text is what prom-client's own
 * Counter and Histogram would print (cumulative `le` buckets, `+Inf`, `_sum`, `_count`).
 */
function createRequestSeries (register: Registry) {
  interface Series { labels: { method: string, route: string, status_code: string }, count: number, sum: number, buckets: Float64Array, observe: (seconds: number) => void }
  // Route labels are patterns and methods and statuses few, so this stays small.
  const all = new Map<string, Series>()
  const labelNames = ['method', 'route', 'status_code']

  function series (method: string, route: string, statusCode: number): Series {
    const key = `${method} ${statusCode} ${route}`
    let s = all.get(key)
    if (s === undefined) {
      const created: Series = {
        labels: { method, route, status_code: String(statusCode) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(DURATION_BUCKETS.length),
        observe (seconds) {
          created.count++
          created.sum += seconds
          for (let i = 0; i < DURATION_BUCKETS.length; i++) {
            if (seconds <= DURATION_BUCKETS[i]!) {
              created.buckets[i]!++
              break
            }
          }
        }
      }
      s = created
      all.set(key, s)
    }
    return s
  }

  // prom-client prints any registered object with name, help, type and get().
  register.registerMetric({
    name: 'packyard_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    type: 'counter',
    labelNames,
    get: () => ({
      name: 'packyard_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      type: 'counter',
      aggregator: 'sum',
      values: [...all.values()].map((s) => ({ labels: s.labels, value: s.count }))
    })
  } as never)
  register.registerMetric({
    name: 'packyard_http_request_duration_seconds',
    help: 'Time from receiving a request to the last byte of its response, by method, route pattern and status code',
    type: 'histogram',
    labelNames,
    get: () => ({
      name: 'packyard_http_request_duration_seconds',
      help: 'Time from receiving a request to the last byte of its response, by method, route pattern and status code',
      type: 'histogram',
      aggregator: 'sum',
      values: [...all.values()].flatMap((s) => {
        let cumulative = 0
        const values: Array<{ metricName: string, labels: Record<string, string | number>, value: number }> = DURATION_BUCKETS.map((le, i) => {
          cumulative += s.buckets[i]!
          return { metricName: 'packyard_http_request_duration_seconds_bucket', labels: { le, ...s.labels }, value: cumulative }
        })
        values.push(
          { metricName: 'packyard_http_request_duration_seconds_bucket', labels: { le: '+Inf', ...s.labels }, value: s.count },
          { metricName: 'packyard_http_request_duration_seconds_sum', labels: s.labels, value: s.sum },
          { metricName: 'packyard_http_request_duration_seconds_count', labels: s.labels, value: s.count }
        )
        return values
      })
    })
  } as never)
  return { series: series as (method: string, route: string, statusCode: number) => RequestSeries }
}
