import assert from 'node:assert/strict'
import {createHistogram} from 'node:perf_hooks'
import {LatencyHistogram} from '../../../src/core/bench/latency.js'

describe('LatencyHistogram', () => {
  it('is empty until something is recorded', () => {
    const h = new LatencyHistogram()
    assert.equal(h.count, 0)
    assert.equal(h.percentile(50), 0)
    assert.equal(h.mean, 0)
  })

  it('agrees with node’s histogram within 1/64 on every percentile (node’s own are within 1/1000), over nine decades', () => {
    const ours = new LatencyHistogram()
    const node = createHistogram()
    let seed = 7
    let max = 0
    let sum = 0
    for (let i = 0; i < 50_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      const v = Math.floor(10 ** (1 + (seed / 2 ** 31) * 9)) // 10 ns … 10 s
      ours.record(v)
      node.record(v)
      max = Math.max(max, v)
      sum += v
    }
    assert.equal(ours.count, node.count)
    assert.equal(ours.max, max, 'max is exact')
    assert.ok(Math.abs(ours.mean - sum / 50_000) / ours.mean < 1e-9, 'mean is exact')
    for (const p of [1, 10, 50, 90, 99, 99.9, 100]) {
      const a = ours.percentile(p)
      const b = node.percentile(p)
      assert.ok(Math.abs(a - b) / b <= 1 / 64 + 1 / 1000, `p${p}: ${a} vs ${b}`)
    }
  })

  it('counts values below 1 ns (clock steps) as 1', () => {
    const h = new LatencyHistogram()
    h.record(0)
    h.record(-5)
    assert.equal(h.count, 2)
    assert.equal(h.max, 1)
  })

  it('merges exactly: two halves give the figures of the whole', () => {
    const whole = new LatencyHistogram()
    const halves = [new LatencyHistogram(), new LatencyHistogram()]
    for (let i = 1; i <= 10_000; i++) {
      const ns = (i * 7919) % 5_000_000
      whole.record(ns)
      halves[i % 2].record(ns)
    }
    const merged = new LatencyHistogram()
    for (const h of halves) merged.merge(structuredClone(h.state()))
    assert.deepEqual([merged.count, merged.max, merged.mean], [whole.count, whole.max, whole.mean])
    for (const p of [1, 50, 90, 99, 99.9, 100]) assert.equal(merged.percentile(p), whole.percentile(p), `p${p}`)
  })
})
