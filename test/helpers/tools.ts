import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * True when a system tool is on PATH (or an absolute path exists).
 * Under CI=true a missing tool is a failure, never a skip (README.md, "Tests").
 */
export function hasTool (name: string): boolean {
  if (name.startsWith('/')) return existsSync(name)
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

/** What requireTools needs of a test: a tap Test fits. */
export interface ToolGate {
  fail: (msg: string) => unknown
  plan?: (n: number, comment?: string) => unknown
}

/**
 * Returns true when the test may go on. Otherwise it fails (under CI=true: a missing
 * tool is never a skip) or, on a developer machine, marks the test skipped.
 */
export function requireTools (t: ToolGate, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n))
  if (missing.length === 0) return true
  const msg = `required tool(s) missing: ${missing.join(', ')} (install: apt-get install -y php-cli php-zip composer unzip zip curl chromium)`
  if (process.env.CI === 'true') t.fail(msg)
  else t.plan?.(0, msg)
  return false
}
