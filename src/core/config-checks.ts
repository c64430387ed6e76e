/** The checks of the broker configuration's settings (config.ts, listener-config.ts): each error names the setting and its value. */
import {ConfigError} from './errors.js'

export type Obj = Record<string, unknown>

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function checkKeys(where: string, value: Obj, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const at = where ? `${where}.${key}` : key
      throw new ConfigError(`unknown setting "${at}": known settings here are ${allowed.join(', ')}`)
    }
  }
}

export function intIn(where: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be a whole number from ${min} to ${max}`)
  }
  return v
}

export function bool(where: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be true or false`)
  return v
}

export function str(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: it must be a non-empty string`)
  return v
}

export function oneOf<T extends string>(where: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`setting "${where}" is ${JSON.stringify(v)}: use one of ${allowed.join(', ')}`)
  }
  return v as T
}
