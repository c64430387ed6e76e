/**
 * The minimal oclif config the pub/sub quick start runs commands with (src/cli/fast-path.ts)
 * holds what oclif's Config.load gives, for every field Command, its flag parser and
 * handle() read. In process.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Config} from '@oclif/core'
import {minimalConfig} from '../../src/cli/fast-path.js'
import type {PackageJson} from '../../src/cli/fast-path.js'
import Pub from '../../src/commands/pub.js'

// As fast-start.ts finds it from bin/run.js.
const root = dirname(dirname(fileURLToPath(new URL('../../bin/run.js', import.meta.url))))

describe('fast path: the minimal oclif config', function () {
  it('gives what Config.load gives', async function () {
    const real = await Config.load(root)
    const pjson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson
    const mini = minimalConfig(root, pjson, 'pub', Pub)
    // (theme: both undefined when the quick start runs, as it does not run with a user theme.)
    for (const k of ['root', 'name', 'version', 'bin', 'dirname', 'platform', 'arch', 'windows', 'userAgent', 'topicSeparator', 'flexibleTaxonomy', 'isSingleCommandCLI'] as const) {
      assert.deepEqual(mini[k], real[k], k)
    }
    for (const k of ['CONTENT_TYPE', 'REDIRECTED', 'DEBUG']) {
      assert.equal(mini.scopedEnvVarKey(k), real.scopedEnvVarKey(k))
      assert.deepEqual(mini.scopedEnvVarKeys(k), real.scopedEnvVarKeys(k))
    }
    assert.equal(mini.findCommand('pub'), Pub)
    assert.equal(real.findCommand('pub')?.id, 'pub')
    assert.deepEqual(await mini.runHook('preparse', {argv: [], options: {}}), {successes: [], failures: []})
  })
})
