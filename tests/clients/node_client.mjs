// Segment's Node.js library (@segment/analytics-node 3.1.0) sending a known set of calls.
//
// Run by tests/clients/test_real_clients.py:
//
//   node tests/clients/node_client.mjs --api http://127.0.0.1:PORT --write-key KEY \
//        --run-id ID --out RESULT.json
//
// The library is used as an application uses it: `new Analytics({writeKey, host})`, calls, then
// `closeAndFlush()`. It posts JSON batches to `<api>/v1/batch` (flushAt 3, so several batches).
// Every request and response is recorded from the library's own `http_request` and
// `http_response` events. RESULT.json has the same shape as python_client.py's.

import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'

const require = createRequire(import.meta.url)

const { values: args } = parseArgs({
  options: {
    api: { type: 'string' },
    'write-key': { type: 'string' },
    'run-id': { type: 'string' },
    out: { type: 'string' },
  },
})

const result = { client: 'node', calls: [], requests: [], errors: [] }

async function run() {
  const { Analytics } = require('@segment/analytics-node')
  const version = require('@segment/analytics-node/package.json').version
  result.library = `@segment/analytics-node ${version}`

  const analytics = new Analytics({
    writeKey: args['write-key'],
    host: args.api,
    flushAt: 3,
    flushInterval: 500,
    maxRetries: 3,
    httpRequestTimeout: 30000,
  })
  const pending = new Map()
  analytics.on('http_request', (req) => {
    const entry = { url: req.url, status: null, body: JSON.parse(req.body) }
    result.requests.push(entry)
    pending.set(req.body, entry)
  })
  analytics.on('http_response', (res) => {
    const entry = pending.get(res.body)
    if (entry) entry.status = res.status
    else result.requests.push({ url: res.url, status: res.status, body: JSON.parse(res.body) })
  })
  analytics.on('error', (err) => {
    result.errors.push(`${err.code}: ${err.reason?.message ?? err.reason ?? err}`)
  })

  const rid = args['run-id']
  const user = `node-user-${rid}`
  const calls = [
    ['identify', { userId: user, traits: { email: 'node@example.com', plan: 'team' } }],
    ['track', { userId: user, event: 'Node Order', properties: { total: 99.95 } }],
    ['track', { userId: user, event: 'Node Refund', properties: { total: 1e3 } }],
    ['page', { userId: user, category: 'Docs', name: 'Node Page' }],
    ['screen', { userId: user, category: 'App', name: 'Node Screen' }],
    ['group', { userId: user, groupId: `node-group-${rid}`, traits: { seats: 9 } }],
    ['alias', { previousId: `node-anon-${rid}`, userId: user }],
  ]
  calls.forEach(([kind, params], index) => {
    const messageId = `node-${rid}-${index}-${kind}`
    const call = { messageId, type: kind, real_ms: Date.now(), userId: user }
    if (kind === 'track') call.event = params.event
    if (kind === 'page' || kind === 'screen') call.name = params.name
    if (kind === 'group') call.groupId = params.groupId
    if (kind === 'alias') call.previousId = params.previousId
    analytics[kind]({ ...params, messageId })
    result.calls.push(call)
  })
  await analytics.closeAndFlush({ timeout: 60000 })
}

let code = 0
try {
  await run()
} catch (err) {
  result.fatal = String(err?.stack ?? err)
  code = 1
}
writeFileSync(args.out, JSON.stringify(result, null, 1))
process.exit(code)
