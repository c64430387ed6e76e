/**
 * How `sub` prints a message: plain payload, `-v` (topic payload), mosquitto's `-F`
 * format codes, or one JSON object per line. Binary payloads are never written raw to a
 * terminal unless asked: they become hex (text modes) or base64 (JSON).
 */
import type {IPublishPacket} from '../core/protocol/codec.js'

export type BinaryMode = 'hex' | 'base64' | 'raw'

const decoder = new TextDecoder('utf-8', {fatal: true})

/** The payload as text when it is valid UTF-8 without control characters other than tab/newline/CR. */
export function utf8OrUndefined(payload: Buffer): string | undefined {
  let text: string
  try {
    text = decoder.decode(payload)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text
}

export function payloadText(payload: Buffer, binary: BinaryMode): string {
  const text = utf8OrUndefined(payload)
  if (text !== undefined) return text
  if (binary === 'raw') return payload.toString('latin1')
  return binary === 'base64' ? payload.toString('base64') : payload.toString('hex')
}

type Props = NonNullable<IPublishPacket['properties']>

function propertiesJson(p: Props | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(p)) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : v
  return Object.keys(out).length > 0 ? out : undefined
}

/** One message as a JSON object: payload as UTF-8 when it is text, else base64. */
export function messageJson(p: IPublishPacket, now = new Date()): Record<string, unknown> {
  const payload = p.payload as Buffer
  const text = utf8OrUndefined(payload)
  const out: Record<string, unknown> = {
    time: now.toISOString(),
    topic: p.topic,
    payload: text ?? payload.toString('base64'),
    encoding: text === undefined ? 'base64' : 'utf8',
    qos: p.qos,
    retain: p.retain,
  }
  if (p.messageId !== undefined && p.qos > 0) out.messageId = p.messageId
  const props = propertiesJson(p.properties)
  if (props) out.properties = props
  return out
}

function jsonWithRawPayload(p: IPublishPacket, now: Date): string {
  const base = messageJson(p, now)
  const text = utf8OrUndefined(p.payload as Buffer)
  if (text === undefined) return JSON.stringify(base)
  try {
    JSON.parse(text)
  } catch {
    return JSON.stringify(base)
  }
  const {payload: _payload, encoding: _encoding, ...rest} = base
  const head = JSON.stringify(rest)
  return `${head.slice(0, -1)},"payload":${text.trim()}}`
}

function userPropertiesText(p: Props | undefined): string {
  const up = p?.userProperties
  if (!up) return ''
  const parts: string[] = []
  for (const [k, v] of Object.entries(up)) for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}=${one}`)
  return parts.join(' ')
}

/**
 * Expands mosquitto_sub's -F codes: %t topic, %p payload, %q QoS, %r retain, %l length,
 * %m message id, %x/%X payload hex, %I ISO-8601 time, %U unix time, %j JSON, %J JSON with
 * raw JSON payload, %C content type, %D correlation data, %E message expiry, %F payload
 * format, %P user properties, %R response topic, %S subscription id, %A topic alias, %%.
 * Backslash escapes: \n \t \r \\ \0 … (\e for ESC).
 */
export function formatMessage(format: string, p: IPublishPacket, binary: BinaryMode, now = new Date()): string {
  const payload = p.payload as Buffer
  const props = p.properties
  let out = ''
  for (let i = 0; i < format.length; i++) {
    const c = format[i]
    if (c === '\\' && i + 1 < format.length) {
      const e = format[++i]
      out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '0' ? '\0' : e === 'e' ? '\u001b' : e === 'a' ? '\u0007' : e
      continue
    }
    if (c !== '%' || i + 1 >= format.length) {
      out += c
      continue
    }
    const code = format[++i]
    switch (code) {
      case 't':
        out += p.topic
        break
      case 'p':
        out += payloadText(payload, binary)
        break
      case 'q':
        out += String(p.qos)
        break
      case 'r':
        out += p.retain ? '1' : '0'
        break
      case 'l':
        out += String(payload.length)
        break
      case 'm':
        out += String(p.messageId ?? 0)
        break
      case 'x':
        out += payload.toString('hex')
        break
      case 'X':
        out += payload.toString('hex').toUpperCase()
        break
      case 'I':
        out += now.toISOString()
        break
      case 'U':
        out += (now.getTime() / 1000).toFixed(9)
        break
      case 'j':
        out += JSON.stringify(messageJson(p, now))
        break
      case 'J':
        out += jsonWithRawPayload(p, now)
        break
      case 'C':
        out += props?.contentType ?? ''
        break
      case 'D':
        out += props?.correlationData ? payloadText(props.correlationData, binary) : ''
        break
      case 'E':
        out += props?.messageExpiryInterval === undefined ? '' : String(props.messageExpiryInterval)
        break
      case 'F':
        out += props?.payloadFormatIndicator === undefined ? '' : props.payloadFormatIndicator ? '1' : '0'
        break
      case 'P':
        out += userPropertiesText(props)
        break
      case 'R':
        out += props?.responseTopic ?? ''
        break
      case 'S': {
        const s = props?.subscriptionIdentifier
        out += s === undefined ? '' : Array.isArray(s) ? s.join(',') : String(s)
        break
      }
      case 'A':
        out += props?.topicAlias === undefined ? '' : String(props.topicAlias)
        break
      case '%':
        out += '%'
        break
      default:
        out += `%${code}`
    }
  }
  return out
}
