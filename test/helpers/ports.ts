import net from 'node:net'
import type {AddressInfo} from 'node:net'

/**
 * A loopback port that nothing listens on: bound to 127.0.0.1, then closed. A connection
 * to it is refused; a child process told to listen on it will most likely get it.
 */
export async function closedPort(): Promise<number> {
  const [port] = await closedPorts(1)
  return port
}

/**
 * `n` distinct closed loopback ports. All are held open until the last is bound: the kernel
 * may hand out a port again as soon as it is closed, so closing one before binding the next
 * can return the same port twice (it did in CI).
 */
export async function closedPorts(n: number): Promise<number[]> {
  const servers = Array.from({length: n}, () => net.createServer())
  await Promise.all(servers.map((s) => new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(0, '127.0.0.1', resolve)
  })))
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  return ports
}
