import type { Advisory } from '../domain/catalog.js'
import { ADVISORY_PREFIX, type AdvisoriesRepository } from '../repositories/advisories.js'
import { parseConstraint } from '../composer/constraint.js'
import { errors } from '../errors.js'
import type { CatalogService } from './catalog.js'
import type { MirrorService } from './mirror.js'

export interface AdvisoryInput {
  package: string
  affectedVersions: string
  title: string
  cve?: string | undefined
  link?: string | undefined
  severity?: string | undefined
}

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const

/** One advisory as Composer's audit reads it (docs/composer-protocol.md §6.5). */
export type ComposerAdvisory = Omit<Advisory, 'id'> & { sources: Array<{ name: string, remoteId: string }> }

const CVE = /^CVE-\d{4}-\d{4,}$/

/**
 * Security advisories for `composer audit`: the operator adds them per package (a local one, or
 * a name an upstream serves) with the affected versions as a Composer constraint; Composer POSTs
 * the names it has installed and gets the advisories of the packages this account can see.
 */
export function createAdvisoryService (deps: { advisories: AdvisoriesRepository, catalog: CatalogService, mirror?: MirrorService | undefined }) {
  const { advisories, catalog } = deps

  function parseId (id: string | number): number {
    const text = String(id)
    const n = Number(text.toUpperCase().startsWith(ADVISORY_PREFIX) ? text.slice(ADVISORY_PREFIX.length) : text)
    if (!Number.isSafeInteger(n) || n < 1) throw errors.badRequest(`invalid advisory id "${text}": use the number or ${ADVISORY_PREFIX}<number>`)
    return n
  }

  return {
    add (input: AdvisoryInput): Advisory {
      const name = input.package.trim().toLowerCase()
      // A local package, else a name an upstream serves (mirrored, approved, or matching a lazy upstream's patterns).
      const local = catalog.exists(name) ? catalog.get(name) : undefined
      if (local === undefined && deps.mirror?.servesName(name) !== true) throw errors.notFound(`package "${input.package}" (published here or served by an upstream)`)
      const affected = input.affectedVersions.trim()
      try {
        parseConstraint(affected)
      } catch (err) {
        throw errors.badRequest(`affected versions: ${(err as Error).message}; use a Composer constraint such as ">=1.0,<1.4.2"`)
      }
      const title = input.title.trim()
      if (title === '') throw errors.badRequest('an advisory needs a title')
      const cve = input.cve?.trim().toUpperCase() || null
      if (cve !== null && !CVE.test(cve)) throw errors.badRequest(`invalid CVE "${input.cve ?? ''}": use CVE-YYYY-NNNN`)
      const link = input.link?.trim() || null
      if (link !== null && !/^https?:\/\/\S+$/.test(link)) throw errors.badRequest(`invalid link "${link}": use an http(s) URL`)
      const severity = input.severity?.trim().toLowerCase() || null
      if (severity !== null && !(SEVERITIES as readonly string[]).includes(severity)) throw errors.badRequest(`invalid severity "${input.severity ?? ''}": use ${SEVERITIES.join(', ')}`)
      // Composer parses reportedAt with PHP's DateTime: "Y-m-d H:i:s" (UTC).
      const reportedAt = new Date().toISOString().slice(0, 19).replace('T', ' ')
      return advisories.insert(local?.name ?? name, local?.id ?? null, { affectedVersions: affected, title, cve, link, severity, reportedAt })
    },
    list: (): Advisory[] => advisories.list(),
    remove (id: string | number): Advisory {
      const n = parseId(id)
      const found = advisories.find(n)
      if (found === undefined) throw errors.notFound(`advisory ${ADVISORY_PREFIX}${n}`)
      advisories.remove(n)
      return found
    },
    /**
     * Composer's audit answer: every asked name this account can see, with its advisories
     * (an empty list when it has none); names it cannot see are left out. A name this account
     * installs from a mirrored upstream gets the operator's advisories of that name followed by
     * that upstream's own (services/mirror.ts).
     */
    async forAccount (accountId: number, names: string[]): Promise<Record<string, ComposerAdvisory[]>> {
      const visible = new Set(catalog.visibleNames(accountId))
      const asked = [...new Set(names.map((n) => n.toLowerCase()))].filter((n) => visible.has(n))
      const out: Record<string, ComposerAdvisory[]> = {}
      for (const name of asked) out[name] = []
      for (const a of advisories.ofPackages(asked)) {
        out[a.packageName]!.push({
          advisoryId: a.advisoryId,
          packageName: a.packageName,
          affectedVersions: a.affectedVersions,
          title: a.title,
          cve: a.cve,
          link: a.link,
          reportedAt: a.reportedAt,
          sources: [{ name: 'Packyard', remoteId: a.advisoryId }],
          severity: a.severity
        })
      }
      // Local packages shadow upstream ones completely: only names no local package has are asked upstream.
      const mirrored = deps.mirror === undefined ? [] : asked.filter((n) => !catalog.isLocal(n))
      if (mirrored.length > 0) {
        for (const [name, list] of await deps.mirror!.advisories(accountId, mirrored)) out[name]!.push(...list)
      }
      return out
    }
  }
}

export type AdvisoryService = ReturnType<typeof createAdvisoryService>
