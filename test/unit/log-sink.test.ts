import t from 'tap'
import { closeSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogSink } from '../../src/log-sink.js'
import { createAccessLog } from '../../src/logger.js'
import { tempDir } from '../helpers/harness.js'

/** Waits until the file holds `bytes` bytes (the sink writes asynchronously, within 25 ms of a line). */
async function settle (file: string, bytes: number): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const text = readFileSync(file, 'utf8')
    if (Buffer.byteLength(text) >= bytes) return text
    await sleep(10)
  }
  return readFileSync(file, 'utf8')
}

t.test('every line arrives once, whole and in order, while the sink reuses its buffers', async (t) => {
  const file = path.join(tempDir(t), 'log')
  const fd = openSync(file, 'a')
  t.teardown(() => closeSync(fd))
  const sink = createLogSink(fd)
  const lines: string[] = []
  // Bursts of lines with pauses between them: many buffers fill, are written and come back
  // for reuse while later lines are being written into the next one.
  for (let burst = 0; burst < 40; burst++) {
    for (let i = 0; i < 1500; i++) {
      const n = lines.length
      // Varying lengths (and multi-byte characters), so buffer boundaries fall anywhere.
      lines.push(`{"n":${n},"url":"/p2/vendor/p${n}.json","pad":"${'x'.repeat(n % 97)}","é":"ü${n % 7}"}\n`)
      sink.write(lines[n]!)
    }
    await sleep(burst % 3 === 0 ? 30 : 1)
  }
  // One line longer than a whole buffer, between ordinary ones.
  const long = `{"long":"${'y'.repeat(100_000)}"}\n`
  sink.write(long)
  lines.push(long)
  sink.write('{"last":true}\n')
  lines.push('{"last":true}\n')
  const expected = lines.join('')
  const written = await settle(file, Buffer.byteLength(expected))
  t.equal(Buffer.byteLength(written), Buffer.byteLength(expected), 'nothing lost or written twice')
  t.ok(written === expected, 'the file is exactly the lines, in order')
})

t.test('flushSync writes what is still buffered, at once', async (t) => {
  const file = path.join(tempDir(t), 'log')
  const fd = openSync(file, 'a')
  t.teardown(() => closeSync(fd))
  const sink = createLogSink(fd)
  sink.write('{"a":1}\n')
  sink.write('{"b":2}\n')
  t.equal(readFileSync(file, 'utf8'), '', 'buffered, not yet written')
  sink.flushSync()
  t.equal(readFileSync(file, 'utf8'), '{"a":1}\n{"b":2}\n')
  sink.write('{"c":3}\n')
  t.equal(await settle(file, 24), '{"a":1}\n{"b":2}\n{"c":3}\n', 'and keeps working after it')
})

t.test('access lines written as bytes into the sink are exactly the string-built lines', async (t) => {
  const file = path.join(tempDir(t), 'log')
  const fd = openSync(file, 'a')
  t.teardown(() => closeSync(fd))
  const sink = createLogSink(fd)
  const viaBytes = createAccessLog('info', sink)!
  const expected: string[] = []
  const viaString = createAccessLog('info', { write: (line: string) => expected.push(line) })!
  const urls = ['/p2/acme/widget.json', '/packages.json', '/a"b', '/back\\slash', '/tab\there', '/ü/€', '/\u0000', '/%22x%22', '', '/' + 'x'.repeat(5000)]
  const ms = [0, 0.04, 0.05, 0.149, 0.15, 1.26, 9.96, 12.95, 100, 1234.56, 99999.99]
  const entries: Array<Parameters<typeof viaBytes>> = []
  for (const url of urls) entries.push(['fast-1z', 'GET', url, 200, '127.0.0.1', 0.3])
  for (const m of ms) entries.push(['req-9', 'HEAD', '/p2/a/b.json', 404, '::ffff:10.0.0.1', m])
  entries.push(['a"id', 'GET', '/', 500, 'fe80::1%eth0', 2.5], ['req-2', 'POST', '/api/x', 304, '\u00e9', 0])
  for (const e of entries) {
    viaBytes(...e)
    viaString(...e)
  }
  sink.flushSync()
  // The time is the clock's; everything else must be byte-identical.
  const untimed = (line: string): string => line.replace(/^\{"level":30,"time":\d+,/, '{"level":30,"time":0,')
  const written = readFileSync(file, 'utf8').split(/(?<=\n)/)
  t.equal(written.length, entries.length, 'one line per entry')
  t.same(written.map(untimed), expected.map(untimed), 'the same bytes as the string-built lines')
  t.ok(written.every((l) => JSON.parse(l).msg === 'request'), 'every line is JSON')
  t.match(JSON.parse(written[0]!), { reqId: 'fast-1z', url: '/p2/acme/widget.json', statusCode: 200, ms: 0.3 })
})
