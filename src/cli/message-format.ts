/**
 * How `sub` prints a message: plain payload, `-v` (topic payload), mosquitto_sub's `-F`
 * format, or one JSON object per line (`--format ndjson`). Binary payloads are never written
 * raw to a terminal unless asked: they become hex or base64 in text, base64 in JSON.
 *
 * `-F` follows mosquitto_sub 2.x (man mosquitto_sub, OUTPUT FORMAT): `%` codes with flags,
 * width and precision, `@` strftime codes, `\` escapes. The format is compiled once, and an
 * unknown code is a usage error at start, as mosquitto_sub reports it.
 */
import {isUtf8} from 'node:buffer'
import {ConfigError} from '../core/errors.js'
import type {IPublishPacket} from '../core/protocol/codec.js'

export type BinaryMode = 'hex' | 'base64' | 'raw'

type Props = NonNullable<IPublishPacket['properties']>

/** The payload as text when it is valid UTF-8 without control characters other than tab/newline/CR. */
export function utf8OrUndefined(payload: Buffer): string | undefined {
  if (!isUtf8(payload)) return undefined
  const text = payload.toString('utf8')
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

/** Payload for text output: as is when it is text, else hex or base64 (raw is handled by the caller). */
export function payloadText(payload: Buffer, binary: BinaryMode): string {
  const text = utf8OrUndefined(payload)
  if (text !== undefined) return text
  if (binary === 'raw') return payload.toString('latin1')
  return binary === 'base64' ? payload.toString('base64') : payload.toString('hex')
}

// ---- JSON ----------------------------------------------------------------------------

function propertiesJson(p: Props | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : v
  return Object.keys(out).length > 0 ? out : undefined
}

/**
 * `--format ndjson`: one message as a JSON object. The payload is a string when it is
 * UTF-8 (`encoding: "utf8"`), else base64 (`encoding: "base64"`). MQTT 5 properties keep
 * their mqtt-packet names; binary ones (correlationData) are base64.
 */
export function messageJson(p: IPublishPacket, now = new Date()): Record<string, unknown> {
  const payload = p.payload as Buffer
  const utf8 = isUtf8(payload)
  const out: Record<string, unknown> = {
    time: now.toISOString(),
    topic: p.topic,
    payload: utf8 ? payload.toString('utf8') : payload.toString('base64'),
    encoding: utf8 ? 'utf8' : 'base64',
    qos: p.qos,
    retain: p.retain,
  }
  if (p.messageId !== undefined && p.qos > 0) out.messageId = p.messageId
  const props = propertiesJson(p.properties)
  if (props) out.properties = props
  return out
}

/** mosquitto_sub's names for the properties in %j/%J output, in its order. */
function mosquittoProperties(p: Props | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  const out: Record<string, unknown> = {}
  if (p.payloadFormatIndicator !== undefined) out['payload-format-indicator'] = p.payloadFormatIndicator ? 1 : 0
  if (p.messageExpiryInterval !== undefined) out['message-expiry-interval'] = p.messageExpiryInterval
  if (p.contentType !== undefined) out['content-type'] = p.contentType
  if (p.responseTopic !== undefined) out['response-topic'] = p.responseTopic
  if (p.correlationData !== undefined) {
    const cd = p.correlationData
    out['correlation-data'] = isUtf8(cd) ? cd.toString('utf8') : cd.toString('base64')
  }
  const sid = p.subscriptionIdentifier
  if (sid !== undefined) out['subscription-identifier'] = Array.isArray(sid) ? sid[0] : sid
  if (p.topicAlias !== undefined) out['topic-alias'] = p.topicAlias
  if (p.userProperties) {
    const list: Array<Record<string, string>> = []
    for (const [k, v] of Object.entries(p.userProperties)) for (const one of Array.isArray(v) ? v : [v]) list.push({[k]: one})
    out['user-properties'] = list
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/**
 * %j / %J: mosquitto_sub's JSON object (tst, topic, qos, retain, payloadlen, mid, properties,
 * payload). %J puts a JSON payload in unquoted; a payload that is not JSON stays quoted.
 * A payload that is not UTF-8 is base64, marked with "encoding":"base64".
 */
export function mosquittoJson(p: IPublishPacket, now: Date, rawPayload: boolean): string {
  const payload = p.payload as Buffer
  const out: Record<string, unknown> = {tst: localIso(now, true), topic: p.topic, qos: p.qos, retain: p.retain, payloadlen: payload.length}
  if (p.qos > 0) out.mid = p.messageId ?? 0
  const props = mosquittoProperties(p.properties)
  if (props) out.properties = props
  if (!isUtf8(payload)) {
    out.encoding = 'base64'
    out.payload = payload.toString('base64')
    return JSON.stringify(out)
  }
  const text = payload.toString('utf8')
  if (rawPayload && isJson(text)) return `${JSON.stringify(out).slice(0, -1)},"payload":${text.trim()}}`
  out.payload = text
  return JSON.stringify(out)
}

function isJson(text: string): boolean {
  if (text.trim() === '') return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

// ---- time ------------------------------------------------------------------------------

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

function tzOffset(d: Date): string {
  const off = -d.getTimezoneOffset()
  const a = Math.abs(off)
  return `${off < 0 ? '-' : '+'}${pad2(Math.floor(a / 60))}${pad2(a % 60)}`
}

/** Local time as mosquitto prints it: 2016-08-10T09:47:38+0100 (with .uuuuuu for JSON). */
function localIso(d: Date, micros: boolean): string {
  const base = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  return `${base}${micros ? `.${String(d.getMilliseconds()).padStart(3, '0')}000` : ''}${tzOffset(d)}`
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

function dayOfYear(d: Date): number {
  return Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000) + 1
}

/** The strftime(3) conversions `@X` supports (C/POSIX locale, local time); @N is nanoseconds. */
const STRFTIME: Record<string, (d: Date) => string> = {
  a: (d) => DAYS[d.getDay()].slice(0, 3),
  A: (d) => DAYS[d.getDay()],
  b: (d) => MONTHS[d.getMonth()].slice(0, 3),
  B: (d) => MONTHS[d.getMonth()],
  d: (d) => pad2(d.getDate()),
  e: (d) => String(d.getDate()).padStart(2, ' '),
  F: (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
  H: (d) => pad2(d.getHours()),
  I: (d) => pad2(d.getHours() % 12 || 12),
  j: (d) => String(dayOfYear(d)).padStart(3, '0'),
  m: (d) => pad2(d.getMonth() + 1),
  M: (d) => pad2(d.getMinutes()),
  N: (d) => `${String(d.getMilliseconds()).padStart(3, '0')}000000`,
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  S: (d) => pad2(d.getSeconds()),
  T: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
  u: (d) => String(d.getDay() || 7),
  w: (d) => String(d.getDay()),
  y: (d) => pad2(d.getFullYear() % 100),
  Y: (d) => String(d.getFullYear()),
  z: (d) => tzOffset(d),
}

// ---- -F --------------------------------------------------------------------------------

interface Field {
  /** '-': left aligned. */
  left: boolean
  zero: boolean
  width: number
  /** -1: none. For %x/%X: hex digits per group. */
  precision: number
  /** Hex group separator (default space). */
  sep: string
}

type Part = string | ((p: IPublishPacket, now: Date) => string | Buffer)

const ESCAPES: Record<string, string> = {'\\': '\\', '0': '\0', a: '\u0007', e: '\u001b', n: '\n', r: '\r', t: '\t', v: '\u000b'}
const HEX_SEPARATORS = ':,-_ '

function padded(text: string, f: Field, zeroAllowed: boolean): string {
  if (text.length >= f.width) return text
  if (f.left) return text.padEnd(f.width, ' ')
  if (!(f.zero && zeroAllowed)) return text.padStart(f.width, ' ')
  // printf's %05d: zeros go after the sign.
  return text[0] === '-' ? `-${text.slice(1).padStart(f.width - 1, '0')}` : text.padStart(f.width, '0')
}

function intField(value: number | undefined, f: Field): string {
  if (value === undefined) return ' '.repeat(f.width)
  return padded(String(value), f, true)
}

function strField(value: string | undefined, f: Field): string {
  if (value === undefined) return ' '.repeat(f.width)
  return padded(f.precision >= 0 ? value.slice(0, f.precision) : value, f, false)
}

function hexField(payload: Buffer, f: Field, upper: boolean): string {
  let hex = payload.toString('hex')
  if (upper) hex = hex.toUpperCase()
  if (f.precision > 0) {
    const groups: string[] = []
    for (let i = 0; i < hex.length; i += f.precision) groups.push(hex.slice(i, i + f.precision))
    hex = groups.join(f.sep)
  }
  return padded(hex, f, true)
}

function floatField(payload: Buffer, size: 4 | 8, f: Field): string {
  // mosquitto copies the bytes into a C float/double: host byte order, little-endian on x86 and ARM.
  if (payload.length !== size) return ''
  const value = size === 4 ? payload.readFloatLE(0) : payload.readDoubleLE(0)
  return padded(value.toFixed(f.precision >= 0 ? Math.min(f.precision, 100) : 6), f, true)
}

function userPropertiesText(p: Props | undefined): string {
  const up = p?.userProperties
  if (!up) return ''
  const parts: string[] = []
  for (const [k, v] of Object.entries(up)) for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}:${one}`)
  return parts.join(' ')
}

function subscriptionIds(p: Props | undefined): number | undefined {
  const s = p?.subscriptionIdentifier
  return Array.isArray(s) ? s[0] : s
}

/** %p: as mosquitto_sub, a field width is also the maximum (a longer payload is cut to it). */
function payloadPart(binary: BinaryMode, f: Field): (p: IPublishPacket) => string | Buffer {
  return (p) => {
    let payload = p.payload as Buffer
    if (binary === 'raw' && utf8OrUndefined(payload) === undefined) {
      if (f.width > 0 && payload.length > f.width) payload = payload.subarray(0, f.width)
      const padding = Math.max(0, f.width - payload.length)
      if (padding === 0) return payload
      const spaces = Buffer.alloc(padding, 0x20)
      return f.left ? Buffer.concat([payload, spaces]) : Buffer.concat([spaces, payload])
    }
    const text = payloadText(payload, binary)
    return padded(f.width > 0 && text.length > f.width ? text.slice(0, f.width) : text, f, false)
  }
}

function codePart(code: string, f: Field, binary: BinaryMode): Part {
  switch (code) {
    case '%':
      return '%'
    case 'A':
      return (p) => intField(p.properties?.topicAlias, f)
    case 'C':
      return (p) => strField(p.properties?.contentType, f)
    case 'D':
      return (p) => {
        const cd = p.properties?.correlationData
        if (!cd) return ''
        return binary === 'raw' ? cd : payloadText(cd, binary)
      }
    case 'E':
      return (p) => intField(p.properties?.messageExpiryInterval, f)
    case 'F': {
      return (p) => {
        const v = p.properties?.payloadFormatIndicator
        return intField(v === undefined ? undefined : v ? 1 : 0, f)
      }
    }
    case 'I':
      return (_p, now) => strField(localIso(now, false), f)
    case 'j':
      return (p, now) => mosquittoJson(p, now, false)
    case 'J':
      return (p, now) => mosquittoJson(p, now, true)
    case 'l':
      return (p) => intField((p.payload as Buffer).length, f)
    case 'm':
      return (p) => intField(p.qos > 0 ? (p.messageId ?? 0) : 0, f)
    case 'P':
      return (p) => userPropertiesText(p.properties)
    case 'p':
      return payloadPart(binary, f)
    case 'q':
      return (p) => String(p.qos)
    case 'R':
      return (p) => strField(p.properties?.responseTopic, f)
    case 'r':
      return (p) => (p.retain ? '1' : '0')
    case 'S':
      return (p) => intField(subscriptionIds(p.properties), f)
    case 't':
      return (p) => strField(p.topic, f)
    case 'U':
      return (_p, now) => `${Math.floor(now.getTime() / 1000)}.${String(now.getMilliseconds()).padStart(3, '0')}000000`
    case 'x':
      return (p) => hexField(p.payload as Buffer, f, false)
    case 'X':
      return (p) => hexField(p.payload as Buffer, f, true)
    case 'd':
      return (p) => floatField(p.payload as Buffer, 8, f)
    case 'f':
      return (p) => floatField(p.payload as Buffer, 4, f)
    default:
      throw new ConfigError(`-F: invalid format specifier '%${code}' (see mqttws sub --help for the codes)`)
  }
}

/**
 * Compiles a mosquitto_sub `-F` format into a function of a message (and the time it is
 * printed). Throws ConfigError for an unknown or incomplete code or escape.
 */
export function compileFormat(format: string, binary: BinaryMode): (p: IPublishPacket, now?: Date) => string | Buffer {
  const parts: Part[] = []
  let text = ''
  const flush = (): void => {
    if (text !== '') parts.push(text)
    text = ''
  }
  const n = format.length
  // Each iteration consumes at least one character: bounded by the format length.
  for (let i = 0; i < n; i++) {
    const c = format[i]
    if (c === '\\') {
      if (i + 1 >= n) throw new ConfigError('-F: incomplete escape: a \\ at the end of the format')
      const e = format[++i]
      const out = ESCAPES[e]
      if (out === undefined) throw new ConfigError(`-F: invalid escape '\\${e}' (use \\\\ \\0 \\a \\e \\n \\r \\t \\v)`)
      text += out
    } else if (c === '@') {
      if (i + 1 >= n) throw new ConfigError('-F: incomplete time code: an @ at the end of the format (@@ prints @)')
      const t = format[++i]
      if (t === '@') {
        text += '@'
        continue
      }
      const fn = STRFTIME[t]
      if (!fn) throw new ConfigError(`-F: time code '@${t}' is not supported (use one of @${Object.keys(STRFTIME).join(' @')})`)
      flush()
      parts.push((_p, now) => fn(now))
    } else if (c === '%') {
      const f: Field = {left: false, zero: false, width: 0, precision: -1, sep: ' '}
      let j = i + 1
      if (format[j] === '-') {
        f.left = true
        j++
      }
      if (format[j] === '0') {
        f.zero = true
        j++
      }
      while (j < n && format[j] >= '0' && format[j] <= '9') f.width = f.width * 10 + Number(format[j++])
      if (format[j] === '.') {
        j++
        f.precision = 0
        while (j < n && format[j] >= '0' && format[j] <= '9') f.precision = f.precision * 10 + Number(format[j++])
        if (j < n && HEX_SEPARATORS.includes(format[j]) && (format[j + 1] === 'x' || format[j + 1] === 'X')) f.sep = format[j++]
      }
      if (j >= n) throw new ConfigError(`-F: incomplete format specifier '${format.slice(i)}' at the end of the format`)
      const part = codePart(format[j], f, binary)
      i = j
      if (typeof part === 'string') text += part
      else {
        flush()
        parts.push(part)
      }
    } else {
      text += c
    }
  }
  flush()
  return (p, now = new Date()) => {
    let out = ''
    let bufs: Buffer[] | undefined
    for (const part of parts) {
      const v = typeof part === 'string' ? part : part(p, now)
      if (typeof v === 'string') {
        if (bufs) bufs.push(Buffer.from(v))
        else out += v
      } else {
        bufs ??= [Buffer.from(out)]
        bufs.push(v)
      }
    }
    return bufs ? Buffer.concat(bufs) : out
  }
}

/** One-off formatting (compiles each time: use compileFormat for a stream of messages). */
export function formatMessage(format: string, p: IPublishPacket, binary: BinaryMode, now = new Date()): string | Buffer {
  return compileFormat(format, binary)(p, now)
}

export interface OutputOptions {
  format: 'text' | 'ndjson'
  /** -F */
  template?: string
  verbose: boolean
  /** false with -N */
  eol: boolean
  binary: BinaryMode
}

/**
 * What `sub` writes for each message, as mosquitto_sub does: the payload (an empty payload
 * prints nothing), `-v` "topic payload" ("topic (null)" when empty), or the -F format; each
 * followed by a newline unless -N. ndjson always ends each object with a newline.
 */
export function messagePrinter(o: OutputOptions): (p: IPublishPacket, now?: Date) => string | Buffer {
  const eol = o.eol ? '\n' : ''
  if (o.format === 'ndjson') return (p, now) => `${JSON.stringify(messageJson(p, now))}\n`
  if (o.template !== undefined) {
    const render = compileFormat(o.template, o.binary)
    return (p, now) => {
      const out = render(p, now)
      return eol === '' ? out : typeof out === 'string' ? out + eol : Buffer.concat([out, NEWLINE])
    }
  }
  const raw = o.binary === 'raw'
  return (p) => {
    const payload = p.payload as Buffer
    if (payload.length === 0) return o.verbose && o.eol ? `${p.topic} (null)\n` : ''
    const head = o.verbose ? `${p.topic} ` : ''
    if (raw && utf8OrUndefined(payload) === undefined) return Buffer.concat([Buffer.from(head), payload, Buffer.from(eol)])
    return `${head}${payloadText(payload, o.binary)}${eol}`
  }
}

const NEWLINE = Buffer.from('\n')
