import { combineRanges, parse } from 'range-parser'

export interface ByteRange { start: number, end: number }

/**
 * What to send for a `Range` header against a file of `size` bytes: one range (206), 'unsatisfiable'
 * (416, with a Content-Range of "bytes &ast;/size"), or undefined for the whole file: no header, a
 * malformed one, another unit, or several disjoint ranges (RFC 9110 lets a server ignore all
 * of these and answer 200). Parsing is range-parser's (the one Express and send use).
 */
export function byteRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const parsed = parse(size, header)
  if (parsed.type !== 'bytes' || (parsed.code & 1) !== 0) return undefined
  if (parsed.ranges.length === 0) return size === 0 ? undefined : 'unsatisfiable'
  const ranges = combineRanges(parsed.ranges)
  if (ranges.length !== 1) return undefined
  return { start: ranges[0]!.start, end: ranges[0]!.end }
}
