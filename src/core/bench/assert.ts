/**
 * --assert 'EXPR': a tiny, safe expression language over the bench figures (no eval).
 * Numbers, names like `msgs_per_s` or `ws.p99_ms`, + - * /, comparisons, && || !, parentheses.
 */
import {ConfigError} from '../errors.js'

type Token = {kind: 'num'; value: number} | {kind: 'name'; value: string} | {kind: 'op'; value: string}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  const re = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|(<=|>=|==|!=|&&|\|\||[-+*/<>()!]))/y
  let i = 0
  while (i < text.length) {
    if (/^\s*$/.test(text.slice(i))) break
    re.lastIndex = i
    const m = re.exec(text)
    if (!m) throw new ConfigError(`--assert '${text}': cannot read "${text.slice(i).trim()}"`)
    if (m[1] !== undefined) tokens.push({kind: 'num', value: Number(m[1])})
    else if (m[2] !== undefined) tokens.push({kind: 'name', value: m[2]})
    else tokens.push({kind: 'op', value: m[3]})
    i = re.lastIndex
  }
  return tokens
}

export interface Assertion {
  text: string
  /** The figure names the expression reads (checked against the run's before it starts). */
  names: string[]
  /** Evaluates against the figures; throws ConfigError for an unknown name. */
  evaluate(scope: Record<string, number>): {ok: boolean; detail: string}
}

type Node = (scope: Record<string, number>, seen: Map<string, number>) => number

export function parseAssertion(text: string): Assertion {
  const tokens = tokenize(text)
  let pos = 0
  const names = tokens.flatMap((t) => (t.kind === 'name' ? [t.value] : []))
  const peek = (): Token | undefined => tokens[pos]
  const isOp = (v: string): boolean => {
    const t = peek()
    return t?.kind === 'op' && t.value === v
  }
  const fail = (what: string): never => {
    throw new ConfigError(`--assert '${text}': ${what}`)
  }
  const binary = (next: () => Node, ops: string[], apply: (op: string, a: number, b: number) => number): (() => Node) => {
    return () => {
      let left = next()
      for (;;) {
        const t = peek()
        if (t?.kind !== 'op' || !ops.includes(t.value)) return left
        pos++
        const right = next()
        const l = left
        const op = t.value
        left = (s, seen) => apply(op, l(s, seen), right(s, seen))
      }
    }
  }
  const atom = (): Node => {
    const t = peek()
    if (!t) return fail('the expression ends too early')
    pos++
    if (t.kind === 'num') return () => t.value
    if (t.kind === 'name') {
      const name = t.value
      return (scope, seen) => {
        if (!(name in scope)) {
          throw new ConfigError(`--assert '${text}': unknown figure "${name}"; known: ${Object.keys(scope).join(', ')}`)
        }
        seen.set(name, scope[name])
        return scope[name]
      }
    }
    if (t.value === '(') {
      const inner = or()
      if (!isOp(')')) fail('a ) is missing')
      pos++
      return inner
    }
    if (t.value === '-') {
      const inner = atom()
      return (s, seen) => -inner(s, seen)
    }
    if (t.value === '!') {
      const inner = atom()
      return (s, seen) => (inner(s, seen) ? 0 : 1)
    }
    return fail(`unexpected "${t.value}"`)
  }
  const product = binary(atom, ['*', '/'], (op, a, b) => (op === '*' ? a * b : a / b))
  const sum = binary(product, ['+', '-'], (op, a, b) => (op === '+' ? a + b : a - b))
  const compare = binary(sum, ['<', '<=', '>', '>=', '==', '!='], (op, a, b) => {
    const r = op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : op === '>=' ? a >= b : op === '==' ? a === b : a !== b
    return r ? 1 : 0
  })
  const and = binary(compare, ['&&'], (_op, a, b) => (a && b ? 1 : 0))
  const or = binary(and, ['||'], (_op, a, b) => (a || b ? 1 : 0))
  const root = or()
  if (pos < tokens.length) fail(`unexpected "${(tokens[pos] as {value: unknown}).value}"`)
  if (tokens.length === 0) fail('the expression is empty')
  return {
    text,
    names,
    evaluate(scope) {
      const seen = new Map<string, number>()
      const ok = root(scope, seen) !== 0
      const detail = [...seen].map(([k, v]) => `${k} = ${v}`).join(', ')
      return {ok, detail}
    },
  }
}
