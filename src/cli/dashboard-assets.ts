/**
 * The dashboard's files, built by `npm run build` (scripts/build-dashboard.mjs) into
 * dist/dashboard/: read once when serve starts and handed to the admin API, which serves
 * them from memory. Absent (a source checkout that was not built): no dashboard.
 */
import {readFile, readdir} from 'node:fs/promises'
import {extname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {DashboardAsset} from '../core/admin/server.js'

/** dist/cli/ → dist/dashboard/ (also src/cli/ → src/../dist/dashboard/ under tsx). */
const CANDIDATES = [new URL('../dashboard/', import.meta.url), new URL('../../dist/dashboard/', import.meta.url)]

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

export async function loadDashboard(): Promise<Map<string, DashboardAsset> | undefined> {
  for (const url of CANDIDATES) {
    const dir = fileURLToPath(url)
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      continue
    }
    if (!names.includes('index.html')) continue
    const assets = new Map<string, DashboardAsset>()
    for (const name of names) {
      const type = TYPES[extname(name)]
      if (type !== undefined) assets.set(`/${name}`, {type, body: await readFile(join(dir, name))})
    }
    return assets
  }
  return undefined
}
