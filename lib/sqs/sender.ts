/**
 * The SQS adapter behind `SqsSender` (lib/dispatch.ts), the only module in lib/ that imports the
 * AWS SDK. `send` packs messages into SendMessageBatch calls (≤ 10 entries, ≤ 256 KiB of bodies),
 * runs up to `concurrency` calls at once and reports the run ids that were not sent: entries SQS
 * listed as failed (or did not list as successful), and every entry of a call that threw. Batch
 * entry Ids are the message's index in the batch, since run ids may hold `@`, which SQS rejects.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs'
import type { OutboundMessage, SqsSender } from '../dispatch.ts'

const MAX_ENTRIES = 10
const MAX_BATCH_BYTES = 256 * 1024

export interface SqsBatchSenderOptions {
  client: SQSClient
  /** The SQS queue URL of a dueq queue; may throw for an unknown queue (then `send` rejects). */
  queueUrl: (queue: string) => string
  /** SendMessageBatch calls in flight per `send`; default 8. */
  concurrency?: number
}

export class SqsBatchSender implements SqsSender {
  private readonly concurrency: number

  constructor(private readonly o: SqsBatchSenderOptions) {
    this.concurrency = Math.max(1, Math.floor(o.concurrency ?? 8))
  }

  async send(queue: string, messages: OutboundMessage[]): Promise<{ failed: string[] }> {
    if (messages.length === 0) return { failed: [] }
    const url = this.o.queueUrl(queue)
    const batches = splitBatches(messages)
    const failed: string[] = []
    let next = 0
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!
        try {
          const out = await this.o.client.send(new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: batch.map((m, i) => ({ Id: String(i), MessageBody: m.body })),
          }))
          const ok = new Set((out.Successful ?? []).map((e) => e.Id))
          const bad = new Set((out.Failed ?? []).map((e) => e.Id))
          batch.forEach((m, i) => { if (bad.has(String(i)) || !ok.has(String(i))) failed.push(m.id) })
        } catch {
          for (const m of batch) failed.push(m.id)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker))
    return { failed }
  }
}

/** Groups messages in order: a new batch at 10 entries or when the next body would pass 256 KiB. */
function splitBatches(messages: OutboundMessage[]): OutboundMessage[][] {
  const batches: OutboundMessage[][] = []
  let current: OutboundMessage[] = []
  let bytes = 0
  for (const m of messages) {
    const size = Buffer.byteLength(m.body, 'utf8')
    if (current.length > 0 && (current.length === MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}

/** One URL for every queue, or a map queue → URL that throws for a queue it does not list. */
export function sqsQueueUrlResolver(map: Record<string, string> | string): (queue: string) => string {
  if (typeof map === 'string') return () => map
  const urls = new Map(Object.entries(map))
  return (queue) => {
    const url = urls.get(queue)
    if (url === undefined) throw new Error(`No SQS queue URL configured for dueq queue "${queue}" (known: ${[...urls.keys()].join(', ') || 'none'})`)
    return url
  }
}
