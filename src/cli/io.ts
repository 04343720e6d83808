/** Everything a command touches of its process, so tests can run `main` in process. */
export interface Io {
  stdout: (s: string) => void
  stderr: (s: string) => void
  stdin: () => Promise<string>
  isTTY: boolean
  env: Record<string, string | undefined>
  /** Relative paths (--data-dir, release files) resolve against this. */
  cwd: string
}

export const defaultIo: Io = {
  stdout: (s) => { process.stdout.write(s) },
  stderr: (s) => { process.stderr.write(s) },
  stdin: async () => {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
  isTTY: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd()
}
