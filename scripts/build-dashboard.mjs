#!/usr/bin/env node
/**
 * The dashboard (src/dashboard) → dist/dashboard/, in `npm run build`: esbuild bundles the
 * Preact app into app.js, and the WebSocket client page with MQTT.js's browser bundle into a
 * chunk loaded when that page is first opened; app.css is minified; index.html links both.
 * Everything the dashboard needs is in the package: no CDN, works offline.
 */
import {mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'
import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src/dashboard')
const out = join(root, 'dist/dashboard')
rmSync(out, {recursive: true, force: true})
mkdirSync(out, {recursive: true})

await build({
  entryPoints: {app: join(src, 'main.tsx')},
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  chunkNames: 'chunk-[hash]',
  define: {'process.env.NODE_ENV': '"production"'},
  legalComments: 'none',
  logLevel: 'warning',
})
await build({entryPoints: [join(src, 'app.css')], outfile: join(out, 'app.css'), bundle: true, minify: true, logLevel: 'warning'})

writeFileSync(
  join(out, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>mqttws dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`,
)
writeFileSync(
  join(out, 'favicon.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M8 22V10l8 7 8-7v12" stroke="#fff" stroke-width="2.6" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>\n',
)

const files = readdirSync(out)
const kb = (n) => `${(n / 1024).toFixed(0)} kB`
const sizes = files.map((f) => {
  const body = readFileSync(join(out, f))
  return {f, n: body.length, gz: gzipSync(body).length}
})
const total = sizes.reduce((n, s) => n + s.n, 0)
const gz = sizes.reduce((n, s) => n + s.gz, 0)
console.log(`dashboard: ${relative(root, out)}/ ${kb(total)} (${kb(gz)} gzipped): ${sizes.map((s) => `${s.f} ${kb(s.n)}`).join(', ')}`)
