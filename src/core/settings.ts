/**
 * Validators for configuration sections (auth, authorization): each takes the setting's
 * dotted name and its value, and throws a ConfigError that names both and says what to write.
 */
import {ConfigError} from './errors.js'

export type Obj = Record<string, unknown>
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export function fail(where: string, value: unknown, what: string): never {
  throw new ConfigError(`setting "${where}" is ${JSON.stringify(value)}: ${what}`)
}

/** Throws on a key that is not one of `known`. */
export function knownKeys(where: string, value: Obj, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ConfigError(`unknown setting "${where}.${key}": known settings here are ${known.join(', ')}`)
  }
}

export function str(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') fail(where, v, 'it must be a non-empty string')
  return v
}

export function bool(where: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') fail(where, v, 'it must be true or false')
  return v
}

export function oneOf<T extends string>(where: string, v: unknown, options: readonly T[], dflt: T): T {
  if (v === undefined) return dflt
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) fail(where, v, `use ${options.join(' or ')}`)
  return v as T
}

export function ms(where: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2_147_483_647) fail(where, v, `it must be a whole number of milliseconds, at least ${min}`)
  return v
}

/** A whole number from `min` to `max`; `what` says in which unit and gives an example. */
export function intIn(where: string, v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(where, v, what)
  return v
}

export function stringMap(where: string, v: unknown): Readonly<Record<string, string>> | undefined {
  if (v === undefined) return undefined
  if (!isObj(v) || !Object.values(v).every((s) => typeof s === 'string')) fail(where, v, 'it must be an object of names to strings')
  return Object.freeze({...(v as Record<string, string>)})
}

export function httpUrl(where: string, v: unknown): string {
  const text = str(where, v)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    fail(where, v, 'it must be an http:// or https:// URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(where, v, 'it must be an http:// or https:// URL')
  return text
}

/** A string or a non-empty list of strings, as a list; undefined when absent. */
export function strings(where: string, v: unknown): readonly string[] | undefined {
  if (v === undefined) return undefined
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== '')) fail(where, v, 'it must be a string or a non-empty list of strings')
  return Object.freeze([...(list as string[])])
}
