/** The Retained messages page. */
import {useEffect, useState} from 'preact/hooks'
import type {RetainedInfo as RetainedRow} from '../core/api-types.js'
import type {ConfirmRequest, PayloadView} from './ui.js'
import {ConfirmDialog, Empty, Header, PayloadTabs, api, base64ToBytes, fmtBytes, fmtTime, renderPayload, usePoll} from './ui.js'

// ---- Retained ----


export function Retained(): preact.JSX.Element {
  const {data, error, refresh} = usePoll(() => api<{retained: RetainedRow[]}>('GET', '/api/v1/retained'), 3000)
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const [q, setQ] = useState('')
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  const all = data?.retained ?? []
  const clients = all.filter((m) => !m.topic.startsWith('$SYS/'))
  const list = all.filter((m) => q === '' || m.topic.includes(q))
  const del = (topic: string): void =>
    setConfirm({
      title: 'Delete retained message?',
      message: (
        <p>
          The retained message on <code>{topic}</code> is deleted; new subscribers no longer get it.
        </p>
      ),
      action: 'Delete',
      danger: true,
      run: () =>
        api('DELETE', `/api/v1/retained/${encodeURIComponent(topic)}`).then(() => {
          if (selected === topic) setSelected(undefined)
          refresh()
        }),
    })
  const clearAll = (): void =>
    setConfirm({
      title: 'Clear all retained messages?',
      message: (
        <p>
          <b>{clients.length} retained messages</b> stored by clients are deleted. This cannot be undone.
        </p>
      ),
      action: 'Clear all',
      danger: true,
      run: () =>
        api('DELETE', '/api/v1/retained').then(() => {
          setSelected(undefined)
          refresh()
        }),
    })
  return (
    <div>
      <Header title="Retained messages" sub={data ? `${clients.length} stored by clients · ${all.length - clients.length} $SYS` : undefined}>
        <input class="search" type="search" placeholder="Filter by topic" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button class="btn ghost-danger" onClick={clearAll} disabled={clients.length === 0}>
          Clear all
        </button>
      </Header>
      {error && <div class="alert error">{error}</div>}
      <div class={selected ? 'split' : ''}>
        <section class="card flush">
          <table class="table clickable" data-testid="retained">
            <thead>
              <tr>
                <th>Topic</th>
                <th class="num">QoS</th>
                <th class="num">Size</th>
                <th>Stored</th>
                <th>Publisher</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.topic} data-topic={m.topic} class={selected === m.topic ? 'selected' : ''} onClick={() => setSelected(m.topic)}>
                  <td class="mono strong">{m.topic}</td>
                  <td class="num">{m.qos}</td>
                  <td class="num">{fmtBytes(m.size)}</td>
                  <td class="small">{m.storedAt ? fmtTime(m.storedAt) : <span class="muted">–</span>}</td>
                  <td class="small mono">{m.publisher ?? <span class="muted">{m.topic.startsWith('$SYS/') ? 'broker' : '–'}</span>}</td>
                  <td class="small">{m.expiresAt ? fmtTime(m.expiresAt) : <span class="muted">never</span>}</td>
                  <td class="actions">
                    <button
                      class="btn small ghost-danger"
                      onClick={(e) => {
                        e.stopPropagation()
                        del(m.topic)
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data && list.length === 0 && <Empty>No retained messages{q ? ' match' : ''}.</Empty>}
        </section>
        {selected && <RetainedDetail topic={selected} onClose={() => setSelected(undefined)} onDelete={del} />}
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(undefined)} />
    </div>
  )
}

function RetainedDetail(props: {topic: string; onClose: () => void; onDelete: (t: string) => void}): preact.JSX.Element {
  const [msg, setMsg] = useState<{payload: string; text: string | null; qos: number; size: number; contentType?: string} | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [view, setView] = useState<PayloadView>('text')
  useEffect(() => {
    setMsg(undefined)
    api('GET', `/api/v1/retained/${encodeURIComponent(props.topic)}`).then(
      (m) => {
        setMsg(m)
        setError(undefined)
        let json = false
        try {
          json = m.text !== null && typeof JSON.parse(m.text) === 'object'
        } catch {}
        setView(m.text === null ? 'hex' : json ? 'json' : 'text')
      },
      (e: Error) => setError(e.message),
    )
  }, [props.topic])
  return (
    <aside class="card detail" data-testid="retained-detail">
      <div class="detail-head">
        <h2 class="mono">{props.topic}</h2>
        <button class="btn small" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </div>
      {error && <div class="alert error">{error}</div>}
      {msg && (
        <>
          <div class="meta">
            QoS {msg.qos} · {fmtBytes(msg.size)}
            {msg.contentType && ` · ${msg.contentType}`}
          </div>
          <PayloadTabs view={view} onChange={setView} />
          <pre class="payload">{renderPayload(base64ToBytes(msg.payload), view)}</pre>
          <div class="form-actions">
            <button class="btn danger" onClick={() => props.onDelete(props.topic)}>
              Delete
            </button>
          </div>
        </>
      )}
    </aside>
  )
}

