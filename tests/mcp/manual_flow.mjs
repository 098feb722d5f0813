// Issue 18, must show 3: a request under a manual flow. wait_for_access sends progress
// notifications and returns PENDING well before the client's 60-s timeout (the server runs
// with --max-wait 3s here, as a user could set it); after the approver approves through the
// real CLI, it returns ACTIVE. query_database is then listed as possibly destructive, runs an
// UPDATE, and a cancelled query stops at the server.
import { apono, check, connect, log, ok, rememberDatabasePasswords, scenario } from './lib.mjs';

const bound = 3;

await scenario(async () => {
  const { client, listChanged } = await connect({
    args: ['--max-wait', `${bound}s`],
  });
  await client.listTools();
  const made = await ok(client, 'request_access', {
    integration: 'pg-local',
    resource_type: 'database',
    resources: ['appdb'],
    permissions: ['read_write'],
    justification: 'MCP test: fix a note',
    duration: '15m',
  });
  const id = made.request_id;
  check(
    made.request.status === 'PENDING' &&
      made.request.approval === 'manual' &&
      made.request.approvers.includes('approver'),
    `${id} waits for the approver`,
    made,
  );

  const progress = [];
  const t0 = Date.now();
  const pending = await ok(
    client,
    'wait_for_access',
    { request_id: id },
    { onprogress: (p) => progress.push(p) },
  );
  const took = (Date.now() - t0) / 1000;
  check(
    pending.status === 'PENDING' && pending.settled === false,
    'still PENDING when the wait ends',
    pending,
  );
  check(
    took < 60 && took >= bound - 0.5 && took < bound + 10,
    `returned after about ${bound} s, before 60 s`,
    { took },
  );
  check(progress.length >= 2, 'progress notifications while waiting', progress);
  check(
    progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress),
    'progress only grows',
    progress,
  );
  check(
    progress.every((p) => p.total === bound && p.message.includes('PENDING')),
    'progress says what it waits for',
    progress,
  );
  check(/approve/.test(pending.next_step), 'the answer says a person must approve', pending);
  log(
    `wait_for_access: PENDING after ${took.toFixed(1)} s with ${progress.length} progress notifications`,
  );

  const approved = apono(['--profile', 'approver', 'approve', id]);
  check(approved.status === 0, `apono approve ${id} as approver`, approved);

  let active;
  for (let i = 0; i < 10 && active?.status !== 'ACTIVE'; i++)
    active = await ok(client, 'wait_for_access', { request_id: id });
  check(
    active.status === 'ACTIVE' && active.settled === true,
    `${id} ACTIVE after the approval`,
    active,
  );
  check(active.decided_by === 'approver', 'decided by the approver', active);
  log(`wait_for_access: ACTIVE after the approval (${active.waited_seconds} s)`);

  // Possibly destructive before the grant and after it: no tools/list_changed is owed.
  check(listChanged.length === 0, 'the hints did not change', listChanged);
  const q = (await client.listTools()).tools.find((t) => t.name === 'query_database');
  check(
    q.annotations.destructiveHint === true && q.annotations.readOnlyHint === false,
    'query_database is destructive under read_write',
    q.annotations,
  );
  rememberDatabasePasswords(id);
  const changed = await ok(client, 'query_database', {
    request_id: id,
    sql: "update notes set body = 'fixed' where id = 1",
  });
  check(
    changed.command === 'UPDATE 1' && changed.columns.length === 0,
    'the update ran under read_write',
    changed,
  );
  // A cancelled query_database stops the statement at the server, not only the wait for it.
  const sleeping = {
    request_id: id,
    sql: "select count(*) from pg_stat_activity where state = 'active' and query = 'select pg_sleep(25)'",
  };
  const count = async () => (await ok(client, 'query_database', sleeping)).rows[0][0];
  const controller = new AbortController();
  const long = client
    .callTool(
      { name: 'query_database', arguments: { request_id: id, sql: 'select pg_sleep(25)' } },
      undefined,
      {
        signal: controller.signal,
      },
    )
    .then(
      () => 'answered',
      () => 'rejected',
    );
  const until = async (want, what) => {
    const deadline = Date.now() + 15000;
    let n = await count();
    while (n !== want && Date.now() < deadline) n = await count();
    check(n === want, what, { running: n });
  };
  await until(1, 'the statement runs at the server');
  const t1 = Date.now();
  controller.abort('stop');
  check((await long) === 'rejected', 'the client gave up the call', null);
  await until(0, 'the cancelled statement stopped at the server');
  log(`cancelled query_database: the statement stopped at the server within ${Date.now() - t1} ms`);
  const revoked = await ok(client, 'revoke_access', { request_id: id });
  check(revoked.status === 'REVOKED', 'revoked', revoked);
  await client.close();
});
