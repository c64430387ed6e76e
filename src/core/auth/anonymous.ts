/** Anonymous access: allowed on loopback listeners, elsewhere only when asked for explicitly (fail closed). */

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h)
}

/** Why a listener with no authenticator must not start, or undefined when it may. */
export function anonymousListenerProblem(listener: {id: string; host: string}, allowAnonymous: boolean): string | undefined {
  if (allowAnonymous || isLoopbackHost(listener.host)) return undefined
  return (
    `listener ${listener.id} binds ${listener.host}, which is not loopback, and no authentication is configured: anyone who can reach it could connect. ` +
    'Add a password file (--password-file FILE, made with "mqttws passwd -c FILE USER") or another authenticator, ' +
    'or allow anonymous clients explicitly with --allow-anonymous (auth.allowAnonymous: true in the config file)'
  )
}
