/**
 * SqsBatchSender against the local-aws-sqs emulator, plus fake clients for what the emulator cannot
 * be made to do on demand (throttling, per-entry failures, slow calls).
 */
import { randomBytes } from 'node:crypto'
import { CreateQueueCommand, type SendMessageBatchCommand, type SendMessageBatchCommandOutput, type SQSClient } from '@aws-sdk/client-sqs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboundMessage } from '../../lib/dispatch.ts'
import { deleteMessages, receiveAll } from '../../lib/sqs/receive.ts'
import { SqsBatchSender, sqsQueueUrlResolver } from '../../lib/sqs/sender.ts'
import { startSqs, type LocalSqs } from '../support/sqs.ts'

type BatchInput = SendMessageBatchCommand['input']
type BatchOutput = Pick<SendMessageBatchCommandOutput, 'Successful' | 'Failed'>

/** A stand-in SQSClient whose SendMessageBatch answers come from `reply`; records every call's input. */
function fakeClient(reply: (input: BatchInput, call: number) => Promise<BatchOutput> | BatchOutput) {
  const calls: BatchInput[] = []
  const client = {
    async send(command: SendMessageBatchCommand) {
      calls.push(command.input)
      return reply(command.input, calls.length - 1)
    },
  } as unknown as SQSClient
  return { client, calls }
}

/** Passes calls through to a real client, recording each call's entry count. */
function countingClient(real: SQSClient) {
  const calls: number[] = []
  const client = {
    send(command: SendMessageBatchCommand) {
      calls.push(command.input.Entries?.length ?? 0)
      return real.send(command)
    },
  } as unknown as SQSClient
  return { client, calls }
}

/** Every entry of the call succeeds. */
const allOk = (input: BatchInput): BatchOutput => ({
  Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id!, MessageId: `m-${e.Id}`, MD5OfMessageBody: '' })),
  Failed: [],
})

const messages = (n: number, prefix = 'run', body = (i: number) => `body-${i}`): OutboundMessage[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, body: body(i) }))

const uniq = (base: string) => `${base}-${randomBytes(4).toString('hex')}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('SqsBatchSender (emulator)', () => {
  let sqs: LocalSqs
  beforeAll(async () => { sqs = await startSqs() })
  afterAll(async () => { await sqs?.close() })

  it('delivers 25 messages to one queue exactly once each, in 3 calls', async () => {
    const q = await sqs.createQueue(uniq('one'))
    const { client, calls } = countingClient(sqs.client)
    const sent = messages(25)
    const result = await new SqsBatchSender({ client, queueUrl: sqsQueueUrlResolver(q.url) }).send('default', sent)
    expect(result.failed).toEqual([])
    expect(calls).toEqual([10, 10, 5])

    const got = await receiveAll(sqs.client, q.url, { max: 100, waitMs: 600 })
    expect(got).toHaveLength(25)
    expect(new Set(got.map((m) => m.messageId)).size).toBe(25)
    expect(got.map((m) => m.body).sort()).toEqual(sent.map((m) => m.body).sort())
    expect(got.every((m) => m.attributes.ApproximateReceiveCount === '1')).toBe(true)
    expect((await deleteMessages(sqs.client, q.url, got.map((m) => m.receiptHandle))).failed).toEqual([])
    expect(await receiveAll(sqs.client, q.url, { max: 1, waitMs: 200 })).toEqual([])
  })

  it('accepts run ids with @ (batch entry Ids are indexes, not run ids)', async () => {
    const q = await sqs.createQueue(uniq('at'))
    const sent = [
      { id: 'abc123@1767225600000', body: JSON.stringify({ v: 1, ns: 'n', run: 'abc123@1767225600000' }) },
      { id: 'abc123@1767225660000', body: JSON.stringify({ v: 1, ns: 'n', run: 'abc123@1767225660000' }) },
      { id: 'x'.repeat(120), body: 'long id' },
    ]
    const result = await new SqsBatchSender({ client: sqs.client, queueUrl: () => q.url }).send('default', sent)
    expect(result.failed).toEqual([])
    const got = await receiveAll(sqs.client, q.url, { max: 3, waitMs: 1000 })
    expect(got.map((m) => m.body).sort()).toEqual(sent.map((m) => m.body).sort())
  })

  it('routes each dueq queue to its own SQS queue through a queue map', async () => {
    const a = await sqs.createQueue(uniq('a'))
    const b = await sqs.createQueue(uniq('b'))
    const sender = new SqsBatchSender({ client: sqs.client, queueUrl: sqsQueueUrlResolver({ emails: a.url, reports: b.url }) })
    expect((await sender.send('emails', messages(3, 'e', (i) => `email-${i}`))).failed).toEqual([])
    expect((await sender.send('reports', messages(12, 'r', (i) => `report-${i}`))).failed).toEqual([])
    const gotA = await receiveAll(sqs.client, a.url, { max: 100, waitMs: 400 })
    const gotB = await receiveAll(sqs.client, b.url, { max: 100, waitMs: 400 })
    expect(gotA.map((m) => m.body).sort()).toEqual(['email-0', 'email-1', 'email-2'])
    expect(gotB.map((m) => m.body).sort()).toEqual(messages(12, 'r', (i) => `report-${i}`).map((m) => m.body).sort())
  })

  it('rejects with a message naming the queue when the queue map lacks it, before any call', async () => {
    const { client, calls } = fakeClient(allOk)
    const sender = new SqsBatchSender({ client, queueUrl: sqsQueueUrlResolver({ emails: 'http://x/1/emails' }) })
    await expect(sender.send('billing', messages(2))).rejects.toThrow(/"billing".*known: emails/)
    expect(calls).toHaveLength(0)
    expect(() => sqsQueueUrlResolver({})('any')).toThrow(/"any".*known: none/)
    expect(sqsQueueUrlResolver('http://x/1/all')('whatever')).toBe('http://x/1/all')
  })

  it('reports entries SQS itself rejects (emulator, MaximumMessageSize 1024) and sends the rest', async () => {
    const { QueueUrl } = await sqs.client.send(new CreateQueueCommand({ QueueName: uniq('small'), Attributes: { MaximumMessageSize: '1024' } }))
    const sent = messages(6, 'run', (i) => (i % 3 === 1 ? 'y'.repeat(2000) : `ok-${i}`)) // run1, run4 too big
    const result = await new SqsBatchSender({ client: sqs.client, queueUrl: () => QueueUrl! }).send('default', sent)
    expect(result.failed.sort()).toEqual(['run1', 'run4'])
    const got = await receiveAll(sqs.client, QueueUrl!, { max: 100, waitMs: 400 })
    expect(got.map((m) => m.body).sort()).toEqual(['ok-0', 'ok-2', 'ok-3', 'ok-5'])
  })

  it('splits large bodies by the 256 KiB batch limit and all of them arrive', async () => {
    const q = await sqs.createQueue(uniq('big'))
    const { client, calls } = countingClient(sqs.client)
    const sent = messages(12, 'big', (i) => String(i).padEnd(30 * 1024, '.'))
    expect((await new SqsBatchSender({ client, queueUrl: () => q.url, concurrency: 1 }).send('default', sent)).failed).toEqual([])
    expect(calls).toEqual([8, 4]) // 8 × 30 KiB = 240 KiB; a 9th would pass 256 KiB (by count alone: [10, 2])
    const got = await receiveAll(sqs.client, q.url, { max: 100, waitMs: 600 })
    expect(got.map((m) => m.body).sort()).toEqual(sent.map((m) => m.body).sort())
  })

  it('moves a message to the DLQ after maxReceiveCount (2) receives without delete', async () => {
    const dlqName = uniq('dlq')
    const q = await sqs.createQueue(uniq('redrive'), { dlq: { name: dlqName, maxReceiveCount: 2 }, visibilityTimeoutSec: 1 })
    const dlqUrl = q.url.replace(/[^/]+$/, dlqName)
    expect((await new SqsBatchSender({ client: sqs.client, queueUrl: () => q.url }).send('default', [{ id: 'r1@1', body: 'poison' }])).failed).toEqual([])

    const first = await receiveAll(sqs.client, q.url, { max: 1, waitMs: 500 })
    expect(first.map((m) => [m.body, m.attributes.ApproximateReceiveCount])).toEqual([['poison', '1']])
    const second = await receiveAll(sqs.client, q.url, { max: 1, waitMs: 2000 }) // after the 1 s visibility timeout
    expect(second.map((m) => [m.body, m.attributes.ApproximateReceiveCount])).toEqual([['poison', '2']])
    expect(second[0]!.messageId).toBe(first[0]!.messageId)

    await sleep(1300) // the second visibility timeout runs out: the emulator moves it to the DLQ then
    expect(await receiveAll(sqs.client, q.url, { max: 1, waitMs: 300 })).toEqual([])
    const dead = await receiveAll(sqs.client, dlqUrl, { max: 1, waitMs: 1000 })
    expect(dead.map((m) => m.body)).toEqual(['poison'])
    expect(dead[0]!.messageId).toBe(first[0]!.messageId)
    expect(dead[0]!.attributes.DeadLetterQueueSourceArn).toBe(q.arn)
  })
})

describe('SqsBatchSender (mocked SQS client)', () => {
  it('sends nothing for no messages', async () => {
    const { client, calls } = fakeClient(allOk)
    expect(await new SqsBatchSender({ client, queueUrl: () => 'u' }).send('q', [])).toEqual({ failed: [] })
    expect(calls).toHaveLength(0)
  })

  it('returns exactly the run ids of entries in the Failed list (mocked SQS client)', async () => {
    const { client, calls } = fakeClient((input) => {
      const entries = input.Entries ?? []
      const bad = (id: string) => ['2', '7'].includes(id)
      return {
        Successful: entries.filter((e) => !bad(e.Id!)).map((e) => ({ Id: e.Id!, MessageId: 'm', MD5OfMessageBody: '' })),
        Failed: entries.filter((e) => bad(e.Id!)).map((e) => ({ Id: e.Id!, Code: 'InternalError', SenderFault: false, Message: 'boom' })),
      }
    })
    const sent = messages(15, 'abc@')
    const result = await new SqsBatchSender({ client, queueUrl: () => 'u' }).send('q', sent)
    // Batch 1 = abc@0..abc@9 (entry Ids 0..9), batch 2 = abc@10..abc@14 (entry Ids 0..4).
    expect(result.failed.sort()).toEqual(['abc@12', 'abc@2', 'abc@7'].sort())
    expect(calls.flatMap((c) => c.Entries!.map((e) => e.Id))).toEqual([...'0123456789'.split(''), '0', '1', '2', '3', '4'])
    expect(calls.every((c) => c.QueueUrl === 'u')).toBe(true)
  })

  it('counts an entry missing from both lists as failed (mocked SQS client)', async () => {
    const { client } = fakeClient((input) => ({ Successful: [{ Id: input.Entries![0]!.Id!, MessageId: 'm', MD5OfMessageBody: '' }], Failed: [] }))
    expect((await new SqsBatchSender({ client, queueUrl: () => 'u' }).send('q', messages(3))).failed).toEqual(['run1', 'run2'])
  })

  it('fails every run id of a call that throws, and only those (mocked SQS client)', async () => {
    const { client, calls } = fakeClient((input, call) => {
      if (call === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })
      return allOk(input)
    })
    const result = await new SqsBatchSender({ client, queueUrl: () => 'u', concurrency: 1 }).send('q', messages(25))
    expect(calls).toHaveLength(3)
    expect(result.failed).toEqual(messages(25).slice(10, 20).map((m) => m.id))
  })

  it('fails everything when every call rejects, without throwing (mocked SQS client)', async () => {
    const { client } = fakeClient(async () => { throw new Error('ECONNREFUSED') })
    const result = await new SqsBatchSender({ client, queueUrl: () => 'u' }).send('q', messages(23))
    expect(result.failed.sort()).toEqual(messages(23).map((m) => m.id).sort())
  })

  it('splits by UTF-8 bytes, not characters, and gives an oversized body its own call (mocked SQS client)', async () => {
    const { client, calls } = fakeClient(allOk)
    const sender = new SqsBatchSender({ client, queueUrl: () => 'u', concurrency: 1 })
    // '€' is 3 bytes: each body is 30 KiB in bytes, 10 K characters.
    await sender.send('q', messages(12, 'e', () => '€'.repeat(10 * 1024)))
    expect(calls.map((c) => c.Entries!.length)).toEqual([8, 4])
    calls.length = 0
    await sender.send('q', messages(12, 'h', () => 'h'.repeat(100 * 1024)))
    expect(calls.map((c) => c.Entries!.length)).toEqual([2, 2, 2, 2, 2, 2])
    calls.length = 0
    const exact = messages(4, 'x', () => 'x'.repeat(64 * 1024)) // exactly 256 KiB together: one call
    await sender.send('q', [...exact, { id: 'huge', body: 'z'.repeat(300 * 1024) }, { id: 'tiny', body: 't' }])
    expect(calls.map((c) => c.Entries!.length)).toEqual([4, 1, 1])
  })

  it('keeps at most `concurrency` calls in flight (mocked SQS client)', async () => {
    const run = async (concurrency: number | undefined, n: number) => {
      let inFlight = 0
      let peak = 0
      const { client, calls } = fakeClient(async (input) => {
        peak = Math.max(peak, ++inFlight)
        await sleep(20)
        inFlight--
        return allOk(input)
      })
      const result = await new SqsBatchSender({ client, queueUrl: () => 'u', concurrency }).send('q', messages(n))
      return { peak, calls: calls.length, failed: result.failed }
    }
    expect(await run(3, 95)).toEqual({ peak: 3, calls: 10, failed: [] })
    expect(await run(undefined, 200)).toEqual({ peak: 8, calls: 20, failed: [] })
    expect(await run(1, 30)).toEqual({ peak: 1, calls: 3, failed: [] })
    expect(await run(8, 15)).toEqual({ peak: 2, calls: 2, failed: [] })
  })
})
