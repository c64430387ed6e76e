/**
 * When bin/run.js may start pub and sub without oclif (src/cli/fast-start.ts): only when
 * nothing oclif's full start-up does could change the outcome. In process; the e2e test
 * (test/e2e/pub-startup.test.ts) checks that both starts give the same results.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {fastStartRefusal} from '../../src/cli/fast-start.js'

const pjson = {
  name: 'mqttws',
  version: '1.0.0',
  oclif: {bin: 'mqttws', dirname: 'mqttws', commands: './dist/commands', plugins: ['@oclif/plugin-help', '@oclif/plugin-autocomplete'], hooks: {command_not_found: './dist/hooks/command-not-found.js'}, topicSeparator: ' '},
}
const env = {HOME: '/home/u'}
const nothing = (): boolean => false
const refusal = (argv: string[], o: {env?: NodeJS.ProcessEnv; pjson?: object; exists?: (p: string) => boolean} = {}): string | undefined =>
  fastStartRefusal(argv, o.env ?? env, (o.pjson ?? pjson) as typeof pjson, o.exists ?? nothing)

describe('fast start: when pub and sub skip oclif', function () {
  it('pub and sub with flags (or none) start fast', function () {
    assert.equal(refusal(['pub', '-t', 'a', '-m', 'b']), undefined)
    assert.equal(refusal(['sub', '-t', 'a/#', '-v']), undefined)
    assert.equal(refusal(['pub']), undefined)
  })

  it('the project package.json allows it (a new oclif setting needs a look at fast-start.ts)', function () {
    const own = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as typeof pjson
    assert.equal(refusal(['pub', '-t', 'a'], {pjson: own}), undefined)
  })

  it('other commands, or a word after the command (oclif reads "pub x" as the command pub:x), go to oclif', function () {
    assert.equal(refusal(['serve']), 'not pub or sub')
    assert.equal(refusal([]), 'not pub or sub')
    assert.equal(refusal(['bench', 'pub']), 'not pub or sub')
    assert.equal(refusal(['pub', 'extra', '-t', 'a']), 'an argument after the command')
  })

  it('--help anywhere goes to oclif, even as a flag value', function () {
    assert.equal(refusal(['pub', '-t', 'a', '--help']), '--help')
    assert.equal(refusal(['pub', '-m', '--help']), '--help')
  })

  it('MQTTWS_FAST_START=0 and oclif debugging go to oclif', function () {
    assert.equal(refusal(['pub'], {env: {...env, MQTTWS_FAST_START: '0'}}), 'MQTTWS_FAST_START=0')
    assert.equal(refusal(['pub'], {env: {...env, MQTTWS_FAST_START: '1'}}), undefined)
    assert.equal(refusal(['pub'], {env: {...env, DEBUG: '*'}}), 'DEBUG')
    assert.equal(refusal(['pub'], {env: {...env, MQTTWS_DEBUG: '1'}}), 'DEBUG')
  })

  it('oclif settings it does not know (hooks, a theme...) or other plugins go to oclif', function () {
    assert.equal(refusal(['pub'], {pjson: {...pjson, oclif: {...pjson.oclif, hooks: {init: './dist/hooks/init.js'}}}}), 'package.json oclif.hooks')
    assert.equal(refusal(['pub'], {pjson: {...pjson, oclif: {...pjson.oclif, additionalHelpFlags: ['-?']}}}), 'package.json oclif.additionalHelpFlags')
    assert.equal(refusal(['pub'], {pjson: {...pjson, oclif: {...pjson.oclif, plugins: ['@oclif/plugin-help', '@oclif/plugin-plugins']}}}), 'package.json oclif.plugins')
    assert.equal(refusal(['pub'], {pjson: {...pjson, oclif: {...pjson.oclif, hooks: {init: './x.js'}}}}), 'package.json oclif.hooks')
  })

  it('user plugins or a user theme go to oclif, looked for where oclif looks', function () {
    const at = (file: string) => (p: string) => p === file
    assert.equal(refusal(['pub'], {exists: at('/home/u/.local/share/mqttws/package.json')}), 'user plugins')
    assert.equal(refusal(['pub'], {exists: at('/home/u/.config/mqttws/theme.json')}), 'user theme')
    assert.equal(refusal(['pub'], {env: {...env, XDG_DATA_HOME: '/data'}, exists: at('/data/mqttws/package.json')}), 'user plugins')
    assert.equal(refusal(['pub'], {env: {...env, MQTTWS_CONFIG_DIR: '/cfg'}, exists: at('/cfg/theme.json')}), 'user theme')
    const seen: string[] = []
    refusal(['pub'], {exists: (p) => seen.push(p) === 0})
    assert.deepEqual(seen, ['/home/u/.local/share/mqttws/package.json', '/home/u/.config/mqttws/theme.json'])
  })
})
