// Issue 18, must show 4: with a client that can ask its user (elicitation), an accepted
// confirmation makes the request and a declined one makes none; a client without the
// capability gets the request made without asking, as request_access's description says.
// Under a grant that can write, query_database asks before a statement that writes, not
// before a read.
import {
  apono,
  check,
  connect,
  fails,
  log,
  ok,
  rememberDatabasePasswords,
  scenario,
} from './lib.mjs';

const ask = {
  integration: 'pg-local',
  resource_type: 'database',
  resources: ['appdb'],
  permissions: ['read_only'],
  justification: 'MCP test: confirm first',
  duration: '5m',
};

async function requestIds(client) {
  return (await ok(client, 'list_requests', { limit: 100 })).requests.map((r) => r.request_id);
}

async function withAnswer(answer) {
  const asked = [];
  const { client } = await connect({
    name: `elicit-${answer.action}`,
    elicit: async (params) => {
      asked.push(params);
      return answer;
    },
  });
  await client.listTools();
  const before = await requestIds(client);
  const r = await ok(client, 'request_access', ask);
  const after = await requestIds(client);
  check(asked.length === 1, 'the user was asked once', asked);
  const m = asked[0].message;
  for (const part of [
    'read_only',
    'appdb',
    '5m',
    'engineers-read-only',
    'automatic',
    'MCP test: confirm first',
  ])
    check(m.includes(part), `the question names ${part}`, m);
  check(asked[0].requestedSchema.properties.confirm.type === 'boolean', 'a yes/no form', asked[0]);
  await client.close();
  return { r, before, after, message: m };
}

await scenario(async () => {
  const yes = await withAnswer({
    action: 'accept',
    content: { confirm: true },
  });
  check(
    yes.r.made === true &&
      yes.after.length === yes.before.length + 1 &&
      yes.after.includes(yes.r.request_id),
    'accepted: the request is made',
    yes,
  );
  log(`accepted: ${yes.r.request_id} made; asked "${yes.message}"`);

  const no = await withAnswer({ action: 'decline' });
  check(
    no.r.made === false && no.r.outcome === 'declined' && no.after.length === no.before.length,
    'declined: no request',
    no,
  );
  const unticked = await withAnswer({
    action: 'accept',
    content: { confirm: false },
  });
  check(
    unticked.r.made === false && unticked.after.length === unticked.before.length,
    'accepted with confirm false: no request',
    unticked,
  );
  const dismissed = await withAnswer({ action: 'cancel' });
  check(
    dismissed.r.made === false &&
      dismissed.r.outcome === 'cancelled' &&
      dismissed.after.length === dismissed.before.length,
    'dismissed: no request',
    dismissed,
  );
  log('declined, unticked and dismissed: no request made');

  const { client } = await connect({ name: 'no-elicitation' });
  const { tools } = await client.listTools();
  const d = tools.find((t) => t.name === 'request_access').description;
  check(
    /without elicitation gets the request made without asking/.test(d) &&
      /access flow.*is the control/.test(d),
    'the description says what happens without elicitation',
    d,
  );
  const before = await requestIds(client);
  const r = await ok(client, 'request_access', ask);
  const after = await requestIds(client);
  check(
    r.made === true && after.length === before.length + 1,
    'no elicitation: the request is made without asking',
    r,
  );
  log(`no elicitation capability: ${r.request_id} made without asking`);
  for (const id of [yes.r.request_id, r.request_id])
    await ok(client, 'revoke_access', { request_id: id });
  await client.close();

  // Writes under read_write wait for the user's go-ahead; reads do not.
  const answers = [];
  const asked = [];
  const guarded = await connect({
    name: 'elicit-writes',
    elicit: async (params) => {
      asked.push(params);
      return answers.shift();
    },
  });
  const c = guarded.client;
  await c.listTools();
  answers.push({ action: 'accept', content: { confirm: true } });
  const rw = await ok(c, 'request_access', {
    ...ask,
    permissions: ['read_write'],
    justification: 'MCP test: a guarded write',
  });
  const id = rw.request_id;
  check(rw.made === true && rw.request.status === 'PENDING', `${id} waits for the approver`, rw);
  const approved = apono(['--profile', 'approver', 'approve', id]);
  check(approved.status === 0, `apono approve ${id}`, approved);
  let state;
  for (let i = 0; i < 10 && state?.status !== 'ACTIVE'; i++)
    state = await ok(c, 'wait_for_access', { request_id: id });
  check(state.status === 'ACTIVE', `${id} ACTIVE`, state);
  rememberDatabasePasswords(id);
  const select = { request_id: id, sql: 'select body from notes where id = 1' };
  const update = { request_id: id, sql: "update notes set body = 'changed' where id = 1" };
  const n = asked.length;
  const read = await ok(c, 'query_database', select);
  check(asked.length === n && read.rows[0][0] === 'hello', 'a read runs without asking', {
    asked,
    read,
  });
  answers.push({ action: 'decline' });
  await fails(c, 'query_database', update, /did not allow/);
  check(
    asked.length === n + 1 &&
      asked[n].message.includes(update.sql) &&
      asked[n].message.includes('read_write'),
    'the user was shown the statement',
    asked.slice(n),
  );
  check(
    (await ok(c, 'query_database', select)).rows[0][0] === 'hello',
    'declined: nothing changed',
    null,
  );
  answers.push({ action: 'accept', content: { allow: true } });
  const wrote = await ok(c, 'query_database', update);
  check(
    wrote.command === 'UPDATE 1' && asked.length === n + 2,
    'allowed: the update ran once',
    wrote,
  );
  check(
    (await ok(c, 'query_database', select)).rows[0][0] === 'changed',
    'the change is there',
    null,
  );
  log(
    `writes under read_write: a read ran unasked, a declined UPDATE did not run, an allowed one did`,
  );
  await ok(c, 'revoke_access', { request_id: id });
  await c.close();
});
