/** The Listeners page: each listener's state and counters; add, stop, start, restart, remove. */
import {useState} from 'preact/hooks'
import type {ConfirmRequest} from './ui.js'
import {Badge, ConfirmDialog, Empty, Header, api, fmtBytes, fmtNumber, usePoll} from './ui.js'
import type {Listener} from './samples.js'
import {history} from './samples.js'
import {AddListener} from './add-listener.js'

// ---- Listeners ----

function stateBadge(state: string): preact.JSX.Element {
  return <Badge kind={state === 'running' ? 'ok' : 'off'}>{state}</Badge>
}

export function Listeners(_props: {version: number}): preact.JSX.Element {
  const {data, error, refresh} = usePoll(() => api<{listeners: Listener[]}>('GET', '/api/v1/listeners'), 1000)
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  const [adding, setAdding] = useState(false)
  const act = (l: Listener, action: 'stop' | 'start' | 'restart' | 'remove'): void => {
    const n = l.connections.current
    const clients = `${n} client${n === 1 ? '' : 's'}`
    const run = (): Promise<unknown> =>
      (action === 'remove' ? api('DELETE', `/api/v1/listeners/${encodeURIComponent(l.id)}`) : api('POST', `/api/v1/listeners/${encodeURIComponent(l.id)}/${action}`)).then(refresh)
    if (action === 'start') {
      void run()
      return
    }
    const verb = {stop: 'Stop', restart: 'Restart', remove: 'Remove'}[action]
    setConfirm({
      title: `${verb} listener ${l.id}?`,
      message: (
        <p>
          {action === 'remove' ? 'The listener is stopped and removed. ' : action === 'restart' ? 'The listener closes its socket and binds it again. ' : 'The listener closes its socket. '}
          <b data-testid="confirm-count">{n > 0 ? `${clients} will be disconnected` : 'No client is connected to it'}</b>
          {n > 0 ? ' (MQTT 5 clients get DISCONNECT 0x8B, server shutting down).' : '.'} Other listeners are not affected.
        </p>
      ),
      action: verb,
      danger: action !== 'restart',
      run,
    })
  }
  return (
    <div>
      <Header title="Listeners" sub="Ports the broker accepts MQTT on. Changes apply at once; other listeners are untouched.">
        <button class="btn primary" onClick={() => setAdding(true)} data-testid="add-listener">
          Add listener
        </button>
      </Header>
      {error && <div class="alert error">{error}</div>}
      {adding && <AddListener onClose={() => setAdding(false)} onAdded={refresh} />}
      <section class="card flush">
        <table class="table" data-testid="listeners">
          <thead>
            <tr>
              <th>Listener</th>
              <th>State</th>
              <th class="num">Conns</th>
              <th class="num">Peak</th>
              <th class="num">Msgs in</th>
              <th class="num">Msgs out</th>
              <th class="num">Bytes in</th>
              <th class="num">Bytes out</th>
              <th class="num">WS frames</th>
              <th class="num">Rejects</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(data?.listeners ?? []).map((l) => {
              const r = history.listenerRates.get(l.id)
              const rejects = Object.entries(l.connections.rejected)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
              return (
                <tr key={l.id} data-listener={l.id}>
                  <td>
                    <div class="strong">{l.id}</div>
                    <div class="muted mono small">{l.url}</div>
                  </td>
                  <td data-testid="state">{stateBadge(l.state)}</td>
                  <td class="num">{l.connections.current}</td>
                  <td class="num">{l.connections.peak}</td>
                  <td class="num">
                    {fmtNumber(l.messages.published)}
                    {r && <div class="muted small">{fmtNumber(r.msgsIn)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtNumber(l.messages.delivered)}
                    {r && <div class="muted small">{fmtNumber(r.msgsOut)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtBytes(l.bytes.in)}
                    {r && <div class="muted small">{fmtBytes(r.bytesIn)}/s</div>}
                  </td>
                  <td class="num">
                    {fmtBytes(l.bytes.out)}
                    {r && <div class="muted small">{fmtBytes(r.bytesOut)}/s</div>}
                  </td>
                  <td class="num">{l.scheme === 'ws' || l.scheme === 'wss' ? `${fmtNumber(l.wsFrames.in)} / ${fmtNumber(l.wsFrames.out)}` : '–'}</td>
                  <td class="num" title={rejects}>
                    {l.connections.rejectedTotal}
                  </td>
                  <td class="actions">
                    {l.state === 'running' ? (
                      <>
                        <button class="btn small" onClick={() => act(l, 'stop')}>
                          Stop
                        </button>
                        <button class="btn small" onClick={() => act(l, 'restart')}>
                          Restart
                        </button>
                      </>
                    ) : (
                      <button class="btn small" onClick={() => act(l, 'start')}>
                        Start
                      </button>
                    )}
                    <button class="btn small ghost-danger" onClick={() => act(l, 'remove')}>
                      Remove
                    </button>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
        {data && data.listeners.length === 0 && <Empty>No listeners. Add one to accept connections.</Empty>}
      </section>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />
    </div>
  )
}
