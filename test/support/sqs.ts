/**
 * Local SQS for integration tests: the local-aws-sqs emulator (SDK v3 JSON protocol) on 127.0.0.1
 * on a free port (port 0), and an SQSClient pointed at it with fake static credentials and the
 * SDK's default retries. The emulator keeps everything in memory; `close` drops it all.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { createSqsServer } from 'local-aws-sqs'

export interface LocalSqs {
  endpoint: string
  client: SQSClient
  createQueue(name: string, opts?: { dlq?: { name: string; maxReceiveCount: number }; visibilityTimeoutSec?: number }): Promise<{ url: string; arn: string }>
  close(): Promise<void>
}

export async function startSqs(): Promise<LocalSqs> {
  const server: Server = await createSqsServer({
    port: 0,
    hostname: '127.0.0.1',
    // Deleted queue names may be reused at once (AWS makes you wait 60 s).
    emulateQueueCreationLifecycle: false,
  })
  const { port } = server.address() as AddressInfo
  const endpoint = `http://127.0.0.1:${port}`
  const client = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  })

  async function createQueue(name: string, opts: { dlq?: { name: string; maxReceiveCount: number }; visibilityTimeoutSec?: number } = {}) {
    const attributes: Record<string, string> = {}
    if (opts.visibilityTimeoutSec !== undefined) attributes.VisibilityTimeout = String(opts.visibilityTimeoutSec)
    if (opts.dlq) {
      const dlq = await createQueue(opts.dlq.name)
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: opts.dlq.maxReceiveCount })
    }
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))
    if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`)
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))
    const arn = Attributes?.QueueArn
    if (!arn) throw new Error(`GetQueueAttributes ${name} returned no QueueArn`)
    return { url: QueueUrl, arn }
  }

  async function close() {
    client.destroy()
    server.closeAllConnections() // the SDK keeps connections alive; close() alone would wait for them
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
  }

  return { endpoint, client, createQueue, close }
}
