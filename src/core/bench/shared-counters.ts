/** Layout of the memory the main thread and publisher workers share (Int32 slots). */
export const SHARED_RECEIVED = 0
export const SHARED_WRITTEN_OFF = 1
/** Slot of worker 0's sent count; worker w uses SHARED_SENT + w. */
export const SHARED_SENT = 2

export type WorkerReport =
  | {type: 'ready'; bytes: number}
  | {type: 'error'; message: string}
  | {type: 'finished'}
  | {type: 'done'; sent: number; pubErrors: number; outstanding: number; bytes: number}
