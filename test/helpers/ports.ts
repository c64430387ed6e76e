import net from 'node:net'
import type {AddressInfo} from 'node:net'

/**
 * A loopback port that nothing listens on: bound to 127.0.0.1, then closed. A connection
 * to it is refused; a child process told to listen on it will most likely get it.
 */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
