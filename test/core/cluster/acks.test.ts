import assert from 'node:assert/strict'
import type {Msg} from '@nats-io/transport-node'
import {AckTracker} from '../../../src/core/cluster/acks.js'

/** An answer on the ack inbox, as the NATS client hands it over. */
function answer(subject: string, body: string, headers?: {hasError: boolean; code: number; description: string}): Msg {
  return {subject, data: Buffer.from(body), headers} as unknown as Msg
}

describe('cluster: JetStream acknowledgements of a turn', () => {
  it('a turn without QoS 1/2 messages has nothing to wait for', () => {
    assert.equal(new AckTracker('_INBOX.t.', 1000).commit(), undefined)
  })

  it('resolves once every message of the turn is stored, whatever the order of the answers', async () => {
    const acks = new AckTracker('_INBOX.t.', 5000)
    const r1 = acks.reply()
    const r2 = acks.reply()
    const done = acks.commit()!
    let settled = false
    void done.then(() => (settled = true))
    acks.onReply(answer(r2, '{"stream":"s","seq":2}'))
    await Promise.resolve()
    assert.equal(settled, false, 'one answer is missing')
    acks.onReply(answer(r1, '{"stream":"s","seq":1}'))
    await done
    assert.equal(acks.outstanding, 0)
  })

  it('rejects when JetStream refuses one, when there is no stream (503), or when NATS was unreachable', async () => {
    const a = new AckTracker('_INBOX.t.', 5000)
    const r = a.reply()
    a.reply()
    const p = a.commit()!
    a.onReply(answer(r, '{"error":{"code":503,"description":"insufficient resources"}}'))
    a.onReply(answer('_INBOX.t.2', '{"stream":"s","seq":9}'))
    await assert.rejects(p, /insufficient resources/)

    const b = new AckTracker('_INBOX.t.', 5000)
    const rb = b.reply()
    const pb = b.commit()!
    b.onReply(answer(rb, '', {hasError: true, code: 503, description: 'No Responders'}))
    await assert.rejects(pb, /503 No Responders/)

    const c = new AckTracker('_INBOX.t.', 5000)
    c.fail('NATS is unreachable')
    await assert.rejects(c.commit()!, /NATS is unreachable/)
  })

  it('rejects when the answers do not come in time, and forgets them', async () => {
    const acks = new AckTracker('_INBOX.t.', 20)
    acks.reply()
    await assert.rejects(acks.commit()!, /did not answer within 20 ms/)
    assert.equal(acks.outstanding, 0)
  })

  it('turns are independent: a failure refuses only its own turn', async () => {
    const acks = new AckTracker('_INBOX.t.', 5000)
    const r1 = acks.reply()
    const t1 = acks.commit()!
    const r2 = acks.reply()
    const t2 = acks.commit()!
    acks.onReply(answer(r1, '{"error":{"description":"nope"}}'))
    acks.onReply(answer(r2, '{"stream":"s","seq":1}'))
    await assert.rejects(t1, /nope/)
    await t2
  })
})
