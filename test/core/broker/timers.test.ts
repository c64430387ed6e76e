import assert from 'node:assert/strict'
import {Deadline} from '../../../src/core/broker/timers.js'

describe('Deadline', () => {
  it('fires after its delay', async () => {
    let fired = 0
    new Deadline(5, () => fired++, null)
    await new Promise((resolve) => setTimeout(resolve, 40))
    assert.equal(fired, 1)
  })

  it('does not fire early for a delay beyond setTimeout’s 24.8-day limit (30 days)', async () => {
    let fired = 0
    const d = new Deadline(30 * 24 * 3600 * 1000, () => fired++, null)
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(fired, 0)
    d.cancel()
  })

  it('cancel() stops it', async () => {
    let fired = 0
    new Deadline(5, () => fired++, null).cancel()
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(fired, 0)
  })
})
