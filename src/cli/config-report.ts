/**
 * `mqttws config check FILE` and `serve --print-config`: where in a config file a problem
 * is (line and column, from the YAML parser), and the effective settings as YAML with
 * secrets and key material left out.
 */
import {LineCounter, parseDocument, stringify} from 'yaml'

export interface Located {
  line: number
  column: number
}

/** `listeners[2].tls` → ['listeners', 2, 'tls']. */
export function settingPath(setting: string): Array<string | number> {
  const out: Array<string | number> = []
  for (const part of setting.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part)
    if (!m) return out
    if (m[1] !== '') out.push(m[1])
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]))
  }
  return out
}

/**
 * Where the setting a message names ('setting "limits.maxPackeSize"', 'unknown setting "x"')
 * is in the YAML or JSON text: the deepest part of its path that the file has. Undefined
 * when the message names no setting or the file does not parse.
 */
export function locateSetting(text: string, message: string): Located | undefined {
  const named = /setting "([^"]+)"/.exec(message)?.[1]
  if (named === undefined) return undefined
  const counter = new LineCounter()
  const doc = parseDocument(text, {lineCounter: counter})
  if (doc.errors.length > 0) return undefined
  const path = settingPath(named)
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true)
    // The key of a mapping entry, else the item of a sequence.
    const node = keyNode(parent, path[n - 1]) ?? (doc.getIn(path.slice(0, n), true) as {range?: [number, number, number]} | undefined)
    if (node?.range) {
      const {line, col} = counter.linePos(node.range[0])
      return {line, column: col}
    }
  }
  return undefined
}

function keyNode(parent: unknown, key: string | number): {range?: [number, number, number]} | undefined {
  const items = (parent as {items?: Array<{key?: {value?: unknown; range?: [number, number, number]}}>} | undefined)?.items
  if (!Array.isArray(items) || typeof key !== 'string') return undefined
  return items.find((i) => i.key?.value === key)?.key
}

/** The line and column of a YAML or JSON syntax error, when the parser gives one. */
export function syntaxErrorPosition(text: string, json: boolean): (Located & {message: string}) | undefined {
  if (json) {
    try {
      JSON.parse(text)
      return undefined
    } catch (error) {
      const pos = /position (\d+)/.exec((error as Error).message)
      if (!pos) return undefined
      const before = text.slice(0, Number(pos[1])).split('\n')
      return {line: before.length, column: before.at(-1)!.length + 1, message: (error as Error).message}
    }
  }
  const doc = parseDocument(text, {prettyErrors: false})
  const e = doc.errors[0]
  if (!e) return undefined
  const counter = new LineCounter()
  parseDocument(text, {lineCounter: counter})
  const {line, col} = counter.linePos(e.pos[0])
  return {line, column: col, message: e.message.split('\n')[0]}
}

const SECRET_KEY = /token|secret|password|passwd|credential|^key$|privateKey/i

/** The settings with every secret and PEM text replaced by a note of what was there. */
export function redacted(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('-----BEGIN')) return `<PEM, ${value.length} bytes>`
    if (SECRET_KEY.test(key)) return '<redacted>'
    return value
  }
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`
  if (Array.isArray(value)) return value.map((v) => redacted(v, key))
  if (value instanceof Map) return redacted(Object.fromEntries(value), key)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'function' || v === undefined) continue
      out[k] = SECRET_KEY.test(k) && typeof v !== 'object' && typeof v !== 'boolean' ? '<redacted>' : redacted(v, k)
    }
    return out
  }
  return value
}

/** serve --print-config: the effective settings as YAML a config file could hold, secrets redacted. */
export function renderEffectiveConfig(config: object, logLevel: string): string {
  return `# mqttws serve: the effective settings (defaults < --config file < MQTTWS_* environment < flags).\n# Secrets and key material are redacted.\n${stringify({...(redacted(config) as object), logLevel})}`
}
