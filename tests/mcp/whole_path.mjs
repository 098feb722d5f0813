// Issue 18, must show 2: the whole path through `apono mcp` with the SDK client: the catalog,
// a read_only request on appdb (automatic flow), waiting for ACTIVE, the connection
// instructions, a select through query_database, the revoke, and a further query refused
// with the end-of-access message the shell prints.
import { check, connect, fails, log, ok, rememberDatabasePasswords, scenario } from './lib.mjs';

const endedMessage = (id) =>
  new RegExp(
    `^access ${id} ended at \\d\\d:\\d\\d:\\d\\d \\(it was revoked\\); request it again: apono requests again ${id}$`,
  );

function queryTool(tools) {
  return tools.tools.find((t) => t.name === 'query_database');
}

await scenario(async () => {
  const { client, listChanged } = await connect({ args: ['--statement-timeout', '2s'] });
  const before = queryTool(await client.listTools());
  check(
    before.annotations.destructiveHint === true && before.annotations.readOnlyHint === false,
    'query_database may change data while no read-only grant is held',
    before.annotations,
  );

  // Paging: one resource a page, each page's cursor leading to the next, none repeated.
  const seen = [];
  let cursor;
  do {
    const page = await ok(client, 'list_catalog', { limit: 1, ...(cursor ? { cursor } : {}) });
    check(page.resources.length <= 1, 'a page of at most 1', page);
    seen.push(...page.resources.map((r) => `${r.integration}/${r.resource}`));
    cursor = page.next_cursor;
  } while (cursor && seen.length < 50);
  check(
    seen.includes('pg-local/appdb') && new Set(seen).size === seen.length,
    'paging covers the catalog once',
    seen,
  );
  await fails(client, 'list_catalog', { cursor: 'x' }, /invalid cursor/);

  const catalog = await ok(client, 'list_catalog', {
    integration: 'pg-local',
    search: 'appdb',
  });
  const appdb = catalog.resources.find((r) => r.resource === 'appdb');
  check(appdb, 'the catalog lists appdb', catalog);
  const ro = appdb.permissions.find((p) => p.permission === 'read_only');
  check(
    ro &&
      ro.automatic === true &&
      ro.max_duration === '8h' &&
      ro.access_flow === 'engineers-read-only',
    'read_only on appdb is automatic for up to 8h',
    appdb.permissions,
  );
  const rw = appdb.permissions.find((p) => p.permission === 'read_write');
  check(
    rw && rw.automatic === false && rw.approvers.includes('approver'),
    'read_write needs the approver',
    appdb.permissions,
  );
  log(
    'catalog:',
    JSON.stringify(appdb.permissions.map((p) => [p.permission, p.automatic, p.max_duration])),
  );

  const made = await ok(client, 'request_access', {
    integration: 'pg-local',
    resource_type: 'database',
    resources: ['appdb'],
    permissions: ['read_only'],
    justification: 'MCP test: count the notes',
    duration: '10m',
  });
  check(
    made.made === true && /^AR-\d+$/.test(made.request_id),
    'request_access made a request',
    made,
  );
  const id = made.request_id;
  log('requested', id, made.request.status);

  const waited = await ok(client, 'wait_for_access', { request_id: id });
  check(waited.status === 'ACTIVE' && waited.settled === true, `${id} became ACTIVE`, waited);
  check(
    waited.time_left_seconds > 500 && waited.time_left_seconds <= 600,
    'about 10 minutes left',
    waited,
  );
  // The list_changed notification came before the answer: query_database's hints follow.
  check(
    listChanged.length >= 1,
    'tools/list_changed was sent when the grant became ACTIVE',
    listChanged,
  );
  const after = queryTool(await client.listTools());
  check(
    after.annotations.readOnlyHint === true && after.annotations.destructiveHint === false,
    'query_database is read-only while the only database grant is read_only',
    after.annotations,
  );

  const how = await ok(client, 'get_connection_instructions', {
    request_id: id,
  });
  const unit = how.units[0];
  check(
    unit.database === 'appdb' && unit.type === 'postgresql' && unit.port > 0 && unit.username,
    'instructions name the database, host, port and login',
    how,
  );
  check(
    unit.connect_command === `apono access connect ${id}`,
    'instructions give the connect command',
    unit,
  );
  check(
    !JSON.stringify(how).match(/password"|connection_string|postgresql:\/\//),
    'instructions hold no password field',
    how,
  );
  rememberDatabasePasswords(id);

  const rows = await ok(client, 'query_database', {
    request_id: id,
    sql: 'select id, body from notes order by id',
  });
  check(
    JSON.stringify(rows.columns) ===
      JSON.stringify([
        { name: 'id', type: 'integer' },
        { name: 'body', type: 'text' },
      ]),
    'columns with their types',
    rows.columns,
  );
  check(
    JSON.stringify(rows.rows) === JSON.stringify([[1, 'hello']]) && rows.truncated === false,
    'the row of notes',
    rows,
  );
  log('query_database:', JSON.stringify(rows.rows), rows.command);

  const t0 = Date.now();
  await fails(
    client,
    'query_database',
    { request_id: id, sql: 'select pg_sleep(30)' },
    /statement timeout/,
  );
  check(Date.now() - t0 < 15000, 'the statement timeout (2 s here) stopped it', Date.now() - t0);
  const limited = await ok(client, 'query_database', {
    request_id: id,
    sql: 'select g from generate_series(1, 1000) g',
    max_rows: 5,
  });
  check(
    limited.rows.length === 5 && limited.truncated === true,
    'max_rows cuts and says so',
    limited,
  );
  await fails(
    client,
    'query_database',
    { request_id: id, sql: 'insert into notes values (2, $$x$$)' },
    /read-only transaction|permission denied/,
  );
  await fails(
    client,
    'query_database',
    { request_id: id, sql: 'select 1; select 2' },
    /multiple commands/,
  );
  await fails(
    client,
    'query_database',
    { request_id: id, sql: 'select * from no_such_table' },
    /does not exist/,
  );

  const revoked = await ok(client, 'revoke_access', { request_id: id });
  check(revoked.revoked_now === true && revoked.status === 'REVOKED', `${id} revoked`, revoked);

  const refused = await fails(client, 'query_database', {
    request_id: id,
    sql: 'select 1',
  });
  check(
    endedMessage(id).test(refused),
    'a further query is refused with the end-of-access message',
    refused,
  );
  log('refused:', refused);

  const again = await ok(client, 'revoke_access', { request_id: id });
  check(
    again.revoked_now === false && again.status === 'REVOKED',
    'revoking again changes nothing',
    again,
  );
  const got = await ok(client, 'get_request', { request_id: id });
  check(got.status === 'REVOKED' && got.end_reason === 'revoked', 'get_request shows the end', got);
  const listed = await ok(client, 'list_requests', { status: 'REVOKED' });
  check(
    listed.requests.some((r) => r.request_id === id),
    'list_requests finds it',
    listed,
  );
  await client.close();
});
