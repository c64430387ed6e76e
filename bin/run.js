#!/usr/bin/env node
// `pub` and `sub` skip oclif's start-up when that changes nothing: see src/cli/fast-start.ts.
// That code is CommonJS (dist/fast-start.cjs), loaded with require(): ES modules, node:* ones
// included, cost more to load, and this runs before every command.
let fastStart
try {
  // process.getBuiltinModule: Node >= 20.16.
  fastStart = process.getBuiltinModule?.('node:module').createRequire(import.meta.url)('../dist/fast-start.cjs').fastStart
} catch (error) {
  // A build by tsc alone has no quick start.
  if (error.code !== 'MODULE_NOT_FOUND') throw error
}

if (!(await fastStart?.(process.argv.slice(2), import.meta.url, (specifier) => import(specifier)))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
