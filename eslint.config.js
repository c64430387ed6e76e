// ESLint for src/: the recommended rules that find bugs (JavaScript and typescript-eslint),
// import cycles, and no console output from src/core (it logs through an injected Logger).
// Formatting is not linted. Type errors are tsc's job (tsconfig.lint.json); typescript-eslint's
// recommended set already turns off the core rules that TypeScript covers. Run with `npm run lint`.
import js from '@eslint/js'
import {createTypeScriptImportResolver} from 'eslint-import-resolver-typescript'
import {importX} from 'eslint-plugin-import-x'
import {defineConfig} from 'eslint/config'
import tseslint from 'typescript-eslint'

export default defineConfig(
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    plugins: {'import-x': importX},
    settings: {
      // import-x reads the imported modules too: parse .ts files, and resolve the `.js`
      // specifiers of relative imports to the `.ts` sources.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': {'@typescript-eslint/parser': ['.ts']},
      'import-x/resolver-next': [createTypeScriptImportResolver({project: './tsconfig.json'})],
    },
    rules: {
      // Runtime cycles only: import-x skips `import type`, which is erased.
      'import-x/no-cycle': ['error', {ignoreExternal: true}],
      // `_name` marks a parameter kept for its position; `{omitted: _, ...rest}` drops a key.
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', ignoreRestSiblings: true}],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {'no-console': 'error'},
  },
)
