import {existsSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {dirname, isAbsolute, relative, resolve} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {editPasswordFile} from '../core/auth/password-file.js'
import {ConfigError} from '../core/errors.js'
import {BaseCommand} from '../cli/base-command.js'
import {checkAnswers, isLoopback, parsePort, renderInitConfig} from '../cli/init-config.js'
import type {InitAnswers, TlsChoice} from '../cli/init-config.js'
import {askConfirm, askDefault, askSecret, askSelect, canPrompt} from '../cli/prompt.js'

const TLS_CHOICES = [
  {value: 'none', name: 'no TLS'},
  {value: 'dev', name: 'yes, with a development certificate (self-signed, for testing)'},
  {value: 'files', name: 'yes, with my certificate and key files'},
] as const

export default class Init extends BaseCommand {
  static override summary = 'Write a commented serve config file: listeners, TLS, a first user, storage, the admin API.'
  static override description = `On a terminal it asks, with the flags' values as the defaults; elsewhere give --yes and the flags for what differs from the defaults.
It refuses to replace an existing file without --force. With a user, it creates the password file (mosquitto_passwd format) next to the config.`

  static override examples = [
    {description: 'Answer the questions', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Defaults, no questions', command: '<%= config.bin %> <%= command.id %> --yes'},
    {description: 'On every interface, with TLS and a first user', command: '<%= config.bin %> <%= command.id %> --yes --host 0.0.0.0 --tls dev --user alice --password s3cret --data-dir ./data'},
  ]

  static override args = {
    file: Args.string({description: 'The config file to write', default: 'mqttws.yaml'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Ask nothing: the flags and the defaults.'}),
    force: Flags.boolean({char: 'f', summary: 'Replace an existing config file (and password file).'}),
    host: Flags.string({summary: 'Address to listen on.', default: '127.0.0.1', helpGroup: 'LISTENERS'}),
    'tcp-port': Flags.string({summary: 'MQTT over TCP port; off: none.', default: '1883', helpGroup: 'LISTENERS'}),
    'ws-port': Flags.string({summary: 'MQTT over WebSocket port; off: none.', default: '8083', helpGroup: 'LISTENERS'}),
    'ws-path': Flags.string({summary: 'WebSocket path.', default: '/mqtt', helpGroup: 'LISTENERS'}),
    tls: Flags.option({options: ['none', 'dev', 'files'] as const, summary: 'TLS listeners (mqtts, wss): none, dev (a development certificate) or files (--tls-cert, --tls-key).', default: 'none', helpGroup: 'LISTENERS'})(),
    'tls-port': Flags.string({summary: 'MQTT over TLS port; off: none.', default: '8883', helpGroup: 'LISTENERS'}),
    'wss-port': Flags.string({summary: 'MQTT over secure WebSocket port; off: none.', default: '8084', helpGroup: 'LISTENERS'}),
    'tls-cert': Flags.string({summary: 'PEM certificate (chain) for --tls files.', helpGroup: 'LISTENERS'}),
    'tls-key': Flags.string({summary: 'PEM private key for --tls files.', helpGroup: 'LISTENERS'}),
    user: Flags.string({summary: 'A first user: creates the password file with it.', helpGroup: 'AUTHENTICATION'}),
    password: Flags.string({summary: "The first user's password (asked on a terminal when missing).", env: 'MQTTWS_PASSWORD', helpGroup: 'AUTHENTICATION'}),
    'password-file': Flags.string({summary: 'The password file to create, relative to the config file.', default: 'passwd', helpGroup: 'AUTHENTICATION'}),
    'allow-anonymous': Flags.boolean({summary: 'Let clients in without credentials, even on a public address.', helpGroup: 'AUTHENTICATION'}),
    'data-dir': Flags.string({summary: 'Keep sessions and retained messages in this directory (relative to the config file); default: in memory.', helpGroup: 'STORAGE'}),
    admin: Flags.string({summary: 'Admin API and dashboard address, http://HOST:PORT; off: none.', default: 'http://127.0.0.1:18083', helpGroup: 'ADMIN'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Init)
    const file = resolve(args.file)
    if (existsSync(file) && !flags.force) throw new ConfigError(`${args.file} exists: give another file name, or --force to replace it`)
    const interactive = !flags.yes
    if (interactive && !canPrompt(false)) throw new ConfigError('init asks its questions on a terminal: here, give --yes (and flags for what differs from the defaults; see mqttws init --help)')
    const ask = async (message: string, value: string, check?: (v: string) => true | string): Promise<string> => (interactive ? askDefault(message, value, check) : value)
    const portCheck = (what: string) => (v: string): true | string => {
      try {
        parsePort(v, what)
        return true
      } catch (error) {
        return (error as Error).message
      }
    }
    const dir = dirname(file)
    // Paths given on the command line are relative to here; in the file, relative to the file.
    const fromFile = (p: string): string => {
      const r = relative(dir, resolve(p)) || '.'
      return r.startsWith('.') || isAbsolute(r) ? r : `./${r}`
    }

    const host = await ask('Address to listen on (0.0.0.0: every interface):', flags.host)
    const tcpPort = parsePort(await ask('MQTT over TCP port (off: none):', flags['tcp-port'], portCheck('TCP port')), 'TCP port')
    const wsPort = parsePort(await ask('MQTT over WebSocket port (off: none):', flags['ws-port'], portCheck('WebSocket port')), 'WebSocket port')
    const wsPath = await ask('WebSocket path:', flags['ws-path'])
    const tls: TlsChoice = interactive ? await askSelect('TLS listeners (mqtts://, wss://)?', TLS_CHOICES, flags.tls) : flags.tls
    const answers: InitAnswers = {host, tcpPort, wsPort, wsPath, tls, passwordFile: flags['password-file'].startsWith('.') || isAbsolute(flags['password-file']) ? flags['password-file'] : `./${flags['password-file']}`}
    if (tls !== 'none') {
      answers.tlsPort = parsePort(await ask('MQTT over TLS port (off: none):', flags['tls-port'], portCheck('TLS port')), 'TLS port')
      answers.wssPort = parsePort(await ask('MQTT over secure WebSocket port (off: none):', flags['wss-port'], portCheck('WSS port')), 'WSS port')
    }
    if (tls === 'files') {
      const cert = await ask('Certificate file (PEM):', flags['tls-cert'] ?? '')
      const key = await ask('Private key file (PEM):', flags['tls-key'] ?? '')
      if (cert !== '') answers.tlsCert = fromFile(cert)
      if (key !== '') answers.tlsKey = fromFile(key)
    }
    let password = flags.password
    const wantUser = interactive ? await askConfirm('Require a user name and password?', flags.user !== undefined || !isLoopback(host)) : flags.user !== undefined
    if (wantUser) {
      answers.user = interactive ? await askDefault('First user name:', flags.user ?? '', (v) => (v.trim() === '' || v.includes(':') ? 'a name without ":"' : true)) : flags.user
      if (password === undefined && interactive) {
        password = await askSecret(`Password for ${answers.user}:`)
        if ((await askSecret('Again:')) !== password) throw new ConfigError('the two passwords do not match: nothing was written')
      }
      if (password === undefined || password === '') throw new ConfigError(`--user ${answers.user} needs a password: --password (or MQTTWS_PASSWORD)`)
    }
    const dataDir = interactive ? await askDefault('Data directory for durable sessions (empty: in memory):', flags['data-dir'] ?? '') : (flags['data-dir'] ?? '')
    if (dataDir !== '') answers.dataDir = fromFile(dataDir)
    const admin = await ask('Admin API and dashboard address (off: none):', flags.admin)
    if (!['off', 'no', 'none', 'false', ''].includes(admin.trim().toLowerCase())) {
      if (!/^http:\/\/[^/\s]+:\d+\/?$/.test(admin.trim())) throw new ConfigError(`admin address "${admin}" is not http://HOST:PORT (or off)`)
      answers.admin = admin.trim().replace(/\/$/, '')
    }
    checkAnswers(answers, flags['allow-anonymous'] === true)

    await mkdir(dir, {recursive: true})
    if (answers.user !== undefined) {
      const pwFile = resolve(dir, answers.passwordFile)
      const exists = existsSync(pwFile)
      if (exists && !flags.force) throw new ConfigError(`${pwFile} exists: add the user with \`mqttws passwd ${pwFile} ${answers.user}\`, or --force to replace the file`)
      await editPasswordFile(pwFile, {op: 'set', user: answers.user, password: password!}, {create: true})
      this.logToStderr(`wrote ${relative(process.cwd(), pwFile) || pwFile} with the user ${answers.user}`)
    }
    await writeFile(file, renderInitConfig(answers, flags['allow-anonymous'] === true, args.file), {mode: 0o600})
    this.logToStderr(`wrote ${args.file}: start the broker with \`mqttws serve --config ${args.file}\``)
  }
}
