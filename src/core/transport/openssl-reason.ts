/** OpenSSL's errors in words, for the broker's log (tls-failure.ts) and the client's errors (dial-errors.ts). */

/** OpenSSL's reason ("wrong version number"), without its internals ("80EC…:error:0A00010B:SSL routines:…:350:\n"). */
export function opensslReason(error: NodeJS.ErrnoException): string {
  const own = (error as {reason?: unknown}).reason
  if (typeof own === 'string' && own !== '') return own
  return /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(error.message)?.[1] ?? error.message.split('\n')[0].trim()
}
