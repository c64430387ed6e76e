/**
 * The WebSocket client page (like MQTTX Web / EMQX's Diagnose → WebSocket Client): MQTT.js's
 * browser bundle connects from the browser to the broker's ws:// and wss:// listeners.
 * Several connections side by side; subscribe, publish and a message log for each.
 * Connections live in memory only: a reload closes them.
 */
import mqtt from 'mqtt'
import type {IClientOptions, IClientPublishOptions, MqttClient} from 'mqtt'
import {useEffect, useState} from 'preact/hooks'
import type {PayloadView} from './ui.js'
import {Badge, Empty, PayloadTabs, QosSelect, renderPayload} from './ui.js'

interface ListenerLite {
  id: string
  url: string
  scheme: string
  state: string
}

interface LogEntry {
  n: number
  dir: 'in' | 'out'
  topic: string
  qos: number
  retain: boolean
  payload: Uint8Array
  at: Date
  props?: string
}

interface Settings {
  url: string
  version: 4 | 5
  clientId: string
  username: string
  password: string
  clean: boolean
  keepalive: number
  sessionExpiry: number
  willOn: boolean
  willTopic: string
  willPayload: string
  willQos: 0 | 1 | 2
  willRetain: boolean
}

type Status = 'idle' | 'connecting' | 'connected' | 'closed' | 'error'

let seq = 0
const MAX_LOG = 500

function randomId(): string {
  return `mqttws-web-${Math.random().toString(16).slice(2, 8)}`
}

/** One browser connection: MQTT.js client, its subscriptions and its log. */
class Conn {
  readonly key = ++seq
  name: string
  settings: Settings
  client: MqttClient | undefined
  status: Status = 'idle'
  error = ''
  subs: Array<{topic: string; qos: number; granted: number}> = []
  log: LogEntry[] = []
  private n = 0

  constructor(
    url: string,
    private readonly changed: () => void,
  ) {
    this.name = `Connection ${this.key}`
    this.settings = {url, version: 5, clientId: randomId(), username: '', password: '', clean: true, keepalive: 60, sessionExpiry: 0, willOn: false, willTopic: '', willPayload: '', willQos: 0, willRetain: false}
  }

  connect(): void {
    const s = this.settings
    this.close()
    this.status = 'connecting'
    this.error = ''
    const options: IClientOptions = {
      protocolVersion: s.version,
      clientId: s.clientId,
      clean: s.clean,
      keepalive: s.keepalive,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...(s.username ? {username: s.username} : {}),
      ...(s.password ? {password: s.password} : {}),
      ...(s.version === 5 && s.sessionExpiry > 0 ? {properties: {sessionExpiryInterval: s.sessionExpiry}} : {}),
      ...(s.willOn && s.willTopic ? {will: {topic: s.willTopic, payload: new TextEncoder().encode(s.willPayload) as any, qos: s.willQos, retain: s.willRetain}} : {}),
    }
    const client = mqtt.connect(s.url, options)
    this.client = client
    client.on('connect', () => {
      this.status = 'connected'
      this.error = ''
      this.changed()
    })
    client.on('error', (e) => {
      this.status = 'error'
      this.error = e.message
      this.changed()
    })
    client.on('close', () => {
      if (this.client !== client) return
      if (this.status !== 'error') this.status = 'closed'
      this.changed()
    })
    client.on('disconnect', (p) => {
      this.error = `the broker disconnected this client (reason code 0x${(p.reasonCode ?? 0).toString(16).padStart(2, '0')}${p.properties?.reasonString ? `: ${p.properties.reasonString}` : ''})`
      this.status = 'error'
      this.changed()
    })
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties
      const described = props
        ? Object.entries(props)
            .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
            .join(' ')
        : undefined
      this.add({dir: 'in', topic, qos: packet.qos, retain: packet.retain, payload: new Uint8Array(payload), props: described})
    })
    this.changed()
  }

  close(): void {
    const c = this.client
    this.client = undefined
    if (c) c.end(true)
    this.subs = []
    if (this.status === 'connected' || this.status === 'connecting') this.status = 'closed'
  }

  add(e: Omit<LogEntry, 'n' | 'at'>): void {
    this.log.push({...e, n: ++this.n, at: new Date()})
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG)
    this.changed()
  }

  subscribe(topic: string, qos: 0 | 1 | 2, nl: boolean, rap: boolean, rh: 0 | 1 | 2): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.client) return reject(new Error('not connected'))
      const opts = this.settings.version === 5 ? {qos, nl, rap, rh} : {qos}
      this.client.subscribe(topic, opts, (err, granted) => {
        if (err) return reject(err)
        const g = granted?.[0]?.qos ?? 128
        if (g >= 128) return reject(new Error(`the broker refused the subscription (SUBACK 0x${g.toString(16)})`))
        this.subs = [...this.subs.filter((x) => x.topic !== topic), {topic, qos, granted: g}]
        this.changed()
        resolve()
      })
    })
  }

  unsubscribe(topic: string): void {
    this.client?.unsubscribe(topic)
    this.subs = this.subs.filter((x) => x.topic !== topic)
    this.changed()
  }

  publish(topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.client) return reject(new Error('not connected'))
      const bytes = new TextEncoder().encode(payload)
      this.client.publish(topic, bytes as any, options, (err) => {
        if (err) return reject(err)
        this.add({dir: 'out', topic, qos: options.qos ?? 0, retain: options.retain ?? false, payload: bytes})
        resolve()
      })
    })
  }
}

export function WsClientPage(props: {listeners: ListenerLite[]}): preact.JSX.Element {
  const [, setTick] = useState(0)
  const changed = (): void => setTick((t) => t + 1)
  const wsUrls = props.listeners.filter((l) => (l.scheme === 'ws' || l.scheme === 'wss') && l.state === 'running').map((l) => l.url.replace('://0.0.0.0:', `://${location.hostname}:`))
  const [conns, setConns] = useState<Conn[]>([])
  useEffect(() => {
    if (conns.length === 0) setConns([new Conn(wsUrls[0] ?? `ws://${location.hostname}:8083/mqtt`, changed)])
  }, [])
  useEffect(() => () => conns.forEach((c) => c.close()), [])
  const add = (): void => setConns([...conns, new Conn(wsUrls[0] ?? `ws://${location.hostname}:8083/mqtt`, changed)])
  const remove = (c: Conn): void => {
    c.close()
    setConns(conns.filter((x) => x !== c))
  }
  return (
    <div>
      <header class="page-head">
        <div>
          <h1>WebSocket client</h1>
          <p class="muted">Connect from this browser to the broker's WebSocket listeners with MQTT.js. Connections are kept while the page is open.</p>
        </div>
        <div class="head-actions">
          <button class="btn primary" onClick={add} data-testid="new-connection">
            + New connection
          </button>
        </div>
      </header>
      {wsUrls.length === 0 && <div class="alert warn">No ws:// or wss:// listener is running: add one on the Listeners page.</div>}
      <div class="conns">
        {conns.map((c) => (
          <ConnPanel key={c.key} conn={c} urls={wsUrls} onRemove={() => remove(c)} changed={changed} />
        ))}
      </div>
      {conns.length === 0 && <Empty>No connections. Add one with “New connection”.</Empty>}
    </div>
  )
}

function statusBadge(s: Status): preact.JSX.Element {
  if (s === 'connected') return <Badge kind="ok">connected</Badge>
  if (s === 'connecting') return <Badge kind="info">connecting…</Badge>
  if (s === 'error') return <Badge kind="warn">error</Badge>
  return <Badge kind="off">{s === 'idle' ? 'not connected' : 'disconnected'}</Badge>
}

function num(e: Event): number {
  return Number((e.currentTarget as HTMLInputElement).value)
}

function ConnPanel(props: {conn: Conn; urls: string[]; onRemove: () => void; changed: () => void}): preact.JSX.Element {
  const c = props.conn
  const s = c.settings
  const set = <K extends keyof Settings>(k: K, v: Settings[K]): void => {
    s[k] = v
    props.changed()
  }
  const live = c.status === 'connected'
  const busy = c.status === 'connecting'
  return (
    <section class="card conn" data-conn={c.key}>
      <div class="conn-head">
        <input class="conn-name" value={c.name} onInput={(e) => ((c.name = e.currentTarget.value), props.changed())} aria-label="Connection name" />
        <span data-testid="conn-status">{statusBadge(c.status)}</span>
        <div class="grow" />
        {live || busy ? (
          <button class="btn" onClick={() => (c.close(), props.changed())}>
            Disconnect
          </button>
        ) : (
          <button class="btn primary" onClick={() => c.connect()} data-testid="connect">
            Connect
          </button>
        )}
        <button class="btn ghost" onClick={props.onRemove} title="Close this connection" aria-label="Remove connection">
          ✕
        </button>
      </div>
      {c.error && <div class="alert error">{c.error}</div>}
      {!live && (
        <div class="conn-form">
          <label class="span2">
            Broker URL
            <input list={`urls-${c.key}`} value={s.url} onInput={(e) => set('url', e.currentTarget.value)} name="url" />
            <datalist id={`urls-${c.key}`}>
              {props.urls.map((u) => (
                <option key={u} value={u} />
              ))}
            </datalist>
          </label>
          <label>
            Protocol
            <select value={String(s.version)} onChange={(e) => set('version', Number(e.currentTarget.value) as 4 | 5)} name="version">
              <option value="5">MQTT 5.0</option>
              <option value="4">MQTT 3.1.1</option>
            </select>
          </label>
          <label>
            Client id
            <input value={s.clientId} onInput={(e) => set('clientId', e.currentTarget.value)} name="clientId" />
          </label>
          <label>
            User name
            <input value={s.username} onInput={(e) => set('username', e.currentTarget.value)} autoComplete="off" name="username" />
          </label>
          <label>
            Password
            <input type="password" value={s.password} onInput={(e) => set('password', e.currentTarget.value)} autoComplete="new-password" name="password" />
          </label>
          <label>
            Keepalive (s)
            <input type="number" min="0" max="65535" value={s.keepalive} onInput={(e) => set('keepalive', num(e))} />
          </label>
          <label>
            Session expiry (s)
            <input type="number" min="0" value={s.sessionExpiry} disabled={s.version !== 5} onInput={(e) => set('sessionExpiry', num(e))} />
          </label>
          <label class="check">
            <input type="checkbox" checked={s.clean} onChange={(e) => set('clean', e.currentTarget.checked)} /> Clean start
          </label>
          <label class="check">
            <input type="checkbox" checked={s.willOn} onChange={(e) => set('willOn', e.currentTarget.checked)} /> Last Will
          </label>
          {s.willOn && (
            <>
              <label>
                Will topic
                <input value={s.willTopic} onInput={(e) => set('willTopic', e.currentTarget.value)} />
              </label>
              <label>
                Will payload
                <input value={s.willPayload} onInput={(e) => set('willPayload', e.currentTarget.value)} />
              </label>
              <label>
                Will QoS
                <select value={String(s.willQos)} onChange={(e) => set('willQos', Number(e.currentTarget.value) as 0 | 1 | 2)}>
                  <option value="0">0</option>
                  <option value="1">1</option>
                  <option value="2">2</option>
                </select>
              </label>
              <label class="check">
                <input type="checkbox" checked={s.willRetain} onChange={(e) => set('willRetain', e.currentTarget.checked)} /> Will retained
              </label>
            </>
          )}
        </div>
      )}
      {live && (
        <div class="conn-info muted small">
          {s.url} · {s.version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1'} · {s.clientId}
        </div>
      )}
      {live && <SubscribeForm conn={c} />}
      {live && <PublishForm conn={c} />}
      <MessageLog conn={c} changed={props.changed} />
    </section>
  )
}

function SubscribeForm(props: {conn: Conn}): preact.JSX.Element {
  const c = props.conn
  const [topic, setTopic] = useState('#')
  const [qos, setQos] = useState<0 | 1 | 2>(0)
  const [nl, setNl] = useState(false)
  const [rap, setRap] = useState(false)
  const [rh, setRh] = useState<0 | 1 | 2>(0)
  const [error, setError] = useState('')
  const v5 = c.settings.version === 5
  const submit = (e: Event): void => {
    e.preventDefault()
    c.subscribe(topic, qos, nl, rap, rh).then(
      () => setError(''),
      (err: Error) => setError(err.message),
    )
  }
  return (
    <form class="block" onSubmit={submit} data-testid="subscribe-form">
      <h3>Subscriptions</h3>
      <div class="inline">
        <input class="grow mono" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} placeholder="topic/filter/#" name="filter" aria-label="Topic filter" />
        <QosSelect value={qos} onChange={setQos} name="subQos" />
        <button class="btn primary" type="submit" data-testid="subscribe">
          Subscribe
        </button>
      </div>
      {v5 && (
        <div class="inline options">
          <label class="check">
            <input type="checkbox" checked={nl} onChange={(e) => setNl(e.currentTarget.checked)} /> No local
          </label>
          <label class="check">
            <input type="checkbox" checked={rap} onChange={(e) => setRap(e.currentTarget.checked)} /> Retain as published
          </label>
          <label class="check">
            Retain handling
            <select value={String(rh)} onChange={(e) => setRh(Number(e.currentTarget.value) as 0 | 1 | 2)}>
              <option value="0">0 send</option>
              <option value="1">1 if new</option>
              <option value="2">2 never</option>
            </select>
          </label>
        </div>
      )}
      {error && <div class="alert error">{error}</div>}
      <div class="chips">
        {c.subs.map((x) => (
          <span class="chip" key={x.topic} data-sub={x.topic}>
            <span class="mono">{x.topic}</span> <span class="muted">QoS {x.granted}</span>
            <button type="button" class="chip-x" onClick={() => c.unsubscribe(x.topic)} aria-label={`Unsubscribe ${x.topic}`}>
              ✕
            </button>
          </span>
        ))}
      </div>
    </form>
  )
}

function PublishForm(props: {conn: Conn}): preact.JSX.Element {
  const c = props.conn
  const [topic, setTopic] = useState('test/topic')
  const [payload, setPayload] = useState('{"msg": "hello"}')
  const [qos, setQos] = useState<0 | 1 | 2>(0)
  const [retain, setRetain] = useState(false)
  const [more, setMore] = useState(false)
  const [contentType, setContentType] = useState('')
  const [expiry, setExpiry] = useState('')
  const [responseTopic, setResponseTopic] = useState('')
  const [userProp, setUserProp] = useState('')
  const [error, setError] = useState('')
  const v5 = c.settings.version === 5
  const submit = (e: Event): void => {
    e.preventDefault()
    const properties: Record<string, unknown> = {}
    if (v5) {
      if (contentType) properties.contentType = contentType
      if (expiry) properties.messageExpiryInterval = Number(expiry)
      if (responseTopic) properties.responseTopic = responseTopic
      const eq = userProp.indexOf('=')
      if (eq > 0) properties.userProperties = {[userProp.slice(0, eq)]: userProp.slice(eq + 1)}
    }
    c.publish(topic, payload, {qos, retain, ...(Object.keys(properties).length > 0 ? {properties} : {})}).then(
      () => setError(''),
      (err: Error) => setError(err.message),
    )
  }
  return (
    <form class="block" onSubmit={submit} data-testid="publish-form">
      <h3>Publish</h3>
      <div class="inline">
        <input class="grow mono" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} placeholder="topic" name="topic" aria-label="Topic" />
        <QosSelect value={qos} onChange={setQos} name="pubQos" />
        <label class="check">
          <input type="checkbox" checked={retain} onChange={(e) => setRetain(e.currentTarget.checked)} /> Retain
        </label>
      </div>
      <textarea class="mono" rows={3} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} name="payload" aria-label="Payload" />
      {v5 && (
        <button type="button" class="link small" onClick={() => setMore(!more)}>
          {more ? '− Properties' : '+ Properties'}
        </button>
      )}
      {v5 && more && (
        <div class="conn-form">
          <label>
            Content type
            <input value={contentType} onInput={(e) => setContentType(e.currentTarget.value)} placeholder="application/json" />
          </label>
          <label>
            Message expiry (s)
            <input type="number" min="0" value={expiry} onInput={(e) => setExpiry(e.currentTarget.value)} />
          </label>
          <label>
            Response topic
            <input value={responseTopic} onInput={(e) => setResponseTopic(e.currentTarget.value)} />
          </label>
          <label>
            User property
            <input value={userProp} onInput={(e) => setUserProp(e.currentTarget.value)} placeholder="key=value" />
          </label>
        </div>
      )}
      {error && <div class="alert error">{error}</div>}
      <div class="form-actions">
        <button class="btn primary" type="submit" data-testid="publish">
          Publish
        </button>
      </div>
    </form>
  )
}

function MessageLog(props: {conn: Conn; changed: () => void}): preact.JSX.Element {
  const c = props.conn
  const [view, setView] = useState<PayloadView>('text')
  const [filter, setFilter] = useState('')
  const [dir, setDir] = useState<'all' | 'in' | 'out'>('all')
  const shown = c.log.filter((m) => (dir === 'all' || m.dir === dir) && (filter === '' || m.topic.includes(filter))).slice(-200).reverse()
  return (
    <div class="block">
      <div class="log-head">
        <h3>
          Messages <span class="muted small">({c.log.length})</span>
        </h3>
        <div class="grow" />
        <div class="seg">
          {(['all', 'in', 'out'] as const).map((d) => (
            <button key={d} class={dir === d ? 'on' : ''} onClick={() => setDir(d)}>
              {d === 'all' ? 'All' : d === 'in' ? 'Received' : 'Published'}
            </button>
          ))}
        </div>
        <PayloadTabs view={view} onChange={setView} />
      </div>
      <div class="inline">
        <input class="grow" type="search" placeholder="Filter by topic" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Filter messages" />
        <button class="btn" onClick={() => ((c.log = []), props.changed())} disabled={c.log.length === 0}>
          Clear
        </button>
      </div>
      <div class="log" data-testid="log">
        {shown.length === 0 && <div class="muted small log-empty">No messages yet.</div>}
        {shown.map((m) => (
          <div key={m.n} class={`msg ${m.dir}`} data-dir={m.dir} data-topic={m.topic}>
            <div class="msg-meta">
              <span class={`dir ${m.dir}`}>{m.dir === 'in' ? '↓ received' : '↑ published'}</span>
              <span class="mono strong">{m.topic}</span>
              <span class="muted">QoS {m.qos}</span>
              {m.retain && <Badge kind="info">retained</Badge>}
              <span class="grow" />
              <span class="muted small">{m.at.toLocaleTimeString()}</span>
            </div>
            <pre class="payload small">{renderPayload(m.payload, view)}</pre>
            {m.props && <div class="muted small mono">{m.props}</div>}
          </div>
        ))}
      </div>
    </div>
  )
}
