import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {askSecret} from '../cli/prompt.js'
import {DEFAULT_ITERATIONS} from '../core/auth/password-hash.js'
import {editPasswordFile} from '../core/auth/password-file.js'
import {ConfigError} from '../core/errors.js'
import {SCRAM_DEFAULT_ITERATIONS, SCRAM_MIN_ITERATIONS} from '../core/auth/scram.js'
import type {ScramAlgorithm} from '../core/auth/scram.js'

export default class Passwd extends BaseCommand {
  static override summary = 'Add, update or delete a user in a password file (compatible with mosquitto_passwd).'
  static override description = `Lines are user:$7$ITERATIONS$SALT$HASH (PBKDF2-SHA512, ${DEFAULT_ITERATIONS} iterations, 16-byte salt): Mosquitto reads them, and serve --password-file reads files made by mosquitto_passwd.
On a terminal the password is asked twice; otherwise it is the first line of standard input, or the third argument with -b.
With --scram sha256|sha512 the line holds SCRAM credentials instead (user:$scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY, never the password; ${SCRAM_DEFAULT_ITERATIONS.sha256} / ${SCRAM_DEFAULT_ITERATIONS.sha512} iterations by default): the user can then log in with MQTT 5 enhanced authentication (SCRAM-SHA-256 or SCRAM-SHA-512) and with a plain password. Mosquitto does not read such lines.
A running serve picks up changes on SIGHUP or POST /api/v1/auth/reload.`

  static override examples = [
    {description: 'Create the file (mode 0600) with one user', command: '<%= config.bin %> <%= command.id %> -c ./passwd alice'},
    {description: 'Add or update a user without a prompt', command: '<%= config.bin %> <%= command.id %> -b ./passwd bob s3cret'},
    {description: 'From a script, the password on standard input', command: 'printf %s "$PW" | <%= config.bin %> <%= command.id %> ./passwd carol'},
    {description: 'Delete a user', command: '<%= config.bin %> <%= command.id %> -D ./passwd bob'},
    {description: 'A user who logs in with SCRAM-SHA-256 (MQTT 5 enhanced authentication)', command: '<%= config.bin %> <%= command.id %> --scram sha256 ./passwd dora'},
  ]

  static override args = {
    file: Args.string({description: 'The password file.', required: true, ignoreStdin: true}),
    user: Args.string({description: 'The user name.', required: true, ignoreStdin: true}),
    password: Args.string({description: 'The password (with -b only).', ignoreStdin: true}),
  }

  static override flags = {
    batch: Flags.boolean({char: 'b', summary: 'Take the password from the command line (as mosquitto_passwd -b).'}),
    create: Flags.boolean({char: 'c', summary: 'Create the file (mode 0600), replacing one that exists.', exclusive: ['delete']}),
    delete: Flags.boolean({char: 'D', summary: 'Delete the user.'}),
    iterations: Flags.integer({summary: `PBKDF2 iterations (default ${DEFAULT_ITERATIONS}; with --scram: ${SCRAM_DEFAULT_ITERATIONS.sha256} for sha256, ${SCRAM_DEFAULT_ITERATIONS.sha512} for sha512, at least ${SCRAM_MIN_ITERATIONS}).`, min: 1000, max: 10_000_000}),
    scram: Flags.option({options: ['sha256', 'sha512'] as const, summary: 'Write SCRAM credentials (SCRAM-SHA-256 or SCRAM-SHA-512) instead of a $7$ hash.', exclusive: ['delete']})(),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Passwd)
    if (flags.delete) {
      if (args.password !== undefined) throw new ConfigError('-D takes no password: mqttws passwd -D FILE USER')
      await editPasswordFile(args.file, {op: 'delete', user: args.user})
      this.logToStderr(`deleted ${args.user} from ${args.file}`)
      return
    }
    const password = flags.batch ? args.password : await this.readPassword(args.password)
    if (password === undefined || password === '') throw new ConfigError('-b needs the password as the third argument: mqttws passwd -b FILE USER PASSWORD')
    const scram = flags.scram as ScramAlgorithm | undefined
    if (scram !== undefined && flags.iterations !== undefined && flags.iterations < SCRAM_MIN_ITERATIONS) {
      throw new ConfigError(`--iterations ${flags.iterations} is too few for SCRAM: RFC 7677 asks for at least ${SCRAM_MIN_ITERATIONS}`)
    }
    const {added} = await editPasswordFile(args.file, {op: 'set', user: args.user, password, iterations: flags.iterations, scram}, {create: flags.create})
    this.logToStderr(`${added ? 'added' : 'updated'} ${args.user} in ${args.file}`)
  }

  private async readPassword(given: string | undefined): Promise<string> {
    if (given !== undefined) throw new ConfigError('a password on the command line needs -b: mqttws passwd -b FILE USER PASSWORD')
    if (process.stdin.isTTY) {
      const first = await askSecret('Password:')
      const second = await askSecret('Reenter password:')
      if (first !== second) throw new ConfigError('the two passwords do not match: nothing was changed')
      return first
    }
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]
    if (line === '') throw new ConfigError('no password on standard input: pipe one in, or use -b FILE USER PASSWORD')
    return line
  }
}
