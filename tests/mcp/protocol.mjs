// Issue 18, must show 1 and 5, with the official SDK: version negotiation (2025-11-25,
// 2025-06-18, 2025-03-26, an unknown one answered with ours), every tool listed with schemas
// and annotations the SDK validates, bad arguments as isError results, an unknown tool
// -32602, an unknown method -32601, ping, cancellation; then a raw pipe: malformed JSON -32700,
// CRLF line ends, notifications without replies, and nothing but JSON-RPC on stdout.
import { spawn } from 'node:child_process';
import {
  Client,
  apono,
  binary,
  call,
  check,
  connect,
  fails,
  log,
  ok,
  recordedTransport,
  scenario,
  serverEnv,
  transcript,
  types,
} from './lib.mjs';

const tools = [
  'list_catalog',
  'request_access',
  'list_requests',
  'get_request',
  'wait_for_access',
  'get_connection_instructions',
  'query_database',
  'revoke_access',
];

// initialize with `version` over the SDK's stdio transport, without the Client (which always
// asks for its latest revision); the answer is checked with the SDK's own schema.
async function initializeWith(version, then) {
  const transport = recordedTransport();
  const answers = new Map();
  const waiting = new Map();
  transport.onmessage = (m) => {
    if (waiting.has(m.id)) waiting.get(m.id)(m);
    else answers.set(m.id, m);
  };
  await transport.start();
  const request = (id, method, params) =>
    new Promise((resolve) => {
      waiting.set(id, resolve);
      transport.send({ jsonrpc: '2.0', id, method, params });
    });
  const init = await request(1, 'initialize', {
    protocolVersion: version,
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  });
  const result = types.InitializeResultSchema.parse(init.result);
  await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const more = then ? await then(request) : undefined;
  await transport.close();
  return { result, more };
}

async function negotiation() {
  const expected = {
    '2025-11-25': '2025-11-25',
    '2025-06-18': '2025-06-18',
    '2025-03-26': '2025-03-26',
    '2024-11-05': '2025-11-25',
    '1999-01-01': '2025-11-25',
  };
  for (const [asked, answered] of Object.entries(expected)) {
    const { result, more } = await initializeWith(asked, async (request) => {
      const list = (await request(2, 'tools/list', {})).result;
      const r = (
        await request(3, 'tools/call', {
          name: 'list_requests',
          arguments: { limit: 1 },
        })
      ).result;
      return {
        list: types.ListToolsResultSchema.parse(list),
        call: types.CallToolResultSchema.parse(r),
      };
    });
    check(result.protocolVersion === answered, `asked ${asked}, answered ${answered}`, result);
    check(
      result.instructions.includes('never receive a password'),
      'instructions carry the rule',
      result,
    );
    check(result.capabilities.tools, 'tools capability', result.capabilities);
    const structured = answered !== '2025-03-26';
    const q = more.list.tools.find((t) => t.name === 'query_database');
    check(
      Boolean(q.outputSchema) === structured,
      `outputSchema ${structured ? 'given' : 'left out'} in ${answered}`,
      q,
    );
    check(
      Boolean(more.call.structuredContent) === structured &&
        JSON.parse(more.call.content[0].text).requests,
      `structuredContent ${structured ? 'given' : 'left out'} in ${answered}, JSON text always`,
      more.call,
    );
    log(`initialize ${asked} -> ${result.protocolVersion}`);
  }
}

async function listing(client) {
  const { tools: listed } = await client.listTools(); // parsed by the SDK's ListToolsResultSchema
  check(
    JSON.stringify(listed.map((t) => t.name).sort()) === JSON.stringify([...tools].sort()),
    'every tool',
    listed,
  );
  for (const t of listed) {
    check(
      t.inputSchema.type === 'object' && t.outputSchema?.type === 'object',
      `${t.name} has both schemas`,
      t,
    );
    check(t.title && t.description.length > 40, `${t.name} has a title and a description`, t);
    const a = t.annotations;
    check(
      typeof a.readOnlyHint === 'boolean' && typeof a.openWorldHint === 'boolean',
      `${t.name} annotations`,
      a,
    );
  }
  const by = Object.fromEntries(listed.map((t) => [t.name, t.annotations]));
  for (const n of [
    'list_catalog',
    'list_requests',
    'get_request',
    'wait_for_access',
    'get_connection_instructions',
  ])
    check(by[n].readOnlyHint === true, `${n} is read-only`, by[n]);
  check(
    by.revoke_access.destructiveHint === true && by.revoke_access.idempotentHint === true,
    'revoke_access is destructive and idempotent',
    by.revoke_access,
  );
  check(
    by.request_access.readOnlyHint === false &&
      by.request_access.destructiveHint === false &&
      by.request_access.idempotentHint === false,
    'request_access adds, not destroys, and is not idempotent',
    by.request_access,
  );
  check(
    by.query_database.destructiveHint === true,
    'query_database may change data without a read-only grant',
    by.query_database,
  );
  const req = listed.find((t) => t.name === 'request_access');
  for (const arg of [
    'integration',
    'resource_type',
    'resources',
    'permissions',
    'bundle',
    'justification',
    'duration',
  ])
    check(req.inputSchema.properties[arg], `request_access takes ${arg}`, req.inputSchema);
  const q = listed.find((t) => t.name === 'query_database');
  check(
    ['request_id', 'sql', 'database'].every((a) => q.inputSchema.properties[a]),
    'query_database arguments',
    q.inputSchema,
  );
  log(`tools/list: ${listed.length} tools validated by the SDK`);
}

async function errors(client) {
  await fails(client, 'get_request', {}, /missing required argument 'request_id'/);
  await fails(client, 'get_request', { request_id: 42 }, /'request_id' must be string/);
  await fails(client, 'list_requests', { limit: 0 }, /'limit' must be at least 1/);
  await fails(client, 'list_requests', { colour: 'red' }, /unknown argument 'colour'/);
  const appdb = { integration: 'pg-local', resources: ['appdb'], permissions: ['read_only'] };
  await fails(
    client,
    'request_access',
    { ...appdb, justification: 'x', duration: 'soon' },
    /invalid duration 'soon'/,
  );
  await fails(client, 'request_access', { ...appdb, bundle: 'b', justification: 'x' }, /not both/);
  // The broker's dry run refuses; nothing is stored.
  const before = (await ok(client, 'list_requests', {})).count;
  for (const [args, pattern] of [
    [{ ...appdb, resources: ['nosuchdb'], justification: 'MCP test: a typo' }, /nosuchdb/],
    [{ ...appdb, justification: 'MCP test: too long', duration: '100h' }, /duration|maximum/],
  ])
    await fails(client, 'request_access', args, new RegExp(`broker refused.*${pattern.source}`));
  check(
    (await ok(client, 'list_requests', {})).count === before,
    'no request stored by a refused dry run',
    before,
  );
  await fails(client, 'get_request', { request_id: 'AR-99999' }, /broker refused/);
  await fails(
    client,
    'query_database',
    { request_id: 'AR-99999', sql: 'select 1' },
    /broker refused/,
  );

  for (const [name, code] of [['no_such_tool', -32602]]) {
    let error;
    try {
      await client.callTool({ name, arguments: {} });
    } catch (e) {
      error = e;
    }
    check(error?.code === code, `unknown tool answers ${code}`, String(error));
  }
  let error;
  try {
    await client.request({ method: 'resources/list', params: {} }, types.ListResourcesResultSchema);
  } catch (e) {
    error = e;
  }
  check(error?.code === -32601, 'unknown method answers -32601', String(error));
  await client.ping();
  log('errors: isError results, -32602, -32601, ping');
}

async function cancellation(client) {
  // A manual request stays PENDING: the wait runs until cancelled.
  const made = await ok(client, 'request_access', {
    integration: 'pg-local',
    resources: ['appdb'],
    permissions: ['read_write'],
    justification: 'MCP test: cancel a wait',
  });
  const id = made.request_id;
  const controller = new AbortController();
  let progressed;
  const progressSeen = new Promise((resolve) => (progressed = resolve));
  const waiting = client.callTool(
    { name: 'wait_for_access', arguments: { request_id: id } },
    undefined,
    { signal: controller.signal, onprogress: progressed, timeout: 55000 },
  );
  await progressSeen;
  const cancelledAt = transcript.length;
  controller.abort('the user pressed stop');
  let error;
  try {
    await waiting;
  } catch (e) {
    error = e;
  }
  check(error, 'the cancelled call rejects on the client', error);
  // The server says on stderr when the call has ended; no answer may follow for its id.
  const deadline = Date.now() + 20000;
  while (
    !transcript.slice(cancelledAt).some((m) => m.includes('ended after its cancellation')) &&
    Date.now() < deadline
  )
    await new Promise((r) => setTimeout(r, 50));
  check(
    transcript.slice(cancelledAt).some((m) => m.includes('ended after its cancellation')),
    'the server ended the cancelled call',
    transcript.slice(cancelledAt),
  );
  const sent = transcript.slice(cancelledAt).map((m) => {
    try {
      return JSON.parse(m);
    } catch {
      return {};
    }
  });
  const cancel = sent.find((m) => m.method === 'notifications/cancelled');
  check(cancel, 'the SDK sent notifications/cancelled', sent);
  check(
    !sent.some((m) => m.id === cancel.params.requestId && ('result' in m || 'error' in m)),
    'no answer to a cancelled request',
    sent,
  );
  await client.ping();
  await ok(client, 'revoke_access', { request_id: id });
  log('cancellation: no answer after notifications/cancelled');
}

// Must show 5's raw pipe: apono mcp with nothing but node's child_process between us.
async function rawPipe() {
  const child = spawn(binary, ['mcp'], {
    env: serverEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const lines = [
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"pipe","version":"1"}}}\r\n',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}\r\n',
    '{"jsonrpc":"2.0","id":2,"method":"ping"}\r\n',
    '{"jsonrpc":"2.0","id":3,"method":"tools/list"\r\n', // cut short
    'not json at all\n',
    '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n',
    '{"jsonrpc":"2.0","method":"notifications/no_such_thing"}\r\n',
    '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}}\n',
    '[{"jsonrpc":"2.0","id":4,"method":"ping"}]\n',
    '{"jsonrpc":"2.0","id":5,"method":"no/such/method"}\r\n',
    '{"jsonrpc":"2.0","id":"six","method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}\r\n',
    '\r\n',
    '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_request","arguments":{}}}\r\n',
    '{"jsonrpc":"2.0","id":8,"method":"ping"}', // the last line may lack its newline
  ];
  for (const l of lines) child.stdin.write(l);
  child.stdin.end();
  const status = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  transcript.push(...out.split('\n').filter(Boolean), `stderr: ${err}`);
  check(status === 0, 'apono mcp exits 0 when its input ends', { status, err });
  check(out.endsWith('\n'), 'every message ends its line', out);
  const messages = out
    .trimEnd()
    .split('\n')
    .map((l) => {
      check(!l.includes('\r'), 'no CR on stdout', l);
      const m = JSON.parse(l); // nothing but JSON on stdout
      check(
        m.jsonrpc === '2.0' && ('result' in m || 'error' in m) && 'id' in m,
        'each line is a JSON-RPC response',
        m,
      );
      return m;
    });
  const byId = (id) => messages.filter((m) => m.id === id);
  check(byId(1)[0]?.result?.protocolVersion === '2025-11-25', 'initialize over CRLF', messages);
  check(
    byId(2)[0]?.result && byId(8)[0]?.result,
    'pings answered (CRLF and a last line without newline)',
    messages,
  );
  const nulls = byId(null);
  check(
    nulls.length === 3 &&
      nulls.filter((m) => m.error.code === -32700).length === 2 &&
      nulls.filter((m) => m.error.code === -32600).length === 1,
    'two malformed lines get -32700, the batch -32600, all with id null',
    nulls,
  );
  check(byId(5)[0]?.error?.code === -32601, 'unknown method -32601', messages);
  check(byId('six')[0]?.error?.code === -32602, 'unknown tool -32602', messages);
  check(byId(7)[0]?.result?.isError === true, 'bad arguments an isError result', messages);
  check(
    messages.length === 9,
    'exactly one answer per request and per bad line, none for the 4 notifications',
    messages,
  );
  check(err.includes('apono mcp: '), 'logs went to stderr', err);
  log(
    `raw pipe: ${messages.length} JSON-RPC lines on stdout, nothing else; ${err.split('\n').length - 1} log lines on stderr`,
  );
}

// The user's profiles: the active one by default, another with --profile.
async function profiles() {
  const mine = await connect();
  const alice = await ok(mine.client, 'list_requests', {});
  await mine.client.close();
  const other = await connect({ args: ['--profile', 'approver'] });
  const approver = await ok(other.client, 'list_requests', {});
  await other.client.close();
  check(alice.count >= 1 && approver.count === 0, "alice's requests, then none of approver's own", {
    alice: alice.count,
    approver: approver.count,
  });
  const none = await connect({ args: ['--profile', 'nosuch'] });
  await fails(none.client, 'list_requests', {}, /profile nosuch/);
  await none.client.close();
  log('--profile: alice by default, approver with --profile approver, an unknown one refused');
}

await scenario(async () => {
  await negotiation();
  const { client } = await connect();
  await listing(client);
  await errors(client);
  await cancellation(client);
  await client.close();
  await profiles();
  await rawPipe();
  check(apono(['requests', 'list', '-o', 'json']).status === 0, 'the CLI still works', null);
});
