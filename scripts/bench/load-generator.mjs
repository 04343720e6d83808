// One autocannon measurement in its own process, so the load generator neither shares the
// server's event loop nor counts in its CPU time. Reads its options as JSON on stdin and
// prints one JSON summary on stdout. autocannon stops by itself after `duration` seconds.
import autocannon from 'autocannon'

let input = ''
for await (const chunk of process.stdin) input += chunk
const { url, connections, duration, headers, requests } = JSON.parse(input)
const result = await autocannon({ url, connections, duration, headers, requests })
process.stdout.write(JSON.stringify({
  reqPerSec: result.requests.total / result.duration,
  total: result.requests.total,
  latencyMean: result.latency.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts
}) + '\n')
