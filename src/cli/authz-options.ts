/**
 * `serve` flags for authorization, and the config file's `authorization` section (its ACL
 * file's path is relative to the config file). The ACL file is handed to the core by path:
 * it reads it at start and again on reload (SIGHUP, the admin API).
 */
import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import type {AuthorizationConfigInput} from '../core/authz/config.js'
import type {BrokerConfigInput} from '../core/config.js'

const AUTHZ = 'AUTHORIZATION'

export const serveAuthzFlags = {
  'acl-file': Flags.string({summary: 'ACL file in Mosquitto acl_file syntax (user, topic [read|write|readwrite|deny], pattern with %u/%c); re-read on SIGHUP.', helpGroup: AUTHZ, env: 'MQTTWS_ACL_FILE'}),
  'acl-no-match': Flags.option({
    options: ['allow', 'deny'] as const,
    summary: 'When no rule matches: deny (the default once an authenticator or ACL is configured) or allow.',
    helpGroup: AUTHZ,
  })(),
  'acl-deny-action': Flags.option({
    options: ['ignore', 'disconnect'] as const,
    summary: 'A PUBLISH that is not allowed: refused (ignore: MQTT 5 PUBACK/PUBREC 0x87, 3.1.1 dropped) or the client disconnected too.',
    helpGroup: AUTHZ,
  })(),
  'authz-http': Flags.string({summary: 'Ask this HTTP service what a client may do (EMQX contract: POST JSON with action, topic, qos, retain, clientid, username).', helpGroup: AUTHZ}),
}

export interface AuthzFlags {
  'acl-file'?: string
  'acl-no-match'?: string
  'acl-deny-action'?: string
  'authz-http'?: string
}

/** The config file's `authorization`: a relative aclFile is relative to the file. */
export function resolveAuthzFiles(authorization: unknown, baseDir: string): unknown {
  if (typeof authorization !== 'object' || authorization === null) return authorization
  const a = authorization as Record<string, unknown>
  return typeof a.aclFile === 'string' && a.aclFile !== '' ? {...a, aclFile: resolve(baseDir, a.aclFile)} : a
}

/** Applies the flags on top of the file's `authorization`. */
export function applyAuthzFlags(input: BrokerConfigInput, flags: AuthzFlags): void {
  const out: AuthorizationConfigInput = {...input.authorization}
  if (flags['acl-file'] !== undefined) out.aclFile = resolve(flags['acl-file'])
  if (flags['acl-no-match'] !== undefined) out.noMatch = flags['acl-no-match'] as AuthorizationConfigInput['noMatch']
  if (flags['acl-deny-action'] !== undefined) out.denyAction = flags['acl-deny-action'] as AuthorizationConfigInput['denyAction']
  if (flags['authz-http'] !== undefined) out.http = {...out.http, url: flags['authz-http']}
  if (Object.keys(out).length > 0) input.authorization = out
}
