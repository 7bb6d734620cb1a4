// Segment's browser library (@segment/analytics-next 1.84.3) in Debian's Chromium, driven by
// playwright-core, sending a known set of calls to the endpoint from a page on another origin.
//
// Run by tests/clients/test_real_clients.py:
//
//   node tests/clients/browser_client.mjs --api-host 127.0.0.1:PORT --write-key KEY \
//        --run-id ID --aws-endpoint http://127.0.0.1:AWSPORT [--clock-offset-ms 3600000] \
//        --out RESULT.json
//
// What it does:
// - serves the test page and analytics-next's own standalone build (dist/umd/index.js, plus the
//   chunks it may load, under /analytics-next/bundles/) from node_modules on a second 127.0.0.1
//   port, so the endpoint is cross-origin: with analytics-next's Authorization header every
//   request needs a real CORS preflight, answered by whatever stands in front of the function;
// - loads analytics-next with its settings given inline (cdnSettings, cdnURL = the page's own
//   origin), so nothing is fetched from cdn.segment.com; apiHost `127.0.0.1:PORT/v1` and protocol
//   `http` are the "Segment.io" integration settings the library reads (plugins/segmentio);
// - page "standard": identify, track, track, page, group, alias, one request each to /v1/i,
//   /v1/t, /v1/p, /v1/g, /v1/a. The first track meets a write failure: before it, an S3 fault
//   rule is added to the local AWS (every PutObject answers 503 SlowDown) so the function answers
//   503; once analytics-next has seen that answer the rule is cleared, and the library retries on
//   its own (with its X-Retry-Count header, so a new preflight);
// - page "batching": the same five calls with deliveryStrategy batching (size 5): one request
//   to /v1/b;
// - with --clock-offset-ms, the page's clock (Date) runs that far off, as on a device with a
//   wrong clock.
// Chromium is Debian's /usr/bin/chromium (or $CHROMIUM), started with the flags this machine
// needs (TOOLCHAIN.md); no browser is downloaded. Hosts other than 127.0.0.1 are unresolvable
// (--host-resolver-rules), and every request the page makes is recorded, so an attempt to reach
// Segment's CDN or API shows up in the result. Requests are NOT intercepted with page.route:
// Playwright answers CORS preflights of intercepted requests itself, with allow-everything
// headers, which would hide the endpoint's own CORS answers.
//
// RESULT.json: {client, library, calls: [{messageId, type, mode, path, real_start_ms,
// real_end_ms, ...}], requests: [{url, method, status, body, headers}], failed, console,
// page_errors, external_requests, page_server_requests, fault: {...}, fatal?}. Exit status 1 when
// something prevented the run (Chromium not starting included), with the reason in `fatal`.

import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parseArgs } from 'node:util'

const require = createRequire(import.meta.url)

const { values: args } = parseArgs({
  options: {
    'api-host': { type: 'string' },
    'write-key': { type: 'string' },
    'run-id': { type: 'string' },
    'aws-endpoint': { type: 'string' },
    'clock-offset-ms': { type: 'string', default: '0' },
    out: { type: 'string' },
  },
})

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
]
const UMD_DIR = path.join(
  path.dirname(require.resolve('@segment/analytics-next/package.json')),
  'dist',
  'umd'
)
const OFFSET_MS = Number(args['clock-offset-ms'])

const result = {
  client: 'browser',
  calls: [],
  requests: [],
  failed: [],
  console: [],
  page_errors: [],
  external_requests: [],
  page_server_requests: [],
  fault: {},
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>sync-to-s3 client test</title>
<script>window.analytics = { _cdn: location.origin }</script>
<script src="/analytics-next/index.js"></script>
<script>
window.loadClient = async ({ writeKey, apiHost, batching }) => {
  const segment = { apiKey: writeKey, apiHost, protocol: 'http' }
  if (batching) segment.deliveryStrategy = { strategy: 'batching', config: { size: 5, timeout: 2000 } }
  const cdnSettings = {
    integrations: { 'Segment.io': segment },
    plan: {},
    metrics: { sampleRate: 0 },
    remotePlugins: [],
    enabledMiddleware: {},
    legacyVideoPluginsEnabled: false,
  }
  const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load(
    { writeKey, cdnSettings, cdnURL: location.origin },
    { disableClientPersistence: true, integrations: { 'Segment.io': segment } }
  )
  window.client = analytics
  return true
}
window.call = async (kind, args, messageId) => {
  const options = { messageId }
  let ctx
  if (kind === 'identify') ctx = await window.client.identify(args.userId, args.traits, options)
  else if (kind === 'track') ctx = await window.client.track(args.event, args.properties, options)
  else if (kind === 'page') ctx = await window.client.page(args.category, args.name, args.properties, options)
  else if (kind === 'group') ctx = await window.client.group(args.groupId, args.traits, options)
  else if (kind === 'alias') ctx = await window.client.alias(args.userId, args.previousId, options)
  const ev = ctx.event
  return { messageId: ev.messageId, type: ev.type, timestamp: ev.timestamp instanceof Date ? ev.timestamp.toISOString() : ev.timestamp }
}
</script></head><body><h1>client test</h1></body></html>`

function skewScript(offsetMs) {
  return `(() => {
  const OFFSET = ${offsetMs};
  if (!OFFSET) return;
  const RealDate = Date;
  function SkewedDate(...args) {
    if (!new.target) return new RealDate(RealDate.now() + OFFSET).toString();
    if (args.length === 0) return new RealDate(RealDate.now() + OFFSET);
    return new RealDate(...args);
  }
  SkewedDate.prototype = RealDate.prototype;
  SkewedDate.now = () => RealDate.now() + OFFSET;
  SkewedDate.parse = RealDate.parse;
  SkewedDate.UTC = RealDate.UTC;
  globalThis.Date = SkewedDate;
})();`
}

function servePage() {
  const server = createServer((req, res) => {
    result.page_server_requests.push(`${req.method} ${req.url}`)
    const url = new URL(req.url, 'http://127.0.0.1')
    let file = null
    let type = 'application/javascript'
    if (url.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
      res.end(PAGE)
      return
    }
    if (url.pathname === '/analytics-next/index.js') file = path.join(UMD_DIR, 'index.js')
    const chunk = url.pathname.match(/^\/analytics-next\/bundles\/([A-Za-z0-9_.-]+\.js)$/)
    if (chunk) file = path.join(UMD_DIR, chunk[1])
    if (file && existsSync(file)) {
      res.writeHead(200, { 'Content-Type': type })
      createReadStream(file).pipe(res)
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' })
    res.end('not found')
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

async function fault(action) {
  const endpoint = args['aws-endpoint']
  const spec =
    action === 'add'
      ? { service: 's3', method: 'PUT', action: 'error', status: 503, code: 'SlowDown', times: -1 }
      : {}
  const res = await fetch(`${endpoint}/_fault/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(spec),
  })
  if (!res.ok) throw new Error(`local AWS /_fault/${action}: ${res.status} ${await res.text()}`)
  return res.json()
}

function watch(page, mode) {
  page.on('request', (req) => {
    const url = new URL(req.url())
    if (url.hostname !== '127.0.0.1') result.external_requests.push(`${req.method()} ${req.url()}`)
  })
  page.on('response', async (res) => {
    const req = res.request()
    const url = new URL(req.url())
    if (url.port !== args['api-host'].split(':')[1]) return
    const entry = {
      mode,
      method: req.method(),
      url: req.url(),
      path: url.pathname,
      status: res.status(),
      headers: await req.allHeaders().catch(() => req.headers()),
      response_headers: res.headers(),
      body: null,
    }
    try {
      entry.body = JSON.parse(req.postData() ?? 'null')
    } catch {
      entry.body = req.postData()
    }
    result.requests.push(entry)
  })
  page.on('requestfailed', (req) => {
    result.failed.push({ mode, method: req.method(), url: req.url(), error: req.failure()?.errorText })
  })
  page.on('console', (msg) => result.console.push(`[${mode}] ${msg.type()}: ${msg.text()}`))
  page.on('pageerror', (err) => result.page_errors.push(`[${mode}] ${err}`))
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(predicate, timeoutMs) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (predicate()) return true
    await sleep(100)
  }
  return predicate()
}

async function runPage(context, origin, mode) {
  const rid = args['run-id']
  const page = await context.newPage()
  watch(page, mode)
  await page.goto(`${origin}/?mode=${mode}`)
  await page.waitForFunction(() => window.AnalyticsNext && window.loadClient)
  await page.evaluate((a) => window.loadClient(a), {
    writeKey: args['write-key'],
    apiHost: `${args['api-host']}/v1`,
    batching: mode === 'batching',
  })
  const user = `web-${mode}-user-${rid}`
  const calls = [
    ['identify', { userId: user, traits: { email: 'web@example.com', plan: 'free' } }],
    ['track', { event: `Web ${mode} Order`, properties: { total: 5.25 } }],
    ['track', { event: `Web ${mode} Refund`, properties: { total: 2 } }],
    ['page', { category: 'Docs', name: `Web ${mode} Page`, properties: {} }],
    ['group', { groupId: `web-${mode}-group-${rid}`, traits: { seats: 2 } }],
    ['alias', { userId: `web-${mode}-alias-${rid}`, previousId: user }],
  ].filter(([kind], i) => mode === 'standard' || i !== 2) // batching: 5 calls, one batch
  const injectFailure = mode === 'standard'
  let index = 0
  for (const [kind, params] of calls) {
    const messageId = `web-${mode}-${rid}-${index}-${kind}`
    const first = injectFailure && index === 1
    if (first) result.fault.added = await fault('add')
    const real_start_ms = Date.now()
    const sent = await page.evaluate(([k, p, m]) => window.call(k, p, m), [kind, params, messageId])
    const real_end_ms = Date.now()
    if (first) {
      result.fault.cleared = await fault('clear')
      result.fault.cleared_at_ms = Date.now()
    }
    const call = { ...sent, mode, requested_messageId: messageId, real_start_ms, real_end_ms }
    call.path = mode === 'batching' ? '/v1/b' : `/v1/${kind[0]}`
    if (kind === 'identify') call.userId = params.userId
    if (kind === 'track') call.event = params.event
    if (kind === 'page') call.name = params.name
    if (kind === 'group') call.groupId = params.groupId
    if (kind === 'alias') {
      call.userId = params.userId
      call.previousId = params.previousId
    }
    result.calls.push(call)
    index++
  }
  // Every call delivered (a 2xx answer to the request carrying it), the retried one included.
  const delivered = () => {
    const ids = new Set()
    for (const r of result.requests) {
      if (r.mode !== mode || r.method !== 'POST' || r.status >= 300 || !r.body) continue
      for (const ev of r.body.batch ?? [r.body]) ids.add(ev.messageId)
    }
    return result.calls.filter((c) => c.mode === mode).every((c) => ids.has(c.messageId))
  }
  const ok = await waitFor(delivered, 60000)
  if (!ok) result.errors = [...(result.errors ?? []), `${mode}: not every call was delivered within 60 s`]
  await page.close()
}

async function main() {
  const { chromium } = require('playwright-core')
  result.library = `@segment/analytics-next ${
    require('@segment/analytics-next/package.json').version
  }, playwright-core ${require('playwright-core/package.json').version}`
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium; make client-tests does it)`
    )
  }
  const server = await servePage()
  const origin = `http://127.0.0.1:${server.address().port}`
  result.page_origin = origin
  let browser
  try {
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    } catch (err) {
      throw new Error(`Chromium (${CHROMIUM}) could not start: ${err.message}`)
    }
    result.browser_version = browser.version()
    const context = await browser.newContext()
    await context.addInitScript({ content: skewScript(OFFSET_MS) })
    await runPage(context, origin, 'standard')
    await runPage(context, origin, 'batching')
    await context.close()
  } finally {
    if (browser) await browser.close()
    await new Promise((r) => server.close(r))
    // a fault rule left behind would break the next client
    if (result.fault.added && !result.fault.cleared) await fault('clear').catch(() => {})
  }
}

let code = 0
try {
  await main()
} catch (err) {
  result.fatal = String(err?.stack ?? err)
  code = 1
}
writeFileSync(args.out, JSON.stringify(result, null, 1))
process.exit(code)
