/** Where `pub` takes its payloads from: -m, -f, -s, -l or -n (exactly one, as mosquitto_pub). */
import {readFile} from 'node:fs/promises'
import {ConfigError} from '../core/errors.js'

export interface PayloadFlags {
  message?: string
  file?: string
  'stdin-file'?: boolean
  'stdin-line'?: boolean
  'null-message'?: boolean
}

export function countPayloadSources(f: PayloadFlags): number {
  return [f.message !== undefined, f.file !== undefined, f['stdin-file'], f['stdin-line'], f['null-message']].filter(Boolean).length
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

async function* lines(stream: NodeJS.ReadableStream): AsyncIterable<Buffer> {
  // Loaded on demand: only -l reads lines, and every pub pays for a module loaded at start.
  const {createInterface} = await import('node:readline')
  for await (const line of createInterface({input: stream, crlfDelay: Infinity})) yield Buffer.from(line)
}

/**
 * The payloads to publish, streamed for -l so each stdin line goes out as it arrives.
 * `stdin` defaults to process.stdin, looked at only for -s and -l (the first look sets it up).
 */
export async function payloadsFrom(f: PayloadFlags, stdin?: NodeJS.ReadableStream): Promise<AsyncIterable<Buffer> | Buffer[]> {
  if (f.message !== undefined) return [Buffer.from(f.message)]
  if (f['null-message']) return [Buffer.alloc(0)]
  if (f.file !== undefined) {
    try {
      return [await readFile(f.file)]
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new ConfigError(`-f ${f.file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message}`)
    }
  }
  if (f['stdin-file']) return [await readAll(stdin ?? process.stdin)]
  if (f['stdin-line']) return lines(stdin ?? process.stdin)
  throw new ConfigError('no payload: give one of -m MESSAGE, -f FILE, -s (stdin), -l (stdin lines) or -n (empty)')
}
