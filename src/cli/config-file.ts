/**
 * --config FILE: YAML or JSON holding every setting of `serve`. TLS entries name PEM
 * files (relative to the config file); they are read here, so the core gets PEM text.
 */
import {readFile} from 'node:fs/promises'
import {dirname, extname, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'
import type {BrokerConfigInput, TlsMaterial} from '../core/config.js'
import {ConfigError} from '../core/errors.js'
import type {LogLevelName} from '../core/logger.js'
import {isLogLevel} from '../core/logger.js'
import {resolveAuthFiles} from './auth-options.js'
import {resolveAuthzFiles} from './authz-options.js'

/** TLS as written in a file or flags: paths to PEM files. */
export interface TlsPaths {
  cert?: string
  key?: string
  ca?: string
  /** mTLS: the CA of client certificates, and whether one is requested or required. */
  clientCa?: string
  clientCert?: string
}

export interface FileConfig {
  broker: BrokerConfigInput
  logLevel?: LogLevelName
  devCert?: boolean
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ConfigError(`${what} ${path} does not exist: check the path`)
    if (code === 'EACCES') throw new ConfigError(`${what} ${path} is not readable (EACCES): check its permissions`)
    if (code === 'EISDIR') throw new ConfigError(`${what} ${path} is a directory, not a file`)
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`)
  }
}

/** Reads the PEM files named by `paths`; `where` names the setting or flag in errors. */
export async function readTlsFiles(paths: TlsPaths, baseDir: string, where: string): Promise<TlsMaterial> {
  if (!paths.cert || !paths.key) {
    const missing = paths.cert ? 'key' : 'cert'
    throw new ConfigError(`${where}: a TLS ${missing} is missing: give both a certificate and its private key`)
  }
  const cert = await readText(resolve(baseDir, paths.cert), `TLS certificate file (${where} cert)`)
  const key = await readText(resolve(baseDir, paths.key), `TLS key file (${where} key)`)
  const ca = paths.ca ? await readText(resolve(baseDir, paths.ca), `TLS CA file (${where} ca)`) : undefined
  const out: TlsMaterial = ca === undefined ? {cert, key} : {cert, key, ca}
  if (paths.clientCa) out.clientCa = await readText(resolve(baseDir, paths.clientCa), `TLS client CA file (${where} clientCa)`)
  if (paths.clientCert !== undefined) out.clientCert = paths.clientCert as TlsMaterial['clientCert']
  return out
}

function tlsPathsOf(where: string, v: unknown): TlsPaths {
  if (!isObj(v)) throw new ConfigError(`setting "${where}" must be an object with cert, key and optionally ca (file paths)`)
  for (const k of Object.keys(v)) {
    if (!['cert', 'key', 'ca', 'clientCa', 'clientCert'].includes(k)) throw new ConfigError(`unknown setting "${where}.${k}": known settings here are cert, key, ca, clientCa, clientCert`)
    if (typeof v[k] !== 'string') throw new ConfigError(`setting "${where}.${k}" must be a file path`)
  }
  return v as TlsPaths
}

/** Loads and checks a config file; unknown keys are reported by resolveConfig with their path. */
export async function loadConfigFile(path: string): Promise<FileConfig> {
  const text = await readText(path, 'config file')
  const ext = extname(path).toLowerCase()
  let data: unknown
  try {
    data = ext === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`)
  }
  if (data === null || data === undefined) return {broker: {}}
  if (!isObj(data)) throw new ConfigError(`config file ${path} must hold an object of settings (host, listeners, ws, tls, limits, persistence, logLevel, devCert)`)
  const baseDir = dirname(resolve(path))
  const {logLevel, devCert, tls, listeners, ...rest} = data
  const out: FileConfig = {broker: rest as BrokerConfigInput}
  if (logLevel !== undefined) {
    if (typeof logLevel !== 'string' || !isLogLevel(logLevel)) {
      throw new ConfigError(`setting "logLevel" is ${JSON.stringify(logLevel)}: use error, warn, info or debug`)
    }
    out.logLevel = logLevel
  }
  if (devCert !== undefined) {
    if (typeof devCert !== 'boolean') throw new ConfigError(`setting "devCert" is ${JSON.stringify(devCert)}: it must be true or false`)
    out.devCert = devCert
  }
  if (tls !== undefined) out.broker.tls = await readTlsFiles(tlsPathsOf('tls', tls), baseDir, 'setting "tls"')
  // A relative data directory is relative to this file, as the TLS paths are.
  const persistence = rest.persistence
  if (isObj(persistence) && typeof persistence.dir === 'string' && persistence.dir !== '') {
    out.broker.persistence = {...(persistence as {dir: string}), dir: resolve(baseDir, persistence.dir)}
  }
  if (rest.auth !== undefined) out.broker.auth = (await resolveAuthFiles(rest.auth, baseDir)) as BrokerConfigInput['auth']
  if (rest.authorization !== undefined) out.broker.authorization = resolveAuthzFiles(rest.authorization, baseDir) as BrokerConfigInput['authorization']
  if (listeners !== undefined) {
    if (!Array.isArray(listeners)) throw new ConfigError('setting "listeners" must be a list of URLs or {url, id, ws, tls} objects')
    out.broker.listeners = await Promise.all(
      listeners.map(async (l: unknown, i: number) => {
        if (!isObj(l) || l.tls === undefined) return l as string
        const where = `listeners[${i}].tls`
        return {...l, tls: await readTlsFiles(tlsPathsOf(where, l.tls), baseDir, `setting "${where}"`)} as never
      }),
    )
  }
  return out
}
