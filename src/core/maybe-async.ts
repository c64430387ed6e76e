/**
 * Values that are usually ready at once and sometimes not (an authenticator that needs no
 * outside service, a session already in memory). The CONNECT path takes them as they come:
 * a ready value goes on in the same turn, without a promise, a microtask or a paused stream.
 */
export type MaybePromise<T> = T | Promise<T>

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as {then?: unknown} | undefined)?.then === 'function'
}
