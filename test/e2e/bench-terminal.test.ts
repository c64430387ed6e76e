/**
 * Issue 18: bench's live progress as a terminal user sees it (tmux): one line that is
 * rewritten in place, narrower than the terminal (a wrapped line cannot be erased with
 * \r and would pile up), gone when the summary prints; the summary starts with its headline.
 */
import assert from 'node:assert/strict'
import {BIN} from '../helpers/spawn.js'
import {TmuxSession, hasTmux} from '../helpers/tmux.js'

describe('e2e: bench progress in a real terminal (tmux)', function () {
  this.timeout(90_000)

  for (const width of [60, 120]) {
    it(`${width} columns: one progress line, rewritten in place, then the summary with its headline`, async function () {
      if (!hasTmux()) return this.skip()
      const term = new TmuxSession(`node ${BIN} bench fan-in -d 4 -P 2 -T tcp`, {width, height: 40, env: {FORCE_COLOR: '1', MQTTWS_ADMIN: 'off'}})
      try {
        // Several looks while it runs: never more than one progress line on the screen.
        let looks = 0
        for (let i = 0; i < 400 && looks < 5; i++) {
          const screen = term.capture()
          if (/\[exit \d+\]/.test(screen)) break
          const progress = screen.split('\n').filter((l) => /^(tcp) +(connect|run|drain)/.test(l))
          if (progress.length > 0) {
            looks++
            assert.equal(progress.length, 1, `one progress line:\n${screen}`)
            for (const l of screen.split('\n')) assert.ok(l.length <= width, `${l.length} columns: ${l}`)
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        assert.ok(looks > 0, 'the progress line was seen')
        const end = await term.waitFor(/\[exit \d+\]/, 60_000)
        assert.match(end, /\[exit 0\]/)
        assert.match(end, /bench fan-in: 2 publishers → 1 subscriber, QoS 0/)
        assert.doesNotMatch(end, /^tcp +(connect|run|drain) /m)
      } finally {
        term.close()
      }
    })
  }
})
