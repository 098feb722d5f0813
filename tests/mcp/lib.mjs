// What the MCP scenarios share: the official MCP TypeScript SDK client (from web/'s
// node_modules), a recorder of every message exchanged with `apono mcp` and its stderr, the
// secrets scan over that record, and the real CLI for what a person does meanwhile.
//
// Environment (set by tests/support/mcp_scenario.cpp):
//   APONO_BINARY    the apono under test
//   APONO_WEB_DIR   web/, whose node_modules hold @modelcontextprotocol/sdk
//   APONO_SECRETS   JSON object: kind -> secret the run knows of (tokens, passwords)
//   XDG_CONFIG_HOME, HOME, XDG_RUNTIME_DIR: the CLI's profiles (alice active, approver)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.APONO_WEB_DIR, 'package.json'));
export const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
export const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
export const types = require('@modelcontextprotocol/sdk/types.js');

export const binary = process.env.APONO_BINARY;

/// Every JSON-RPC message both ways and every stderr chunk of every server started.
export const transcript = [];
/// kind -> secret; scenarios add the database passwords they see through the CLI.
export const secrets = new Map(Object.entries(JSON.parse(process.env.APONO_SECRETS || '{}')));

const started = Date.now();
export function log(...args) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
}

/// Throws with what was expected and what was seen.
export function check(ok, what, seen) {
  if (!ok) throw new Error(`${what}; saw: ${JSON.stringify(seen, null, 1)?.slice(0, 2000)}`);
}

export function serverEnv() {
  const env = {};
  for (const k of ['XDG_CONFIG_HOME', 'HOME', 'XDG_RUNTIME_DIR', 'PATH', 'NO_COLOR'])
    if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

// The SDK's own stdio transport, with every message copied into the transcript on its way.
class RecordingTransport {
  constructor(inner) {
    this.inner = inner;
    inner.onmessage = (m, extra) => {
      transcript.push(JSON.stringify(m));
      this.onmessage?.(m, extra);
    };
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
    inner.stderr?.on('data', (d) => transcript.push(`stderr: ${d}`));
  }
  start() {
    return this.inner.start();
  }
  send(m, options) {
    transcript.push(JSON.stringify(m));
    return this.inner.send(m, options);
  }
  close() {
    return this.inner.close();
  }
  setProtocolVersion(v) {
    this.inner.setProtocolVersion?.(v);
  }
  get pid() {
    return this.inner.pid;
  }
}

/// Starts `apono mcp ARGS` behind the SDK's stdio transport, recording every message.
export function recordedTransport(args = []) {
  return new RecordingTransport(
    new StdioClientTransport({
      command: binary,
      args: ['mcp', ...args],
      env: serverEnv(),
      stderr: 'pipe',
    }),
  );
}

/// An SDK client connected to a fresh `apono mcp`; `elicit` (optional) answers elicitation.
export async function connect({ args = [], elicit, name = 'apono-mcp-test' } = {}) {
  const capabilities = elicit ? { elicitation: { form: {} } } : {};
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  if (elicit)
    client.setRequestHandler(types.ElicitRequestSchema, async (req) => elicit(req.params));
  const listChanged = [];
  client.setNotificationHandler(types.ToolListChangedNotificationSchema, () =>
    listChanged.push(Date.now()),
  );
  await client.connect(recordedTransport(args));
  return { client, listChanged };
}

/// The structured content of a successful call (checked), or the whole result.
export async function call(client, name, args, options) {
  const r = await client.callTool({ name, arguments: args }, undefined, options);
  return r;
}

export async function ok(client, name, args, options) {
  const r = await call(client, name, args, options);
  check(r.isError !== true, `${name} succeeds`, r);
  check(
    r.structuredContent && typeof r.structuredContent === 'object',
    `${name} has structuredContent`,
    r,
  );
  check(
    r.content?.[0]?.type === 'text' &&
      JSON.stringify(JSON.parse(r.content[0].text)) === JSON.stringify(r.structuredContent),
    `${name}'s text is the same JSON as its structuredContent`,
    r,
  );
  return r.structuredContent;
}

export async function fails(client, name, args, pattern) {
  const r = await call(client, name, args);
  check(r.isError === true, `${name}(${JSON.stringify(args)}) is an isError result`, r);
  const text = r.content?.map((c) => c.text).join('\n') ?? '';
  if (pattern) check(pattern.test(text), `${name}'s error matches ${pattern}`, text);
  return text;
}

/// Runs the real apono (alice's profile unless `--profile` is given).
export function apono(args) {
  const r = spawnSync(binary, args, {
    encoding: 'utf8',
    env: process.env,
    timeout: 60000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/// The database passwords of grant `id`, read by the CLI as the user would, for the scan.
export function rememberDatabasePasswords(id) {
  const r = apono(['access', 'use', id, '-o', 'json']);
  check(r.status === 0, `apono access use ${id} -o json`, r);
  let n = 0;
  for (const u of JSON.parse(r.out).units)
    if (u.password) {
      secrets.set(`database password of ${id} (${u.database})`, u.password);
      n++;
    }
  check(n > 0, `grant ${id} has a database password to look for`, r.out);
}

function sha(s) {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

// The forms a careless copy would put a secret in.
function forms(value) {
  const b = Buffer.from(value, 'utf8');
  return [
    value,
    b.toString('base64'),
    b.toString('base64url'),
    b.toString('hex'),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ];
}

/// Kinds of secrets found in `lines` ([] when none).
export function findSecrets(lines, known = secrets) {
  const text = lines.join('\n');
  const found = [];
  for (const [kind, value] of known) {
    if (typeof value !== 'string' || value.length < 8) continue;
    if (forms(value).some((f) => text.includes(f))) found.push(`${kind} (sha256 ${sha(value)})`);
  }
  return found;
}

/// Must show 6: no password, token or key in any message exchanged (nor in the server's stderr).
export function scanTranscript() {
  // The scan must be able to fail: a planted secret in each encoding is found.
  const planted = new Map([['planted', 'planted-Secret/+=value']]);
  for (const f of forms('planted-Secret/+=value'))
    check(findSecrets([`x${f}x`], planted).length === 1, 'the scan finds a planted secret', f);
  check(transcript.length > 0, 'messages were recorded', transcript.length);
  // Under the sanitizer build a report on the server's stderr is a failure too.
  const reports = transcript.filter(
    (m) => m.startsWith('stderr: ') && /Sanitizer|runtime error:/.test(m),
  );
  check(reports.length === 0, 'no sanitizer report from apono mcp', reports);
  const found = findSecrets(transcript);
  check(found.length === 0, 'no secret in any MCP message or the server log', found);
  log(
    `secrets scan: ${transcript.length} messages and log chunks, ${secrets.size} secrets, none found`,
  );
}

/// Runs `main`, then the scan; exits 0 only when both passed.
export async function scenario(main) {
  try {
    await main();
    scanTranscript();
    log('PASS');
    process.exit(0);
  } catch (e) {
    console.error('FAIL:', e?.stack ?? e);
    console.error('--- last messages ---');
    for (const m of transcript.slice(-30))
      console.error(findSecrets([m]).length ? '(withheld: holds a secret)' : m.slice(0, 1500));
    process.exit(1);
  }
}
