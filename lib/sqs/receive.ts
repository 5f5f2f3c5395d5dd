/**
 * Receive and delete helpers for tests and local tooling (not used by the scheduler itself).
 * `receiveAll` short-polls (WaitTimeSeconds 0) up to 10 messages a call until it has `max` messages
 * or `waitMs` has passed. It does not delete or de-duplicate: a message received twice (its
 * visibility timeout ran out) appears twice.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'

export interface ReceivedMessage {
  messageId: string
  receiptHandle: string
  body: string
  /** System attributes (all of them), e.g. ApproximateReceiveCount, SentTimestamp. */
  attributes: Record<string, string>
}

export async function receiveAll(client: SQSClient, queueUrl: string, opts: { max: number; waitMs: number }): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = []
  const deadline = Date.now() + opts.waitMs
  while (out.length < opts.max) {
    const res = await client.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.min(10, opts.max - out.length),
      WaitTimeSeconds: 0,
      // Both spellings: SQS accepts either; some emulators only read the deprecated AttributeNames.
      AttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }))
    for (const m of res.Messages ?? []) {
      out.push({ messageId: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', body: m.Body ?? '', attributes: { ...m.Attributes } })
    }
    if (Date.now() >= deadline) break
    if (!res.Messages?.length) await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(0, deadline - Date.now()))))
  }
  return out
}

/** Deletes by receipt handle, 10 per DeleteMessageBatch call; returns the handles SQS failed to delete. */
export async function deleteMessages(client: SQSClient, queueUrl: string, receiptHandles: string[]): Promise<{ failed: string[] }> {
  const failed: string[] = []
  for (let start = 0; start < receiptHandles.length; start += 10) {
    const chunk = receiptHandles.slice(start, start + 10)
    const res = await client.send(new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: chunk.map((handle, i) => ({ Id: String(i), ReceiptHandle: handle })),
    }))
    for (const f of res.Failed ?? []) failed.push(chunk[Number(f.Id)]!)
  }
  return { failed }
}
