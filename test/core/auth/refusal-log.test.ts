/**
 * No log flood on refusal storms: LogThrottle logs the first few lines of a window and one
 * summary by reason; serve's logging (attachBrokerLogging) puts CONNECT refusals through it,
 * and the listener's counters stay exact.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {attachBrokerLogging} from '../../../src/cli/broker-logging.js'
import {editPasswordFile} from '../../../src/core/auth/password-file.js'
import {LogThrottle} from '../../../src/core/log-throttle.js'
import type {LogFields, Logger} from '../../../src/core/logger.js'
import {startBroker} from '../../helpers/broker.js'
import {connectCode, tempDir} from '../../helpers/auth.js'

function recorder(): Logger & {lines: Array<{level: string; msg: string; fields?: LogFields}>} {
  const lines: Array<{level: string; msg: string; fields?: LogFields}> = []
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({level, msg, fields})
  return {lines, debugEnabled: false, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug')}
}

describe('auth: refusal storms in the log', function () {
  this.timeout(30000)

  it('LogThrottle: the first 5 lines of a window, then one summary line with the count by reason', () => {
    const log = recorder()
    const t = new LogThrottle(log, {windowMs: 3_600_000, what: 'refused CONNECTs'})
    for (let i = 0; i < 1000; i++) t.note('warn', i % 4 === 0 ? 'not authorized' : 'bad user name or password', 'client refused', {i})
    assert.equal(log.lines.length, 5)
    t.flush()
    assert.equal(log.lines.length, 6)
    const summary = log.lines[5]
    assert.equal(summary.msg, '… 995 more refused CONNECTs in the last 3600 s, by reason: 747 bad user name or password, 248 not authorized')
    assert.deepEqual(summary.fields?.byReason, {'bad user name or password': 747, 'not authorized': 248})
    // A new window logs again; a window with nothing left out writes no summary.
    t.note('warn', 'x', 'client refused', {})
    t.flush()
    assert.equal(log.lines.length, 7)
  })

  it('LogThrottle: the summary comes by itself when the window ends', async () => {
    const log = recorder()
    const t = new LogThrottle(log, {windowMs: 50, burst: 1})
    t.note('info', 'path', 'handshake rejected', {})
    t.note('info', 'path', 'handshake rejected', {})
    for (let i = 0; i < 100 && log.lines.length < 2; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(log.lines.length, 2)
    assert.match(log.lines[1].msg, /^… 1 more refusals in the last 0.05 s, by reason: 1 path$/)
  })

  it('serve logging: a storm of 40 wrong passwords logs 5 refusals; the listener counts all 40', async () => {
    const file = join(tempDir(), 'passwd')
    await editPasswordFile(file, {op: 'set', user: 'u', password: 'right', iterations: 1000}, {create: true})
    const tb = await startBroker({auth: {authenticators: [{type: 'password-file', file}]}})
    const log = recorder()
    attachBrokerLogging(tb.broker, log)
    try {
      for (let i = 0; i < 40; i++) assert.equal(await connectCode(tb.urls.mqtt, {username: 'u', password: 'wrong'}), 4)
      const refused = log.lines.filter((l) => l.msg === 'client refused')
      assert.equal(refused.length, 5)
      assert.match(String(refused[0].fields?.error), /bad user name or password/)
      assert.equal(tb.broker.listenerStatuses().find((l) => l.scheme === 'mqtt')!.connections.rejected.auth, 40)
    } finally {
      await tb.close()
    }
  })
})
