/**
 * Passwords and tokens that stay out of the shell history (pub, sub, bench): from a file
 * (--password-from-file FILE: its first line) or from an environment variable named on the
 * command line (--password-env VAR), besides -P and MQTTWS_PASSWORD. Read here, never by the core.
 */
import {readFile} from 'node:fs/promises'
import {Flags} from '@oclif/core'
import {ConfigError} from '../core/errors.js'

/** The password options (and the SCRAM method), in the help group of the command that takes them. */
export function secretFlagsIn(helpGroup: string) {
  return {
    'password-from-file': Flags.string({
      summary: 'Read the password (or JWT) from the first line of FILE, so it is not in the shell history (not to be confused with serve --password-file).',
      helpGroup,
    }),
    'password-env': Flags.string({summary: 'Read the password (or JWT) from the environment variable VAR (MQTTWS_PASSWORD is read without this flag).', helpGroup}),
    'auth-method': Flags.option({
      options: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const,
      summary: 'MQTT 5 enhanced authentication with -u and the password: SCRAM-SHA-256 or SCRAM-SHA-512 (the password never goes to the broker).',
      helpGroup,
    })(),
  }
}

export const secretFlags = secretFlagsIn('CONNECTION')

export interface SecretFlagValues {
  password?: string
  'password-from-file'?: string
  'password-env'?: string
}

/** The password: --password-from-file, else --password-env, else -P (or MQTTWS_PASSWORD); errors name the file or variable and what to do. */
export async function resolvePassword(f: SecretFlagValues, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const file = f['password-from-file']
  const name = f['password-env']
  if (file !== undefined && name !== undefined) throw new ConfigError('give the password one way: --password-from-file FILE or --password-env VAR, not both')
  if (file !== undefined) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const what = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable (EACCES): check its owner and mode' : (error as Error).message
      throw new ConfigError(`--password-from-file ${file}: ${what}; give a file whose first line is the password (e.g. made with: umask 077; printf %s "$PW" > ${file})`)
    }
    const line = text.split(/\r?\n/)[0]
    if (line === '') throw new ConfigError(`--password-from-file ${file}: the first line is empty; put the password (or token) on it`)
    return line
  }
  if (name !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError(`--password-env "${name}" is not a variable name: give the name (e.g. --password-env BROKER_PW), not the value`)
    const value = env[name]
    if (value === undefined || value === '') throw new ConfigError(`--password-env ${name}: the variable ${name} is ${value === undefined ? 'not set' : 'empty'}; set it first (e.g. read -rs ${name}; export ${name})`)
    return value
  }
  return f.password
}
