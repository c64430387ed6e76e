/**
 * Interactive prompts (the only inquirer importer). Only with a terminal on both ends and
 * no machine-readable output asked for: scripts get a usage error instead, never a prompt.
 */
export function canPrompt(machineOutput: boolean): boolean {
  return !machineOutput && process.stdin.isTTY === true && process.stdout.isTTY === true
}

export async function askText(message: string, validate?: (value: string) => true | string): Promise<string> {
  // Loaded on demand: inquirer is heavy, and most runs never prompt.
  const {default: inquirer} = await import('inquirer')
  const answer = await inquirer.prompt<{value: string}>([
    {type: 'input', name: 'value', message, validate: validate ?? ((v: string) => (v.trim() === '' ? 'a value is needed' : true))},
  ])
  return answer.value
}

/** Asks for a secret without echoing it. */
export async function askSecret(message: string): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  const answer = await inquirer.prompt<{value: string}>([{type: 'password', name: 'value', message, mask: '*'}])
  return answer.value
}

/** Asks yes or no. */
export async function askConfirm(message: string, defaultValue: boolean): Promise<boolean> {
  const {default: inquirer} = await import('inquirer')
  const answer = await inquirer.prompt<{value: boolean}>([{type: 'confirm', name: 'value', message, default: defaultValue}])
  return answer.value
}

/** Asks for one of `choices` (value and the text shown). */
export async function askSelect<T extends string>(message: string, choices: ReadonlyArray<{value: T; name: string}>, defaultValue: T): Promise<T> {
  const {default: inquirer} = await import('inquirer')
  const answer = await inquirer.prompt<{value: T}>([{type: 'select', name: 'value', message, choices: [...choices], default: defaultValue}])
  return answer.value
}

/** Asks for text with a default (Enter keeps it). */
export async function askDefault(message: string, defaultValue: string, validate?: (value: string) => true | string): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  const answer = await inquirer.prompt<{value: string}>([{type: 'input', name: 'value', message, default: defaultValue, validate: validate ?? (() => true)}])
  return answer.value
}
