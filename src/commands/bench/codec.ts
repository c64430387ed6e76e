import {camelFigure} from '../../core/bench/result.js'
import {Flags} from '@oclif/core'
import {runCodecBench} from '../../core/bench/codec-bench.js'
import type {CodecResult} from '../../core/bench/codec-bench.js'
import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/render.js'

export default class BenchCodec extends BaseCommand {
  static override summary = 'Micro-benchmarks of the MQTT codec and WebSocket framing (tinybench).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --sizes 16,1024 --time 1000 --json']

  static override flags = {
    sizes: Flags.string({summary: 'Payload sizes in bytes, comma-separated.', default: '16,256,4096,65536'}),
    time: Flags.integer({summary: 'Milliseconds per case.', default: 300, min: 10}),
  }

  async run(): Promise<{results: Array<Record<string, unknown>>}> {
    const {flags} = await this.parse(BenchCodec)
    const sizes = flags.sizes.split(',').map(Number)
    if (sizes.some((s) => !Number.isInteger(s) || s < 0)) this.error(`--sizes "${flags.sizes}" must be whole numbers of bytes`, {exit: 2})
    const results = await runCodecBench(sizes, flags.time)
    this.log(table(['case', 'ops/s', 'mean ns', 'p99 ns'], results.map((r) => [r.name, r.ops_per_s.toLocaleString('en-US'), r.mean_ns, r.p99_ns])))
    // Field names in camelCase, as every --json output (docs/json.md).
    return {results: results.map((r: CodecResult) => Object.fromEntries(Object.entries(r).map(([k, v]) => [camelFigure(k), v])))}
  }
}
