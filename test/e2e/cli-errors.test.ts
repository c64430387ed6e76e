/**
 * What a user sees when they get the command line wrong: one line saying what and what to
 * do (the flag or command they probably meant), never a page of help or oclif internals;
 * with --json one small error object; the exit codes of the README.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import {BIN, runBin, startServe} from '../helpers/spawn.js'
import {TmuxSession, hasTmux} from '../helpers/tmux.js'

describe('e2e: command-line errors', function () {
  this.timeout(30_000)

  it('a mistyped flag: the flag it resembles and where the help is, exit 2 (also without the quick start)', async function () {
    for (const env of [{}, {MQTTWS_FAST_START: '0'}]) {
      const r = await runBin(['pub', '-t', 'a', '-m', 'x', '--qoss', '1'], {env})
      assert.equal(r.code, 2)
      assert.equal(r.stderr, 'Error: unknown flag --qoss: did you mean --qos?\nSee `mqttws pub --help`.\n')
      assert.equal(r.stdout, '')
    }
    const far = await runBin(['listeners', '--frobnicate'])
    assert.equal(far.code, 2)
    assert.equal(far.stderr, 'Error: unknown flag --frobnicate\nSee `mqttws listeners --help`.\n')
  })

  it('a bad flag value names the flag, exit 2', async function () {
    const r = await runBin(['pub', '-t', 'a', '-m', 'x', '-q', '7'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^Error: --qos: Expected an integer less than or equal to 2 but received: 7\nSee `mqttws pub --help`\.\n$/)
  })

  it('with --json: one small error object on stdout, with a code and the exit code', async function () {
    const typo = await runBin(['listeners', '--json', '--bogus'])
    assert.equal(typo.code, 2)
    assert.ok(typo.stdout.length < 200, `${typo.stdout.length} bytes`)
    assert.deepEqual(JSON.parse(typo.stdout), {error: {code: 'MQTTWS_ERR_USAGE', message: 'unknown flag --bogus', exit: 2}})
    const refused = await runBin(['pub', '--json', '-L', 'mqtt://127.0.0.1:1', '-t', 'a', '-m', 'b'])
    assert.equal(refused.code, 1)
    const e = JSON.parse(refused.stdout).error
    assert.equal(e.code, 'MQTTWS_ERR_TRANSPORT')
    assert.equal(e.exit, 1)
    assert.match(e.message, /connection refused/)
    assert.deepEqual(Object.keys(JSON.parse(refused.stdout)), ['error'])
  })

  it('an unknown command: the command meant, or the subcommands there are, exit 2', async function () {
    const cases: Array<[string[], string]> = [
      [['publish', '-t', 'a'], 'Error: "publish" is not a mqttws command. Did you mean `mqttws pub`?\nSee `mqttws --help` for the commands.\n'],
      [['benhc'], 'Error: "benhc" is not a mqttws command. Did you mean `mqttws bench`?\nSee `mqttws --help` for the commands.\n'],
      [['zzz'], 'Error: "zzz" is not a mqttws command.\nSee `mqttws --help` for the commands.\n'],
      [
        ['listeners', 'stp', 'ws:1'],
        'Error: `mqttws listeners` has no subcommand "stp": its subcommands are add, remove, restart, start, stop. Did you mean `mqttws listeners stop`?\nSee `mqttws listeners --help`.\n',
      ],
    ]
    for (const [args, stderr] of cases) {
      const r = await runBin(args)
      assert.equal(r.code, 2, args.join(' '))
      assert.equal(r.stderr, stderr)
    }
  })

  it('shell completion is there: `mqttws autocomplete bash` says how to set it up', async function () {
    const r = await runBin(['autocomplete', 'bash'], {env: {XDG_CACHE_HOME: '/tmp/mqttws-ac-test'}})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /mqttws autocomplete/)
  })
})

describe('e2e: interrupts, in a real terminal (tmux)', function () {
  this.timeout(30_000)
  let term: TmuxSession | undefined
  afterEach(() => term?.close())

  it('Ctrl-C at a prompt ends quietly with 130', async function () {
    if (!hasTmux()) return this.skip()
    term = new TmuxSession(`node ${BIN} pub -L mqtt://127.0.0.1:1`)
    await term.waitFor(/Topic to publish to/)
    term.keys('C-c')
    const screen = await term.waitFor(/\[exit \d+\]/)
    assert.match(screen, /\[exit 130\]/)
    assert.doesNotMatch(screen, /ExitPromptError|Error|at /)
  })

  it('a second Ctrl-C while serve stops: it leaves at once, without a stack trace', async function () {
    if (!hasTmux()) return this.skip()
    term = new TmuxSession(`node ${BIN} serve --listen mqtt://127.0.0.1:0 --admin off`)
    const screen = await term.waitFor(/mqtt:\/\/127\.0\.0\.1:(\d+)/)
    const port = Number(/mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(screen)![1])
    // A client that never answers the close keeps the first stop busy for a moment.
    const socket = net.connect(port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(Buffer.from('101000044d5154540402003c0004736c6f77', 'hex'))
    socket.on('data', () => {})
    await new Promise((resolve) => setTimeout(resolve, 200))
    term.keys('C-c')
    term.keys('C-c')
    const after = await term.waitFor(/\[exit \d+\]/)
    socket.destroy()
    assert.match(after, /\[exit 1\]/)
    assert.match(after, /Stopped at once \(second signal\)/)
    assert.doesNotMatch(after, /ExitError|exit\.js|    at /)
  })
})

describe('e2e: mqttws listeners --watch in a real terminal (tmux)', function () {
  this.timeout(40_000)

  it('fits 90 columns, lines values up under their coloured headers, and shows a UTC clock', async function () {
    if (!hasTmux()) return this.skip()
    const serve = await startServe(['--listen', 'mqtt://127.0.0.1:0', '--listen', 'ws://127.0.0.1:0/mqtt', '--admin', 'http://127.0.0.1:0', '--admin-token', 'watch-test-token'], {env: {MQTTWS_ADMIN: ''}})
    const admin = JSON.parse(serve.stdoutLines.find((l) => l.includes('"event":"admin"'))!) as {url: string}
    const term = new TmuxSession(`node ${BIN} listeners --watch --admin ${admin.url} --token watch-test-token`, {width: 90, height: 20, env: {FORCE_COLOR: '1'}})
    try {
      const screen = await term.waitFor(/running[\s\S]*running/)
      const lines = screen.split('\n')
      assert.match(lines[0], /^http:\/\/127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d UTC {2}\(Ctrl-C to stop\)/)
      const head = lines.find((l) => l.startsWith('id'))!
      const rows = lines.filter((l) => /^(mqtt|ws):/.test(l))
      assert.equal(rows.length, 2)
      for (const l of [head, ...rows]) assert.ok(l.length <= 90, `${l.length} columns: ${l}`)
      const col = (l: string, word: string): number => l.indexOf(word)
      for (const r of rows) assert.equal(col(r, 'running'), col(head, 'state'), `state lines up:\n${head}\n${r}`)
      assert.match(term.capture(true), /\u001B\[32mrunning/, 'state in colour')
      term.keys('C-c')
      assert.match(await term.waitFor(/\[exit \d+\]/), /\[exit 0\]/)
    } finally {
      term.close()
      await serve.stop()
    }
  })
})
