/**
 * Retained messages as the broker keeps them: stamped with the time and the publishing
 * client (shown by the admin API), and the broker's own $SYS entries never counting toward
 * limits.maxRetainedMessages.
 */
import assert from 'node:assert/strict'
import {retainedInfo} from '../../../src/core/admin/inspect.js'
import {startBroker} from '../../helpers/broker.js'
import {connectMqttJs} from '../../helpers/mqttjs.js'

describe('broker: retained messages', function () {
  this.timeout(20_000)

  it('$SYS entries do not count toward maxRetainedMessages; each retained message knows when and from whom', async () => {
    const tb = await startBroker({sysInterval: 60, limits: {maxRetainedMessages: 2}})
    try {
      const sys = await tb.broker.retainedMessages('$SYS/#')
      assert.ok(sys.length > 2, `the $SYS tree holds ${sys.length} retained messages`)
      const c = await connectMqttJs(tb.urls.mqtt, {clientId: 'pub-1'})
      const before = Date.now()
      await c.publishAsync('r/1', 'one', {qos: 1, retain: true})
      await c.publishAsync('r/2', 'two', {qos: 1, retain: true})
      await c.publishAsync('r/3', 'three', {qos: 1, retain: true})
      c.end(true)
      const kept = await tb.broker.retainedMessages('r/#')
      assert.deepEqual(kept.map((m) => m.topic).sort(), ['r/1', 'r/2'])
      assert.equal(tb.broker.metrics.retainedDropped, 1)
      const info = retainedInfo(kept.find((m) => m.topic === 'r/1')!)
      assert.equal(info.publisher, 'pub-1')
      assert.ok(Date.parse(info.storedAt!) >= before - 1000 && Date.parse(info.storedAt!) <= Date.now())
      assert.equal(retainedInfo(sys[0]).publisher, null)
    } finally {
      await tb.close()
    }
  })
})
