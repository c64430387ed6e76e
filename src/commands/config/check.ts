import {readFile} from 'node:fs/promises'
import {extname} from 'node:path'
import {Args} from '@oclif/core'
import {resolveConfig} from '../../core/config.js'
import {ConfigError} from '../../core/errors.js'
import {BaseCommand} from '../../cli/base-command.js'
import {loadConfigFile} from '../../cli/config-file.js'
import {locateSetting, syntaxErrorPosition} from '../../cli/config-report.js'

const DEV_CERT_PLACEHOLDER = '-----BEGIN (the development certificate serve makes)-----'

export default class ConfigCheck extends BaseCommand {
  static override summary = 'Check a serve --config file: syntax, settings, values and the files it names.'
  static override description = `Reports the first problem with its line in the file, as FILE:LINE:COLUMN: message, and exits 2; prints "FILE: ok" and exits 0 when serve --config FILE would start with it.`
  static override enableJsonFlag = true

  static override args = {
    file: Args.string({description: 'YAML or JSON config file', required: true}),
  }

  static override examples = ['<%= config.bin %> <%= command.id %> mqttws.yaml']

  async run(): Promise<{file: string; ok: true}> {
    const {args} = await this.parse(ConfigCheck)
    const file = args.file
    try {
      const loaded = await loadConfigFile(file)
      // devCert: serve makes (or reuses) the certificate at start; a placeholder stands in for it here.
      if (loaded.devCert && loaded.broker.tls === undefined) loaded.broker.tls = {cert: DEV_CERT_PLACEHOLDER, key: DEV_CERT_PLACEHOLDER}
      resolveConfig(loaded.broker)
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      const text = await readFile(file, 'utf8').catch(() => undefined)
      const syntax = text === undefined ? undefined : syntaxErrorPosition(text, extname(file).toLowerCase() === '.json')
      const at = syntax ?? (text === undefined ? undefined : locateSetting(text, error.message))
      throw new ConfigError(at === undefined ? (error.message.includes(file) ? error.message : `${file}: ${error.message}`) : `${file}:${at.line}:${at.column}: ${syntax ? `not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${syntax.message}` : error.message}`)
    }
    this.log(`${file}: ok`)
    return {file, ok: true}
  }
}
