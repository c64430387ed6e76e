import assert from 'node:assert/strict'
import {stripVTControlCharacters} from 'node:util'
import chalk from 'chalk'
import {displayWidth, renderListenersTable, table} from '../../src/cli/render.js'
import type {ListenerRow} from '../../src/cli/render.js'

const row = (id: string, url: string, state: string, n = 0): ListenerRow => ({
  id,
  url,
  state,
  connections: {current: n, peak: n, rejectedTotal: 0, rejected: {}},
  messages: {published: n * 1000, delivered: n * 999},
  bytes: {in: n * 123456, out: n * 654321},
})

/** Where each header word starts, and where the value under it starts, ignoring colour. */
function starts(line: string): number[] {
  const out: number[] = []
  const plain = stripVTControlCharacters(line)
  for (let i = 0; i < plain.length; i++) if (plain[i] !== ' ' && (i === 0 || plain[i - 1] === ' ')) out.push(i)
  return out
}

describe('terminal tables', function () {
  const level = chalk.level
  before(() => {
    chalk.level = 3
  })
  after(() => {
    chalk.level = level
  })

  it('measures cells without their colour codes, so coloured columns line up with their headers', function () {
    const text = renderListenersTable([row('mqtt:1883', 'mqtt://127.0.0.1:1883', 'running', 2), row('ws:8083', 'ws://127.0.0.1:8083/mqtt', 'stopped')])
    assert.notEqual(text, stripVTControlCharacters(text), 'it is coloured')
    const [head, first, second] = text.split('\n')
    assert.deepEqual(starts(head).slice(0, 3), starts(first).slice(0, 3), 'id, url, state start where their headers do')
    assert.equal(starts(first)[2], starts(second)[2], 'running and stopped in one column')
    assert.equal(displayWidth(chalk.green('running')), 7)
  })

  it('fits a narrow terminal by leaving out the less telling columns', function () {
    const rows = [row('mqtt:1883', 'mqtt://127.0.0.1:1883', 'running', 3)]
    const wide = renderListenersTable(rows)
    const narrow = renderListenersTable(rows, undefined, {maxWidth: 80})
    assert.ok(Math.max(...wide.split('\n').map(displayWidth)) > 80)
    assert.ok(Math.max(...narrow.split('\n').map(displayWidth)) <= 80, narrow)
    assert.match(narrow, /msgs in/)
    assert.doesNotMatch(narrow, /peak/)
  })

  it('keeps column widths from one refresh to the next (no jitter as numbers shrink)', function () {
    const keep: number[] = []
    const a = table(['name', 'count'], [['x', 123456]], {keep})
    const b = table(['name', 'count'], [['x', 7]], {keep})
    assert.equal(displayWidth(a.split('\n')[1]), displayWidth(b.split('\n')[1]))
  })
})
