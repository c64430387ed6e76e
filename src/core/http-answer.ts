/**
 * POSTing a JSON body to an authentication or authorization service and reading its answer:
 * a timeout, no redirects, an answer of at most MAX_ANSWER_BYTES. Keep-alive connections
 * come from fetch's own pool.
 */
const MAX_ANSWER_BYTES = 64 * 1024

export interface HttpAnswer {
  status: number
  /** The body of a 200 answer, as text. */
  text: string
}

/** POSTs `body`; rejects (TimeoutError, network errors, an oversized answer) rather than answering. */
export async function postJson(url: string, headers: Readonly<Record<string, string>>, body: string, timeoutMs: number): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/json', ...headers},
    body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    return {status: res.status, text: ''}
  }
  return {status: 200, text: await readCapped(res)}
}

async function readCapped(res: Response): Promise<string> {
  const reader = res.body?.getReader()
  if (reader === undefined) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const {done, value} = await reader.read()
    if (done) break
    size += value.length
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel()
      throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The JSON object of a 200 answer, or undefined when it is not one. */
export function answerObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
