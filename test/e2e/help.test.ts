/** Issue 18 item 10: help reads in a sensible order, says each default once, shows the values a flag takes. */
import assert from 'node:assert/strict'
import {runBin} from '../helpers/spawn.js'
import {withoutRepeatedDefault} from '../../src/cli/help.js'

function sections(text: string): string[] {
  return [...text.matchAll(/^([A-Z0-9 ]+) FLAGS$/gm)].map((m) => m[1])
}

describe('help', function () {
  this.timeout(60_000)

  it('a summary loses its "(default X)" when oclif prints [default: X]; other notes stay', () => {
    assert.equal(withoutRepeatedDefault('Keepalive in seconds (default 60; 0 disables).', true), 'Keepalive in seconds (0 disables).')
    assert.equal(withoutRepeatedDefault('Seconds to wait (default 10).', true), 'Seconds to wait.')
    assert.equal(withoutRepeatedDefault('Seconds to wait (default 10).', false), 'Seconds to wait (default 10).')
  })

  for (const cmd of ['pub', 'sub']) {
    it(`${cmd} --help: CONNECTION and the message flags before MQTT 5 and WEBSOCKET, GLOBAL last; defaults once; -V's values; -t required`, async () => {
      const r = await runBin([cmd, '--help'], {env: {COLUMNS: '200'}})
      assert.equal(r.code, 0, r.stderr)
      const order = sections(r.stdout)
      const at = (s: string): number => order.indexOf(s)
      assert.ok(at('CONNECTION') >= 0 && at('MQTT 5') > at('CONNECTION') && at('WEBSOCKET') > at('MQTT 5'), order.join(', '))
      assert.ok(at(cmd === 'pub' ? 'MESSAGE' : 'SUBSCRIPTION') < at('MQTT 5'), order.join(', '))
      assert.equal(order.at(-1), 'GLOBAL')
      assert.doesNotMatch(r.stdout, /\[default: ([^\]]+)\][^\n]*\(default \1/)
      assert.match(r.stdout, /-V, --protocol-version=<3\.1\|3\.1\.1\|5>/)
      assert.match(r.stdout, /-t, --topic=<value>[^]{0,200}required/)
    })
  }

  it('bench --help: its flags in groups (TARGET, LOAD, GATE, OUTPUT); -P says it is not the password', async () => {
    const r = await runBin(['bench', '--help'], {env: {COLUMNS: '200'}})
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(sections(r.stdout), ['TARGET', 'LOAD', 'OUTPUT', 'GATE', 'GLOBAL'])
    assert.match(r.stdout, /-P, --publishers=<value>[^]{0,200}Not the\s+password/)
  })
})
