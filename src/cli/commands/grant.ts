import type { Cli } from '../kit.js'

export function registerGrantCommands ({ program, run }: Cli): void {
  for (const [verb, granted] of [['grant', true], ['revoke', false]] as const) {
    program.command(`${verb} <username> <target>`)
      .description(granted
        ? 'give an account access to a restricted package (vendor/name) or release edition'
        : 'take a package or edition grant back')
      .action(async (username: string, target: string) => {
        await run((ctx) => granted ? ctx.grants.grant(username, target) : ctx.grants.revoke(username, target),
          (r) => 'package' in r
            ? `${r.username} ${r.granted ? 'may now install' : 'may no longer install'} ${r.package}`
            : `${r.username} ${r.granted ? 'may now download' : 'may no longer download'} the ${r.edition} release files`)()
      })
  }
}
