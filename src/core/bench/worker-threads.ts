/**
 * Starting and closing the bench's worker threads, for the publishers and the subscribers
 * alike: the clients shared out as evenly as they divide, every thread awaited until ready
 * (all closed again if one fails), and each asked to close, terminated if it does not.
 */
import {Worker} from 'node:worker_threads'

/** The clients one worker runs: first..first+count-1 of all. */
export interface WorkerShare {
  worker: number
  first: number
  count: number
}

/** How long a worker asked to close has before it is terminated. */
const CLOSE_MS = 3000

/**
 * Starts `workers` threads of `script` over `clients` clients, each with job(share) as its
 * workerData; `ready(worker)` is called at once for each and says when it is ready. Resolves
 * once all are; if one fails, `close()` runs first and the error is thrown.
 */
export async function startWorkers(
  script: URL,
  workers: number,
  clients: number,
  job: (share: WorkerShare) => unknown,
  ready: (worker: Worker) => Promise<unknown>,
  close: () => Promise<void>,
): Promise<void> {
  const per = Math.floor(clients / workers)
  const extra = clients % workers
  const readies: Array<Promise<unknown>> = []
  let first = 0
  for (let w = 0; w < workers; w++) {
    const count = per + (w < extra ? 1 : 0)
    const worker = new Worker(script, {workerData: job({worker: w, first, count})})
    first += count
    readies.push(ready(worker))
  }
  try {
    await Promise.all(readies)
  } catch (error) {
    await close()
    throw error
  }
}

/** Asks every worker to close; one that has not exited within CLOSE_MS is terminated. */
export async function closeWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => void w.terminate().then(() => resolve()), CLOSE_MS)
          w.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          w.postMessage('close')
        }),
    ),
  )
}
