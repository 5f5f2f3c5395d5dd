/**
 * `npx osls package --stage test`, once for the file, offline: no AWS credentials, telemetry and
 * notifications off, and every Node process of the command preloaded with a guard that fails any
 * connection beyond the loopback (test/support/no-network.mjs). Then:
 *   - the CloudFormation template: functions, schedules, the SQS event source mapping, the queue
 *     and its DLQ, least-privilege roles (no `*` anywhere), alarms, no dependency cycle;
 *   - the zips: each holds its bundle and every Lua script where DUEQ_SCRIPTS_DIR points;
 *   - the bundles themselves, run by `node` with the template's environment (secrets from a fake
 *     SSM, SQS on the local-aws-sqs emulator, Redis on both drivers): tick → SQS → worker-sqs, and
 *     tick → Redis → worker-poll, all inside the packaged code.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROUTES } from '../../functions/http/routes.ts'
import { Queue, Scheduler } from '../../lib/index.ts'
import { SCRIPT_NAMES } from '../../lib/redis/scripts.ts'
import { receiveAll } from '../../lib/sqs/receive.ts'
import { startSqs, type LocalSqs } from '../support/sqs.ts'
import { DRIVERS, REDIS_URL, useStore } from '../support/stores.ts'
import { startUpstashBridge, type UpstashBridge } from '../support/upstash-bridge.ts'
import { readZip } from '../support/zip.ts'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OUT = join(ROOT, '.serverless')
const NO_NETWORK = pathToFileURL(join(ROOT, 'test/support/no-network.mjs')).href
const STAGE = 'test'

type Props = Record<string, unknown>
interface Resource { Type: string; Properties: Props; DependsOn?: string | string[]; Condition?: string }
interface Template { Resources: Record<string, Resource>; Conditions?: Props; Outputs?: Props }
interface FunctionProps { FunctionName: string; Handler: string; Runtime: string; Timeout: number; Role: unknown; Code: { S3Key: string }; Environment: { Variables: Record<string, unknown> } }
interface Statement { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown }

const FUNCTIONS = {
  Api: { role: 'ApiRole', handler: 'functions/api.handler' },
  Tick: { role: 'TickRole', handler: 'functions/tick.handler' },
  WorkerSqs: { role: 'WorkerSqsRole', handler: 'functions/worker-sqs.handler' },
  WorkerPoll: { role: 'WorkerPollRole', handler: 'functions/worker-poll.handler' },
} as const
type FunctionKey = keyof typeof FUNCTIONS

let template: Template
let packageMs = 0
let packageOutput = ''
let networkAttempts = ''

beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true })
  const netLog = join(mkdtempSync(join(tmpdir(), 'dueq-pkg-')), 'network.log')
  writeFileSync(netLog, '')
  // Only what the command needs; no AWS_* variables from the developer's shell (no credentials, no profile).
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    AWS_EC2_METADATA_DISABLED: 'true',
    npm_config_update_notifier: 'false',
    npm_config_offline: 'true',
    NODE_OPTIONS: `--import=${NO_NETWORK}`,
    DUEQ_NETWORK_LOG: netLog,
  }
  const started = performance.now()
  const { stdout, stderr } = await run('npx', ['osls', 'package', '--stage', STAGE], { cwd: ROOT, env, timeout: 170_000, maxBuffer: 16 << 20 })
  packageMs = Math.round(performance.now() - started)
  packageOutput = stdout + stderr
  networkAttempts = readFileSync(netLog, 'utf8')
  template = JSON.parse(readFileSync(join(OUT, 'cloudformation-template-update-stack.json'), 'utf8')) as Template
  console.info(`osls package --stage ${STAGE}: ${packageMs} ms`)
}, 180_000)

const resource = (id: string): Resource => {
  const r = template.Resources[id]
  if (!r) throw new Error(`no resource ${id} in the template (has: ${Object.keys(template.Resources).join(', ')})`)
  return r
}
const fn = (key: FunctionKey) => resource(`${key}LambdaFunction`).Properties as unknown as FunctionProps
const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type)
const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] })

/** A role's statements; both branches of an Fn::If (a conditional statement), AWS::NoValue left out. */
function statementsOf(roleId: string): (Statement & { conditional?: string })[] {
  const policies = resource(roleId).Properties.Policies as { PolicyDocument: { Statement: unknown[] } }[]
  return policies.flatMap((p) => p.PolicyDocument.Statement).flatMap((s) => {
    const branch = (s as Props)['Fn::If'] as [string, unknown, unknown] | undefined
    if (!branch) return [s as Statement]
    return [branch[1], branch[2]]
      .filter((b) => JSON.stringify(b) !== JSON.stringify({ Ref: 'AWS::NoValue' }))
      .map((b) => ({ ...(b as Statement), conditional: branch[0] }))
  })
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action])
const resources = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource])
const ssmParameterArn = (name: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}` })

describe('osls package (offline)', () => {
  it('packages without reaching the network, reasonably fast', () => {
    expect(networkAttempts).toBe('')
    expect(packageOutput).toMatch(/Service packaged/)
    expect(packageMs).toBeLessThan(120_000)
  })

  it('has the four functions on nodejs22.x, each with its own role, and no shared default role', () => {
    expect(ofType('AWS::Lambda::Function').map(([id]) => id).sort()).toEqual(Object.keys(FUNCTIONS).map((k) => `${k}LambdaFunction`).sort())
    for (const [key, { role, handler }] of Object.entries(FUNCTIONS) as [FunctionKey, (typeof FUNCTIONS)[FunctionKey]][]) {
      const f = fn(key)
      expect(f.Runtime).toBe('nodejs22.x')
      expect(f.Handler).toBe(handler)
      expect(f.Role).toEqual(getAtt(role, 'Arn'))
      expect(f.FunctionName).toMatch(new RegExp(`^dueq-${STAGE}-`))
      expect(f.Environment.Variables.DUEQ_SCRIPTS_DIR).toBe('/var/task/lib/redis/scripts')
    }
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined()
    expect(ofType('AWS::IAM::Role').map(([id]) => id).sort()).toEqual(Object.values(FUNCTIONS).map((f) => f.role).sort())
  })

  it('routes every API route (functions/http/routes.ts) through the HTTP API, and nothing else', () => {
    const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey as string).sort()
    expect(routeKeys).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort())
  })

  it('runs the tick and worker-poll every minute, the tick with the right configuration', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => ({
      schedule: r.Properties.ScheduleExpression,
      targets: (r.Properties.Targets as { Arn: unknown }[]).map((t) => t.Arn),
    }))
    expect(rules).toEqual(expect.arrayContaining([
      { schedule: 'rate(1 minute)', targets: [getAtt('TickLambdaFunction', 'Arn')] },
      { schedule: 'rate(1 minute)', targets: [getAtt('WorkerPollLambdaFunction', 'Arn')] },
    ]))
    expect(rules).toHaveLength(2)
    const tick = fn('Tick').Environment.Variables
    expect(tick.DUEQ_WORKER_FUNCTION).toEqual({ Ref: 'WorkerPollLambdaFunction' })
    expect(tick.DUEQ_SQS_QUEUE_URL).toEqual({ Ref: 'JobQueue' })
    expect(tick.DUEQ_TARGET).toBe('sqs')
    // The loop runs to the timeout less its 5 s margin: a little past the next minute's tick.
    expect(fn('Tick').Timeout).toBeGreaterThan(65)
    expect(fn('Tick').Timeout).toBeLessThanOrEqual(120)
    // Failed scheduled invocations are not retried: the next minute comes anyway.
    const retries = ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) => [(r.Properties.FunctionName as { Ref: string }).Ref, r.Properties.MaximumRetryAttempts])
    expect(retries).toEqual(expect.arrayContaining([['TickLambdaFunction', 0], ['WorkerPollLambdaFunction', 0]]))
  })

  it('feeds worker-sqs from the job queue with ReportBatchItemFailures', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties)
    expect(mappings).toEqual([expect.objectContaining({
      EventSourceArn: getAtt('JobQueue', 'Arn'),
      FunctionName: getAtt('WorkerSqsLambdaFunction', 'Arn'),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    })])
  })

  it('gives the job queue a DLQ (maxReceiveCount 5) and a visibility timeout ≥ 6× the worker timeout', () => {
    const queue = resource('JobQueue').Properties
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt('JobDeadLetterQueue', 'Arn'), maxReceiveCount: 5 })
    expect(Number(queue.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * Number(fn('WorkerSqs').Timeout))
    expect(queue.SqsManagedSseEnabled).toBe(true)
    const dlq = resource('JobDeadLetterQueue').Properties
    expect(dlq.MessageRetentionPeriod).toBe(1_209_600)
    expect(dlq.RedriveAllowPolicy).toEqual({ redrivePermission: 'byQueue', sourceQueueArns: [{ 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:dueq-${STAGE}-jobs` }] })
    expect(queue.QueueName).toBe(`dueq-${STAGE}-jobs`)
  })

  it('scopes every IAM statement to named resources: no * action, no * resource', () => {
    for (const [roleId, role] of ofType('AWS::IAM::Role')) {
      expect((role.Properties.AssumeRolePolicyDocument as { Statement: unknown[] }).Statement).toEqual([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }])
      expect(role.Properties.ManagedPolicyArns, roleId).toBeUndefined()
      for (const s of statementsOf(roleId)) {
        expect(s.Effect, roleId).toBe('Allow')
        for (const a of actions(s)) expect(a, `${roleId} action`).not.toContain('*')
        for (const r of resources(s)) {
          expect(r, `${roleId} ${actions(s).join(',')}`).toBeDefined()
          if (typeof r === 'string') expect(r, `${roleId} resource`).not.toContain('*')
          else expect(Object.keys(r as Props), `${roleId} resource`).toEqual([expect.stringMatching(/^(Fn::GetAtt|Fn::Sub|Ref)$/)])
          if (r && typeof r === 'object' && 'Fn::Sub' in r) expect((r as { 'Fn::Sub': string })['Fn::Sub']).not.toContain('*')
        }
      }
    }
  })

  it('allows each function exactly what it does', () => {
    const summary = (roleId: string) => statementsOf(roleId).map((s) => ({ actions: actions(s).sort(), resources: resources(s), ...(s.conditional ? { conditional: s.conditional } : {}) }))
    const logs = (fnKey: FunctionKey) => ({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [getAtt(`${fnKey}LogGroup`, 'Arn')] })
    const prefix = `/dueq/${STAGE}`
    const secrets = (...names: string[]) => ({ actions: ['ssm:GetParameters'], resources: names.map((n) => ssmParameterArn(`${prefix}/${n}`)) })
    const kms = { actions: ['kms:Decrypt'], resources: [''], conditional: 'HasSsmKmsKey' } // only with a customer managed key (param ssmKmsKeyArn)
    const redis = ['upstash-url', 'upstash-token', 'http-secret']
    expect(summary('TickRole')).toEqual([
      logs('Tick'), secrets(...redis), kms,
      { actions: ['sqs:SendMessage'], resources: [getAtt('JobQueue', 'Arn')] },
      { actions: ['lambda:InvokeFunction'], resources: [getAtt('WorkerPollLambdaFunction', 'Arn')] },
    ])
    expect(summary('WorkerSqsRole')).toEqual([
      logs('WorkerSqs'), secrets(...redis), kms,
      { actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'], resources: [getAtt('JobQueue', 'Arn')] },
    ])
    expect(summary('WorkerPollRole')).toEqual([logs('WorkerPoll'), secrets(...redis), kms])
    expect(summary('ApiRole')).toEqual([logs('Api'), secrets(...redis, 'api-keys'), kms])
    const decrypt = statementsOf('TickRole').find((s) => s.conditional)!
    expect(decrypt.Condition).toEqual({ StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } } })
    expect(template.Conditions?.HasSsmKmsKey).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] })
  })

  it('names in DUEQ_SSM_PARAMETERS exactly the parameters each role may read, and no secret in the environment', () => {
    for (const [key, { role }] of Object.entries(FUNCTIONS) as [FunctionKey, (typeof FUNCTIONS)[FunctionKey]][]) {
      const vars = fn(key).Environment.Variables
      const wanted = JSON.parse(vars.DUEQ_SSM_PARAMETERS as string) as Record<string, string>
      const allowed = statementsOf(role).filter((s) => actions(s).includes('ssm:GetParameters')).flatMap(resources)
      expect(allowed, key).toEqual(Object.values(wanted).map(ssmParameterArn))
      expect(Object.keys(wanted).sort(), key).toEqual(['DUEQ_HTTP_SECRET', 'UPSTASH_REDIS_REST_TOKEN', 'UPSTASH_REDIS_REST_URL', ...(key === 'Api' ? ['DUEQ_API_KEYS'] : [])].sort())
      for (const secret of ['UPSTASH_REDIS_REST_TOKEN', 'UPSTASH_REDIS_REST_URL', 'REDIS_URL', 'DUEQ_API_KEYS', 'DUEQ_API_KEY', 'DUEQ_HTTP_SECRET']) expect(vars[secret], `${key} ${secret}`).toBeUndefined()
    }
  })

  it('alarms on DLQ depth, a missing scheduler heartbeat and function errors, to one SNS topic', () => {
    const alarms = Object.fromEntries(ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [id, r.Properties]))
    for (const a of Object.values(alarms)) expect(a.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }])
    expect(resource('AlarmTopic').Type).toBe('AWS::SNS::Topic')
    expect(alarms.DeadLetterQueueAlarm).toMatchObject({
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt('JobDeadLetterQueue', 'QueueName') }],
      Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
    })
    // The heartbeat is the EMF line the tick writes (functions/shared/lambda.ts): same namespace and dimensions.
    const tick = fn('Tick').Environment.Variables
    expect(alarms.SchedulerHeartbeatAlarm).toMatchObject({
      Namespace: tick.DUEQ_METRICS_NAMESPACE, MetricName: 'Passes',
      Dimensions: [{ Name: 'Service', Value: tick.DUEQ_SERVICE }, { Name: 'Stage', Value: tick.DUEQ_STAGE }],
      Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    })
    expect(tick).toMatchObject({ DUEQ_METRICS_NAMESPACE: 'dueq', DUEQ_SERVICE: 'dueq', DUEQ_STAGE: STAGE })
    for (const key of ['Tick', 'WorkerSqs', 'WorkerPoll'] as const) {
      expect(alarms[`${key}ErrorsAlarm`]).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: `${key}LambdaFunction` } }], Threshold: 0 })
    }
  })

  it('has no circular dependency between resources', () => {
    const ids = new Set(Object.keys(template.Resources))
    const refs = (value: unknown, out: Set<string>): Set<string> => {
      if (Array.isArray(value)) value.forEach((v) => refs(v, out))
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (k === 'Ref' && typeof v === 'string' && ids.has(v)) out.add(v)
          else if (k === 'Fn::GetAtt') out.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]!)
          else if (k === 'Fn::Sub') {
            const text = Array.isArray(v) ? String(v[0]) : String(v)
            for (const m of text.matchAll(/\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}/g)) if (ids.has(m[1]!)) out.add(m[1]!)
            if (Array.isArray(v)) refs(v[1], out)
          } else refs(v, out)
        }
      }
      return out
    }
    const edges = new Map([...ids].map((id) => {
      const r = template.Resources[id]!
      const deps = refs(r.Properties, new Set())
      for (const d of [r.DependsOn ?? []].flat()) deps.add(d)
      return [id, [...deps].filter((d) => ids.has(d))]
    }))
    const state = new Map<string, 'visiting' | 'done'>()
    const visit = (id: string, path: string[]) => {
      if (state.get(id) === 'done') return
      if (state.get(id) === 'visiting') throw new Error(`dependency cycle: ${[...path, id].join(' → ')}`)
      state.set(id, 'visiting')
      for (const d of edges.get(id)!) visit(d, [...path, id])
      state.set(id, 'done')
    }
    for (const id of ids) visit(id, [])
  })

  it('zips each bundle with every Lua script where DUEQ_SCRIPTS_DIR points', () => {
    for (const key of Object.keys(FUNCTIONS) as FunctionKey[]) {
      const f = fn(key)
      const zip = readZip(join(OUT, f.Code.S3Key.split('/').pop()!))
      const names = [...zip.keys()]
      expect(names, key).toContain(`${f.Handler.replace(/\.handler$/, '')}.mjs`)
      const scriptsDir = (f.Environment.Variables.DUEQ_SCRIPTS_DIR as string).replace(/^\/var\/task\//, '')
      for (const script of SCRIPT_NAMES) {
        const lua = zip.get(`${scriptsDir}/${script}.lua`)
        expect(lua?.toString('utf8'), `${key} ${script}.lua`).toBe(readFileSync(join(ROOT, 'lib/redis/scripts', `${script}.lua`), 'utf8'))
      }
      expect(names.filter((n) => !n.startsWith('functions/') && !n.startsWith(`${scriptsDir}/`)), key).toEqual([])
    }
  })
})

// ── The packaged code, run ───────────────────────────────────────────────────────────────────

/** The bundles of the four zips, unpacked as /var/task would hold them. */
let task = ''
beforeAll(() => {
  task = mkdtempSync(join(tmpdir(), 'dueq-task-'))
  for (const file of readdirSync(OUT).filter((f) => f.endsWith('.zip'))) {
    for (const [name, data] of readZip(join(OUT, file))) {
      mkdirSync(dirname(join(task, name)), { recursive: true })
      writeFileSync(join(task, name), data)
    }
  }
})
afterAll(() => { if (task) rmSync(task, { recursive: true, force: true }) })

/** A stand-in for SSM's GetParameters (JSON 1.1 protocol), serving `values` by name. */
async function fakeSsm(values: Record<string, string>) {
  const requests: { target: string | undefined; body: { Names: string[]; WithDecryption?: boolean } }[] = []
  const server: Server = createServer((req, res) => {
    let raw = ''
    req.on('data', (c: Buffer) => { raw += c.toString('utf8') })
    req.on('end', () => {
      const body = JSON.parse(raw) as { Names: string[]; WithDecryption?: boolean }
      requests.push({ target: req.headers['x-amz-target'] as string | undefined, body })
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(JSON.stringify({
        Parameters: body.Names.filter((n) => n in values).map((Name) => ({ Name, Type: 'SecureString', Value: values[Name], Version: 1 })),
        InvalidParameters: body.Names.filter((n) => !(n in values)),
      }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/**
 * Runs a bundled handler in a fresh `node` with `env` (as Lambda would: AWS_REGION set, the
 * bundle's directory as /var/task) and a context whose remaining time is `remainingMs`.
 */
async function invokeBundle(key: FunctionKey, env: Record<string, string>, event: unknown, remainingMs: number): Promise<{ result: Props; output: string }> {
  const file = join(task, `${fn(key).Handler.replace(/\.handler$/, '')}.mjs`)
  const script = `
    const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)})
    const deadline = Date.now() + ${remainingMs}
    const context = { functionName: 'dueq-${STAGE}-${key}', awsRequestId: 'req-bundle', getRemainingTimeInMillis: () => deadline - Date.now() }
    try {
      const result = await handler(${JSON.stringify(event)}, context)
      process.stdout.write('\\nRESULT ' + JSON.stringify(result) + '\\n')
      process.exit(0)
    } catch (e) {
      process.stdout.write('\\nFAILED ' + (e && e.stack || e) + '\\n')
      process.exit(1)
    }`
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: task, timeout: 30_000, env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: `--import=${NO_NETWORK}`, ...env },
  }).catch((e: { stdout?: string; stderr?: string; message: string }) => { throw new Error(`${key} bundle failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`) })
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
  if (!line) throw new Error(`${key} bundle printed no result:\n${stdout}\n${stderr}`)
  return { result: JSON.parse(line.slice('RESULT '.length)) as Props, output: stdout + stderr }
}

/** The function's environment from the template, with CloudFormation references resolved by `refs`. */
function lambdaEnv(key: FunctionKey, refs: Record<string, string>, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(fn(key).Environment.Variables)) {
    if (typeof value === 'string') env[name] = value
    else {
      const ref = (value as { Ref?: string }).Ref
      if (!ref || !(ref in refs)) throw new Error(`${key}: cannot resolve ${name} = ${JSON.stringify(value)}`)
      env[name] = refs[ref]!
    }
  }
  env.DUEQ_SCRIPTS_DIR = join(task, env.DUEQ_SCRIPTS_DIR!.replace(/^\/var\/task\//, ''))
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

describe('the packaged bundles', () => {
  it('need DUEQ_SCRIPTS_DIR: without it the bundle looks for the scripts beside itself and fails', async () => {
    const env = lambdaEnv('WorkerPoll', { JobQueue: 'http://127.0.0.1:9/000000000000/unused' }, { DUEQ_SCRIPTS_DIR: undefined, DUEQ_SSM_PARAMETERS: undefined, REDIS_URL: REDIS_URL })
    await expect(invokeBundle('WorkerPoll', env, {}, 70_000)).rejects.toThrow(/ENOENT[^\n]*functions\/scripts\/+enqueue\.lua/)
  })
})

describe.each(DRIVERS)('the packaged bundles on the %s driver, configured as deployed', (driver) => {
  const store = useStore(driver)
  let bridge: UpstashBridge | undefined
  let sqs: LocalSqs
  let ssm: Awaited<ReturnType<typeof fakeSsm>>
  beforeAll(async () => {
    sqs = await startSqs()
    if (driver === 'upstash') bridge = await startUpstashBridge({ redisUrl: REDIS_URL })
    // The secrets, at the names the template's DUEQ_SSM_PARAMETERS gives. Over TCP the "Upstash URL" is a redis:// URL.
    ssm = await fakeSsm({
      [`/dueq/${STAGE}/upstash-url`]: bridge ? bridge.url : REDIS_URL,
      [`/dueq/${STAGE}/upstash-token`]: bridge ? bridge.token : 'unused-over-tcp',
      [`/dueq/${STAGE}/http-secret`]: 'bundle-check-http-secret',
    })
  })
  afterAll(async () => {
    await ssm?.close()
    await sqs?.close()
    await bridge?.close()
  })

  /** What Lambda and AWS give a function: region, credentials (fake), the endpoints (local). */
  const aws = () => ({
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'fake',
    AWS_SECRET_ACCESS_KEY: 'fake',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
  })

  it('tick → SQS → worker-sqs, secrets from SSM', async () => {
    const queue = await sqs.createQueue(`bundle-${randomBytes(4).toString('hex')}`)
    const scheduler = new Scheduler({ redis: store.redis, namespace: store.namespace })
    const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'add', data: { a: 19, b: 23 } })
    const refs = { JobQueue: queue.url, WorkerPollLambdaFunction: `dueq-${STAGE}-workerPoll` }
    const before = ssm.requests.length

    const tick = await invokeBundle('Tick', lambdaEnv('Tick', refs, { ...aws(), DUEQ_NAMESPACE: store.namespace }), {}, 5_000 + 400)
    expect(tick.result).toMatchObject({ target: 'sqs', dispatched: 1, errors: 0, workerInvocations: 0 })
    expect(tick.output).toMatch(/"_aws":\{"Timestamp":\d+,"CloudWatchMetrics"/) // the heartbeat line
    expect(ssm.requests.slice(before)).toEqual([{
      target: 'AmazonSSM.GetParameters',
      body: expect.objectContaining({ Names: [`/dueq/${STAGE}/upstash-url`, `/dueq/${STAGE}/upstash-token`, `/dueq/${STAGE}/http-secret`], WithDecryption: true }),
    }])

    const messages = await receiveAll(sqs.client, queue.url, { max: 1, waitMs: 2_000 })
    expect(messages.map((m) => JSON.parse(m.body) as unknown)).toEqual([{ v: 1, ns: store.namespace, run: job.id, q: 'default' }])
    const event = { Records: messages.map((m) => ({ messageId: m.messageId, receiptHandle: m.receiptHandle, body: m.body, attributes: m.attributes, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: queue.arn, awsRegion: 'us-east-1' })) }
    const worker = await invokeBundle('WorkerSqs', lambdaEnv('WorkerSqs', refs, { ...aws(), DUEQ_NAMESPACE: store.namespace }), event, 90_000)
    expect(worker.result).toEqual({ batchItemFailures: [] })
    expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'finished', result: 42 })
  })

  it('tick (DUEQ_TARGET=redis) → ready list → worker-poll', async () => {
    const scheduler = new Scheduler({ redis: store.redis, namespace: store.namespace })
    const job = await scheduler.enqueueAt(Date.now() - 1, { name: 'echo', data: { hello: 'bundle' } })
    const refs = { JobQueue: 'http://127.0.0.1:9/000000000000/unused', WorkerPollLambdaFunction: `dueq-${STAGE}-workerPoll` }
    // No DUEQ_WORKER_FUNCTION: the asynchronous invoke is covered with a mocked client in functions.test.ts.
    const tick = await invokeBundle('Tick', lambdaEnv('Tick', refs, { ...aws(), DUEQ_NAMESPACE: store.namespace, DUEQ_TARGET: 'redis', DUEQ_WORKER_FUNCTION: undefined }), {}, 5_000 + 400)
    expect(tick.result).toMatchObject({ target: 'redis', dispatched: 1, workerInvocations: 0 })
    expect(await new Queue({ redis: store.redis, namespace: store.namespace }).count()).toBe(1)

    const poll = await invokeBundle('WorkerPoll', lambdaEnv('WorkerPoll', refs, { ...aws(), DUEQ_NAMESPACE: store.namespace, DUEQ_JOB_TIMEOUT_MS: '1000' }), { source: 'dueq.tick', dispatched: 1 }, 10_000)
    expect(poll.result).toMatchObject({ processed: 1, failed: 0, queues: ['default'] })
    expect(await scheduler.getJob(job.id)).toMatchObject({ status: 'finished', result: { hello: 'bundle' } })
  })
})
