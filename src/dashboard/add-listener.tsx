/**
 * The "Add a listener" form (EMQX's Management → Listeners): scheme, bind address, port and
 * path; WebSocket options (subprotocols, clients without one, piggyback, deflate, allowed
 * origins); TLS (the broker's certificate, or PEM files read in the browser and sent as text,
 * with an optional CA for client certificates). POSTs /api/v1/listeners with {url, id, ws, tls}.
 */
import {useState} from 'preact/hooks'
import {api} from './ui.js'

type Scheme = 'mqtt' | 'mqtts' | 'ws' | 'wss'

const DEFAULT_PORT: Record<Scheme, number> = {mqtt: 1884, mqtts: 8884, ws: 9001, wss: 9002}
const SUBPROTOCOLS = 'mqtt, mqttv3.1, mqtt-v3, mqtt-v3.1.1, mqtt-v5'

/** Comma-separated text as a list, empty entries dropped. */
function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function PemFile(props: {label: string; name: string; hint?: string; onText: (text: string | undefined) => void}): preact.JSX.Element {
  const [state, setState] = useState<string>('')
  const read = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0]
    if (file === undefined) {
      props.onText(undefined)
      setState('')
      return
    }
    const text = await file.text()
    props.onText(text)
    setState(text.includes('-----BEGIN') ? `${file.name}, ${text.length} bytes` : `${file.name} does not look like PEM`)
  }
  return (
    <label>
      {props.label}
      <input type="file" name={props.name} accept=".pem,.crt,.key,.cer,text/plain" onChange={(e) => void read(e.currentTarget)} />
      <span class="hint">{state || props.hint || 'PEM'}</span>
    </label>
  )
}

export function AddListener(props: {onClose: () => void; onAdded: () => void}): preact.JSX.Element {
  const [scheme, setScheme] = useState<Scheme>('ws')
  const [host, setHost] = useState('127.0.0.1')
  const [port, setPort] = useState(String(DEFAULT_PORT.ws))
  const [path, setPath] = useState('/mqtt')
  const [id, setId] = useState('')
  const [start, setStart] = useState(true)
  const [subprotocols, setSubprotocols] = useState(SUBPROTOCOLS)
  const [allowNoSubprotocol, setAllowNoSubprotocol] = useState(false)
  const [piggyback, setPiggyback] = useState(false)
  const [deflate, setDeflate] = useState(false)
  const [origins, setOrigins] = useState('')
  const [ownCert, setOwnCert] = useState(false)
  const [cert, setCert] = useState<string | undefined>(undefined)
  const [key, setKey] = useState<string | undefined>(undefined)
  const [ca, setCa] = useState<string | undefined>(undefined)
  const [clientCa, setClientCa] = useState<string | undefined>(undefined)
  const [requireClientCert, setRequireClientCert] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const ws = scheme === 'ws' || scheme === 'wss'
  const tls = scheme === 'mqtts' || scheme === 'wss'
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  const url = `${scheme}://${bracketed}:${port}${ws ? (path.startsWith('/') ? path : `/${path}`) : ''}`

  const pickScheme = (s: Scheme): void => {
    // Keep a port the user typed; follow the scheme's usual one otherwise.
    if (Object.values(DEFAULT_PORT).map(String).includes(port)) setPort(String(DEFAULT_PORT[s]))
    setScheme(s)
  }

  const body = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {url, start}
    if (id.trim()) out.id = id.trim()
    if (ws) {
      const w: Record<string, unknown> = {}
      const subs = list(subprotocols)
      if (subs.join(', ') !== SUBPROTOCOLS) w.subprotocols = subs
      if (allowNoSubprotocol) w.allowNoSubprotocol = true
      if (piggyback) w.piggyback = true
      if (deflate) w.deflate = true
      if (list(origins).length > 0) w.origins = list(origins)
      if (Object.keys(w).length > 0) out.ws = w
    }
    if (tls && ownCert) {
      if (cert === undefined || key === undefined) throw new Error('choose the certificate and its private key (PEM files), or use the broker’s certificate')
      out.tls = {cert, key, ...(ca === undefined ? {} : {ca}), ...(clientCa === undefined ? {} : {clientCa, clientCert: requireClientCert ? 'require' : 'request'})}
    }
    return out
  }

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await api('POST', '/api/v1/listeners', body())
      props.onAdded()
      props.onClose()
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="card form-card" onSubmit={submit} data-testid="add-form">
      <h2>Add a listener</h2>
      <div class="form-row">
        <label>
          Scheme
          <select name="scheme" value={scheme} onChange={(e) => pickScheme(e.currentTarget.value as Scheme)}>
            <option value="mqtt">mqtt (TCP)</option>
            <option value="mqtts">mqtts (TLS)</option>
            <option value="ws">ws (WebSocket)</option>
            <option value="wss">wss (secure WebSocket)</option>
          </select>
        </label>
        <label>
          Bind address
          <input name="host" value={host} onInput={(e) => setHost(e.currentTarget.value)} required />
          <span class="hint">0.0.0.0 or :: for every interface</span>
        </label>
        <label>
          Port
          <input name="port" value={port} inputMode="numeric" pattern="[0-9]+" onInput={(e) => setPort(e.currentTarget.value)} required />
          <span class="hint">0 picks a free one</span>
        </label>
        {ws && (
          <label>
            Path
            <input name="path" value={path} onInput={(e) => setPath(e.currentTarget.value)} required />
          </label>
        )}
        <label>
          Id (optional)
          <input name="id" value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="SCHEME:PORT" />
        </label>
      </div>
      <p class="hint" data-testid="add-url">
        Listens on <code>{url}</code>
      </p>
      {ws && (
        <fieldset class="form-row" data-testid="ws-options">
          <legend>WebSocket</legend>
          <label class="grow">
            Subprotocols
            <input name="subprotocols" value={subprotocols} onInput={(e) => setSubprotocols(e.currentTarget.value)} />
            <span class="hint">Sec-WebSocket-Protocol values accepted, comma-separated</span>
          </label>
          <label class="grow">
            Allowed origins
            <input name="origins" value={origins} onInput={(e) => setOrigins(e.currentTarget.value)} placeholder="https://app.example.com" />
            <span class="hint">comma-separated; empty: any (a browser from another origin gets 403)</span>
          </label>
          <label class="check">
            <input type="checkbox" name="allowNoSubprotocol" checked={allowNoSubprotocol} onChange={(e) => setAllowNoSubprotocol(e.currentTarget.checked)} /> Clients without a subprotocol
          </label>
          <label class="check">
            <input type="checkbox" name="piggyback" checked={piggyback} onChange={(e) => setPiggyback(e.currentTarget.checked)} /> Piggyback (one frame per turn)
          </label>
          <label class="check">
            <input type="checkbox" name="deflate" checked={deflate} onChange={(e) => setDeflate(e.currentTarget.checked)} /> permessage-deflate
          </label>
        </fieldset>
      )}
      {tls && (
        <fieldset class="form-row" data-testid="tls-options">
          <legend>TLS</legend>
          <label class="check">
            <input type="radio" name="cert-source" checked={!ownCert} onChange={() => setOwnCert(false)} /> The broker’s certificate
          </label>
          <label class="check">
            <input type="radio" name="cert-source" checked={ownCert} onChange={() => setOwnCert(true)} /> Other PEM files
          </label>
          {ownCert && (
            <>
              <PemFile label="Certificate" name="tls-cert" onText={setCert} />
              <PemFile label="Private key" name="tls-key" hint="PEM; sent to the broker over the admin connection" onText={setKey} />
              <PemFile label="Chain (optional)" name="tls-ca" onText={setCa} />
              <PemFile label="Client CA (optional)" name="tls-client-ca" hint="asks clients for a certificate it signed (mTLS)" onText={setClientCa} />
              {clientCa !== undefined && (
                <label class="check">
                  <input type="checkbox" name="requireClientCert" checked={requireClientCert} onChange={(e) => setRequireClientCert(e.currentTarget.checked)} /> Require a client certificate
                </label>
              )}
            </>
          )}
        </fieldset>
      )}
      <div class="form-row">
        <label class="check">
          <input type="checkbox" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} /> Start now
        </label>
      </div>
      {error && <div class="alert error">{error}</div>}
      <div class="form-actions">
        <button type="button" class="btn" onClick={props.onClose}>
          Cancel
        </button>
        <button type="submit" class="btn primary" disabled={busy}>
          Add
        </button>
      </div>
    </form>
  )
}
