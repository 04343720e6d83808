import path from 'node:path'
import type { Cli } from '../kit.js'

export function registerBackupCommand ({ program, io, run }: Cli): void {
  program.command('backup <dir>')
    .description('copy the database (SQLite online backup) and the archives into <dir> while the server keeps serving')
    .action(async (dir: string) => {
      await run((ctx) => ctx.backups.run(path.resolve(io.cwd, dir)),
        (r) => `backed up ${r.packages} packages, ${r.versions} versions and ${r.archives} archives (${r.copied} new; ${r.bytes} bytes) to ${r.dir}`, 'read')()
    })
}
