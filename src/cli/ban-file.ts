/**
 * With a data directory (serve --data-dir), the bans added at run time (admin API, `mqttws
 * banned add`, flapping) are kept in DIR/bans.json and loaded again at start, so that they
 * outlive a restart; the config file's bans stay the config file's. Written whole after each
 * change (a temporary file, then rename), at most once per event-loop turn.
 */
import {readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import type {Broker} from '../core/broker/broker.js'
import type {BanInfo, BanSource} from '../core/guard/bans.js'
import {banInfo} from '../core/guard/bans.js'
import {resolveBan} from '../core/guard/config.js'
import type {Logger} from '../core/logger.js'

export const BAN_FILE = 'bans.json'

/** Loads DIR/bans.json into the broker's bans and saves them there after every change. */
export async function keepBansIn(dir: string, broker: Broker, logger: Logger): Promise<void> {
  const file = join(dir, BAN_FILE)
  let text: string | undefined
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('bans file not read: the bans added at run time before are not restored', {file, error: (error as Error).message})
  }
  let loaded = 0
  if (text !== undefined) {
    try {
      const list = (JSON.parse(text) as {bans?: BanInfo[]}).bans ?? []
      const now = Date.now()
      list.forEach((b, i) => {
        if (b.until !== null && Date.parse(b.until) <= now) return
        const spec = resolveBan({[b.kind]: b.value, regex: b.regex, ...(b.until === null ? {} : {until: b.until}), ...(b.reason === null ? {} : {reason: b.reason})}, `${file} bans[${i}]`)
        broker.guard.bans.add(spec, b.source as BanSource, Date.parse(b.createdAt) || now)
        loaded++
      })
    } catch (error) {
      logger.warn('bans file not usable: the bans added at run time before are not restored', {file, error: (error as Error).message})
    }
  }
  if (loaded > 0) logger.info('bans restored', {file, bans: loaded})
  let pending = false
  const save = (): void => {
    pending = false
    const bans = broker.guard.bans.list().filter((b) => b.source !== 'config').map(banInfo)
    const tmp = `${file}.tmp`
    writeFile(tmp, `${JSON.stringify({bans}, null, 1)}\n`, {mode: 0o600})
      .then(() => rename(tmp, file))
      .catch((error: Error) => logger.error('bans not saved', {file, error: error.message}))
  }
  broker.guard.watch(() => {
    if (pending) return
    pending = true
    setImmediate(save)
  })
}
