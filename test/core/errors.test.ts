/**
 * MqttwsError's instanceof across two copies of errors.ts: under tsx a module reached by
 * require and by import() (the lazily loaded transports) is loaded twice.
 */
import assert from 'node:assert/strict'
import {MqttwsError, RefusedError, TimeoutError, TransportError} from '../../src/core/errors.js'

describe('errors', () => {
  it('instanceof matches an error from another copy of the module by class name', async () => {
    // A second copy of the module: the same file under another URL.
    const other = (await import(`../../src/core/errors.ts?copy=${Date.now()}`)) as typeof import('../../src/core/errors.js')
    assert.notEqual(other.TransportError, TransportError)
    const e = new other.TransportError('x')
    assert.ok(e instanceof MqttwsError)
    assert.ok(e instanceof TransportError)
    assert.ok(!(e instanceof TimeoutError))
    assert.ok(!(e instanceof RefusedError))
    assert.ok(new TransportError('y') instanceof other.MqttwsError)
  })

  it('does not match other errors, or objects that only look alike', () => {
    assert.ok(!(new Error('x') instanceof MqttwsError))
    assert.ok(!(({name: 'MqttwsError', code: 'MQTTWS_ERR_TRANSPORT'} as object) instanceof MqttwsError))
    assert.ok(!((null as unknown as object) instanceof MqttwsError))
    assert.ok(new TimeoutError('t') instanceof MqttwsError)
  })
})
