import { write, writeSync } from 'node:fs'

export interface LogSink extends ByteSink {
  write: (line: string) => boolean
  /** Writes everything buffered now, synchronously (shutdown). */
  flushSync: () => void
}

/** Writing a line as bytes straight into the sink's buffer (the access log's hot path). */
export interface ByteSink {
  /** The buffer to write at most `bytes` bytes into, from `offset` (flushed first when it lacks the room). */
  reserve: (bytes: number) => Buffer
  /** Where the next line starts in the buffer `reserve` returned. */
  readonly offset: number
  /** The line is in place: it ends at `end`. Nothing is kept when `commit` is not called. */
  commit: (end: number) => void
}

const CHUNK_BYTES = 64 * 1024
/** How long a line may wait for others to share its write. */
const FLUSH_DELAY_MS = 25
/** Lines buffered while the file descriptor does not keep up; beyond this, new lines are dropped and counted. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024

/**
 * Where the log lines go (stdout by default): lines are appended to a 64 KiB buffer, which
 * is written with one asynchronous write 25 ms after the first line waiting in it (or as
 * soon as it is full), and synchronously when the process exits. A busy server thus makes a
 * few dozen writes a second instead of one per line, and a line is never more than 25 ms
 * late. Every line goes through this one sink in
 * order (pino's lines and the access lines alike), so lines never interleave. Used by buildApp
 * for stdout.
 */
export function createLogSink (fd: number): LogSink {
  /** Buffers whose write completed, reused for the next lines (a busy server cycles two or three). */
  const spare: Buffer[] = []
  let buf: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES)
  let len = 0
  /** Filled buffers (or their unwritten rest after a short write) waiting for the write in flight. */
  const queue: Array<{ chunk: Buffer, owner: Buffer | undefined }> = []
  let queued = 0
  let writing = false
  let dropped = 0

  function next (): void {
    const item = queue.shift()
    if (item === undefined) {
      writing = false
      return
    }
    writing = true
    const { chunk, owner } = item
    write(fd, chunk, 0, chunk.length, null, (err, written) => {
      queued -= chunk.length
      // A short write (a pipe): write the rest first.
      if (err === null && written < chunk.length) {
        const rest = chunk.subarray(written)
        queue.unshift({ chunk: rest, owner })
        queued += rest.length
      } else if (owner !== undefined && spare.length < 4) {
        spare.push(owner)
      }
      next()
    })
  }

  function enqueue (chunk: Buffer, owner: Buffer | undefined): void {
    queue.push({ chunk, owner })
    queued += chunk.length
    if (!writing) next()
  }

  function flush (): void {
    if (len === 0) return
    if (queued + len > MAX_PENDING_BYTES) {
      dropped++
      len = 0
      return
    }
    // The filled buffer itself goes to the write; lines continue in a spare one (no copy, and
    // no new allocation once a few buffers are in rotation).
    enqueue(buf.subarray(0, len), buf)
    buf = spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)
    len = 0
  }

  let scheduled = false
  const flushSoon = (): void => {
    scheduled = false
    flush()
  }
  // Lines written after close (e.g. "shutdown complete") go out when the process exits.
  process.once('exit', () => { sink.flushSync() })

  const flushLater = (): void => {
    if (!scheduled) {
      scheduled = true
      setTimeout(flushSoon, FLUSH_DELAY_MS).unref()
    }
  }

  const sink: LogSink = {
    reserve (bytes) {
      if (len + bytes > CHUNK_BYTES) flush()
      return buf
    },
    get offset () {
      return len
    },
    commit (end) {
      len = end
      flushLater()
    },
    write (line) {
      if (len + line.length * 3 > CHUNK_BYTES) {
        flush()
        if (line.length * 3 > CHUNK_BYTES) {
          enqueue(Buffer.from(line), undefined)
          return true
        }
      }
      len += buf.write(line, len, 'utf8')
      flushLater()
      return true
    },
    flushSync () {
      if (dropped > 0) sink.write(`{"level":40,"time":${Date.now()},"msg":"log lines dropped: stdout did not keep up","buffers":${dropped}}\n`)
      dropped = 0
      // What is queued goes before what is buffered. A write still in flight (started at most
      // 25 ms ago, and normally done in microseconds) is not waited for.
      for (const { chunk } of queue.splice(0)) writeAll(chunk)
      writeAll(buf.subarray(0, len))
      len = 0
    }
  }
  return sink

  /** Synchronously, retrying a non-blocking pipe that is momentarily full, but not forever. */
  function writeAll (chunk: Buffer): void {
    let off = 0
    for (let busy = 0; off < chunk.length && busy < 10_000;) {
      try {
        off += writeSync(fd, chunk, off)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return
        busy++
      }
    }
  }
}
