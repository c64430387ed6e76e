/** `npm start` builds only when the build is missing or stale (scripts/build-if-stale.mjs). */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
// @ts-expect-error: a plain ES module script (it runs before any build), without types.
import {OUTPUTS, staleReason} from '../../scripts/build-if-stale.mjs'

const check = staleReason as (root: string) => string | undefined

describe('npm start: build only when needed (build-if-stale)', () => {
  let root: string
  const write = (file: string, secondsAgo: number): void => {
    const path = join(root, file)
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, file)
    const t = Date.now() / 1000 - secondsAgo
    utimesSync(path, t, t)
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mqttws-stale-'))
    write('src/index.ts', 100)
    write('src/cli/deep/file.ts', 100)
    write('scripts/build.mjs', 100)
    write('package.json', 100)
    write('tsconfig.json', 100)
  })

  afterEach(() => rmSync(root, {recursive: true, force: true}))

  it('a missing build is built', () => {
    assert.match(check(root) ?? '', /oclif\.manifest\.json is missing/)
    for (const out of OUTPUTS as string[]) write(out, 10)
    rmSync(join(root, 'dist/fast-path.cjs'))
    assert.match(check(root) ?? '', /dist\/fast-path\.cjs is missing/)
  })

  it('a build newer than every source is not rebuilt', () => {
    for (const out of OUTPUTS as string[]) write(out, 10)
    assert.equal(check(root), undefined)
  })

  it('a source changed after the build (however deep) makes it stale, naming the file', () => {
    for (const out of OUTPUTS as string[]) write(out, 10)
    write('src/cli/deep/file.ts', 1)
    assert.equal(check(root), 'src/cli/deep/file.ts is newer than oclif.manifest.json')
    for (const out of OUTPUTS as string[]) write(out, 0)
    write('package.json', -5)
    assert.match(check(root) ?? '', /^package\.json is newer than/)
  })

  it('package.json start runs it before serve', () => {
    const pjson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {scripts: Record<string, string>}
    assert.match(pjson.scripts.start, /^node scripts\/build-if-stale\.mjs && node bin\/run\.js serve/)
  })
})
