/** Exit codes shared by every command (STYLE.md): documented in the README. */
import {ErrorCode, MqttwsError} from '../core/errors.js'

export const Exit = {
  Ok: 0,
  /** Runtime or transport failure. */
  Failure: 1,
  /** Usage or configuration error. */
  Usage: 2,
  /** The broker refused: CONNACK or SUBACK >= 0x80. */
  Refused: 3,
} as const

export function exitCodeFor(error: unknown): number {
  if (error instanceof MqttwsError) {
    if (error.code === ErrorCode.CONFIG || error.code === ErrorCode.USAGE) return Exit.Usage
    if (error.code === ErrorCode.AUTH || error.code === ErrorCode.REFUSED) return Exit.Refused
    return Exit.Failure
  }
  const oclif = (error as {oclif?: {exit?: number}}).oclif
  return oclif?.exit ?? Exit.Failure
}
