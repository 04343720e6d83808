import t from 'tap'
import { createKeyThrottle } from '../../src/services/key-throttle.js'

const KEY = 'a'.repeat(32)
const OTHER = 'b'.repeat(32)

function clock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000_000
  return { now: () => t, advance: (ms) => { t += ms } }
}

t.test('ten failures of one key from one address block that pair for a window', async (t) => {
  const c = clock()
  const th = createKeyThrottle({ now: c.now })
  t.same(th.gate(KEY, '10.0.0.1'), { blocked: false }, 'nothing is blocked before any failure')
  for (let i = 0; i < 9; i++) th.failed(KEY, '10.0.0.1')
  t.same(th.gate(KEY, '10.0.0.1'), { blocked: false }, 'nine failures: still open')
  th.failed(KEY, '10.0.0.1')
  t.same(th.gate(KEY, '10.0.0.1'), { blocked: 'key', retryAfterSeconds: 60 }, 'the tenth failure blocks for 60 s')
  t.same(th.gate(KEY, '10.0.0.2'), { blocked: false }, 'the same key from another address is not blocked')
  t.same(th.gate(OTHER, '10.0.0.1'), { blocked: false }, 'another key from the same address is not blocked')
  c.advance(30_000)
  t.same(th.gate(KEY, '10.0.0.1'), { blocked: 'key', retryAfterSeconds: 30 }, 'Retry-After counts down')
  c.advance(30_001)
  t.same(th.gate(KEY, '10.0.0.1'), { blocked: false }, 'open again after the block')
})

t.test('failures that continue after a block double the next block; a quiet period resets', async (t) => {
  const c = clock()
  const th = createKeyThrottle({ now: c.now })
  const failTimes = (n: number): void => { for (let i = 0; i < n; i++) th.failed(KEY, '::1') }
  failTimes(10)
  t.match(th.gate(KEY, '::1'), { blocked: 'key', retryAfterSeconds: 60 })
  c.advance(60_001)
  failTimes(10)
  t.match(th.gate(KEY, '::1'), { blocked: 'key', retryAfterSeconds: 120 }, 'second block: 120 s')
  c.advance(120_001)
  failTimes(10)
  t.match(th.gate(KEY, '::1'), { blocked: 'key', retryAfterSeconds: 240 }, 'third block: 240 s')
  c.advance(240_001 + 240_001)
  t.equal(th.size(), 2, 'still remembered until the quiet period has passed')
  t.same(th.gate(KEY, '::1'), { blocked: false })
  failTimes(10)
  t.match(th.gate(KEY, '::1'), { blocked: 'key', retryAfterSeconds: 60 }, 'after quiet, back to the first block length')
})

t.test('failures spread over more than a window do not add up', async (t) => {
  const c = clock()
  const th = createKeyThrottle({ now: c.now })
  for (let i = 0; i < 9; i++) th.failed(KEY, '::1')
  c.advance(61_000)
  for (let i = 0; i < 9; i++) th.failed(KEY, '::1')
  t.same(th.gate(KEY, '::1'), { blocked: false })
})

t.test('one address failing with many public keys is limited as a whole', async (t) => {
  const c = clock()
  const th = createKeyThrottle({ now: c.now, maxPerAddress: 100 })
  for (let i = 0; i < 100; i++) th.failed(i.toString(16).padStart(32, '0'), '192.0.2.7')
  t.match(th.gate(OTHER, '192.0.2.7'), { blocked: 'address', retryAfterSeconds: 60 }, 'a fresh key from that address meets the address block')
  t.same(th.gate(OTHER, '192.0.2.8'), { blocked: false }, 'other addresses are not affected')
})

t.test('memory stays bounded under a flood of distinct keys', async (t) => {
  const c = clock()
  const th = createKeyThrottle({ now: c.now, maxEntries: 1000, maxPerAddress: 1e9 })
  for (let i = 0; i < 5000; i++) th.failed(i.toString(16).padStart(32, '0'), '192.0.2.9')
  t.ok(th.size() <= 1000, `${th.size()} entries kept`)
})
