import t from 'tap'
import { closeSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLogSink } from '../../src/log-sink.js'
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
