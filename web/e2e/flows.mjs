// Must show 3: a selection spanning two access flows becomes two requests, one per flow, shown
// before submitting; "Copy as CLI" copies the exact commands, which, run by a shell with the
// CLI signed in as alice, make the same two requests; the approver approves three requests at
// once from Approvals.
import { spawnSync } from 'node:child_process';
import { api, check, context, env, launch, signIn, waitFor } from './lib.mjs';

// What makes two requests "the same": everything the requester chose and what the broker
// decided from it (the flow), not the id, times or status.
const what = (r) =>
  JSON.stringify([
    r.integration,
    r.resource_type,
    r.resources,
    r.permissions,
    r.duration_seconds,
    r.justification,
    r.access_flow,
    r.approval,
  ]);

async function mine(user) {
  const r = await api(user, 'GET', '/api/v1/access-requests?scope=mine&limit=500');
  check(r.status === 200, `listing ${user}'s requests: ${r.status} ${r.text}`);
  return r.json;
}

export default async function () {
  const cli = process.env.APONO_CLI;
  check(cli, 'APONO_CLI is not set (the C++ test sets it)');
  const browser = await launch();
  const aliceCtx = await context(browser);
  await aliceCtx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: env.url });
  const alice = await aliceCtx.newPage();
  await signIn(alice, 'alice');

  // One resource, two permissions that two different flows allow.
  await alice.goto(env.url + '/requests/new');
  const integrations = await api('alice', 'GET', '/api/v1/integrations');
  const pg = (integrations.json ?? []).find((i) => i.type === 'postgresql');
  check(pg, `no postgresql integration in ${integrations.text}`);
  await alice.getByTestId('integration').selectOption(pg.id);
  await waitFor(
    async () => (await alice.getByTestId('resource-type').locator('option').count()) > 1,
    10_000,
    'resource types',
  );
  await alice.getByTestId('resource-type').selectOption({ index: 1 });
  await alice.locator('[data-testid="resources-option"][value="appdb"]').check();
  for (const p of ['read_only', 'read_write'])
    await alice.locator(`[data-testid="permissions-option"][value="${p}"]`).check();
  await alice.getByTestId('duration').fill('1h30m');
  // A justification a shell would mangle unquoted: the command must quote it.
  const justification = "e2e: migrate orders (INC-7) & check alice's $HOME";
  await alice.getByTestId('justification').fill(justification);
  await waitFor(
    async () => (await alice.getByTestId('plan-group').count()) === 2,
    10_000,
    'two plan groups, one per flow',
    async () => await alice.getByTestId('checkout').innerText(),
  );
  const split = await alice.getByTestId('plan-split').innerText();
  check(/2 requests/.test(split), `the split before submitting says: ${split}`);
  const groups = await alice.getByTestId('plan-group').allInnerTexts();
  check(
    groups.some((g) => g.includes('engineers-read-only') && g.includes('automatic')) &&
      groups.some((g) => g.includes('engineers-write') && g.includes('needs approval')),
    `plan groups: ${JSON.stringify(groups)}`,
  );
  check(
    (await alice.getByTestId('submit-request').innerText()).includes('Submit 2 requests'),
    'the submit button does not say two requests',
  );

  // What the button copies is what the page shows, one command per request.
  await alice.getByTestId('copy-as-cli').click();
  const copied = await waitFor(
    async () => (await alice.evaluate(() => navigator.clipboard.readText())) || null,
    5_000,
    'the copied commands on the clipboard',
  );
  const shown = (await alice.getByTestId('cli-commands').innerText()).trim();
  const lines = copied.trim().split('\n');
  check(lines.length === 2, `copied ${lines.length} commands: ${copied}`);
  check(
    lines.every((l) => l.startsWith('apono request ') && shown.includes(l)),
    `copied ${JSON.stringify(copied)}, shown ${JSON.stringify(shown)}`,
  );
  console.log(`copied:\n${copied.trim()}`);

  const before = new Set((await mine('alice')).map((r) => r.id));
  await alice.getByTestId('submit-request').click();
  const created = alice.getByTestId('created-requests').locator('a');
  await waitFor(
    async () => (await created.count()) === 2,
    15_000,
    'two created requests listed',
    async () => (await alice.locator('main').innerText()).slice(0, 800),
  );
  const browserIds = (await created.allInnerTexts()).map((s) => s.trim()).sort();
  const all1 = await mine('alice');
  const fromBrowser = all1.filter((r) => browserIds.includes(r.id));
  check(fromBrowser.length === 2, `the listed ids ${browserIds} are not alice's requests`);
  check(
    fromBrowser.every((r) => r.justification === justification && r.duration_seconds === 5400),
    `made: ${JSON.stringify(fromBrowser)}`,
  );
  for (const r of all1) before.add(r.id);

  // The copied text, run as a user would paste it into a shell.
  const bin = cli.slice(0, cli.lastIndexOf('/'));
  const ran = spawnSync('sh', ['-c', copied], {
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      HOME: process.env.APONO_CLI_HOME,
      XDG_CONFIG_HOME: process.env.APONO_CLI_CONFIG,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  check(ran.status === 0, `the copied commands exited ${ran.status}:\n${ran.stdout}${ran.stderr}`);
  const fromCli = (await mine('alice')).filter((r) => !before.has(r.id));
  check(fromCli.length === 2, `the CLI made ${fromCli.length} requests:\n${ran.stdout}`);
  check(
    JSON.stringify(fromCli.map(what).sort()) === JSON.stringify(fromBrowser.map(what).sort()),
    `browser made ${JSON.stringify(fromBrowser.map(what))}\nCLI made ${JSON.stringify(fromCli.map(what))}`,
  );
  console.log(
    `same requests from the browser (${browserIds}) and the CLI (${fromCli.map((r) => r.id)})`,
  );

  // Three requests waiting for the approver: the two read_write ones above and one of bob's.
  const bobs = await api('bob', 'POST', '/api/v1/access-requests', {
    integration: pg.id,
    resources: ['appdb'],
    permissions: ['read_write'],
    duration: '30m',
    justification: 'e2e: bulk approval',
  });
  check(bobs.status === 201, `bob's request: ${bobs.status} ${bobs.text}`);
  const waiting = [...fromBrowser, ...fromCli]
    .filter((r) => r.approval !== 'automatic')
    .map((r) => r.id)
    .concat(bobs.json.id);
  check(waiting.length === 3, `waiting for approval: ${waiting}`);

  const approver = await (await context(browser)).newPage();
  await signIn(approver, 'approver');
  await approver.goto(env.url + '/approvals');
  for (const id of waiting) {
    const row = approver.getByTestId(`approval-row-${id}`);
    await waitFor(async () => (await row.count()) === 1, 10_000, `${id} in the approver's list`);
    await row.getByTestId('approval-select').check();
  }
  check(
    (await approver.getByTestId('approvals-selected-count').innerText()).startsWith('3 selected'),
    'three selected',
  );
  await approver.getByTestId('bulk-approve').click();
  await approver.getByTestId('approve-dialog-confirm').click();
  const statuses = async () =>
    Promise.all(
      waiting.map(
        async (id) => (await api('approver', 'GET', `/api/v1/access-requests/${id}`)).json?.status,
      ),
    );
  await waitFor(
    async () => (await statuses()).every((s) => s === 'ACTIVE'),
    20_000,
    'the three approved requests ACTIVE',
    async () => JSON.stringify(await statuses()),
  );
  await waitFor(
    async () => {
      for (const id of waiting)
        if ((await approver.getByTestId(`approval-row-${id}`).count()) !== 0) return false;
      return true;
    },
    5_000,
    'the approved rows gone from the pending list',
  );
  const decided = (await api('approver', 'GET', '/api/v1/access-requests?scope=all&limit=500'))
    .json;
  check(
    waiting.every((id) => decided.find((r) => r.id === id)?.decided_by === 'approver'),
    `decided_by: ${JSON.stringify(decided.filter((r) => waiting.includes(r.id)).map((r) => [r.id, r.decided_by]))}`,
  );
}
