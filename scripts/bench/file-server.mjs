// Reference server for bench-download.mjs, run as a child process so its RSS is its own.
// Usage: node file-server.mjs <file> readFile|stream
// readFile: reads the whole archive into memory per request, then sends it.
// stream:   bare node:http + fs.createReadStream, no framework, no auth (the floor).
import http from 'node:http'
import { createReadStream, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

const [file, mode] = process.argv.slice(2)
if (file === undefined || (mode !== 'readFile' && mode !== 'stream')) {
  console.error('usage: file-server.mjs <file> readFile|stream')
  process.exit(2)
}

const server = http.createServer((req, res) => {
  if (req.url !== '/archive.zip') {
    res.writeHead(404).end()
    return
  }
  if (mode === 'stream') {
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': statSync(file).size })
    createReadStream(file).pipe(res)
    return
  }
  readFile(file).then((body) => {
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length })
    res.end(body)
  }, () => res.writeHead(500).end())
})
server.listen(0, '127.0.0.1', () => {
  console.log(`listening at http://127.0.0.1:${server.address().port}`)
})
process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
