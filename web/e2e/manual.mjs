// Must show 2: alice requests read_write (a manual flow); the approver, in a second browser
// context, approves it from Approvals, and alice's open page turns ACTIVE without a reload
// within 1 s of the broker recording it. A rejection's reason reaches alice; Request again
// makes a new request.
import {
  api,
  check,
  context,
  env,
  expectFollowed,
  launch,
  openRequest,
  requestThroughForm,
  signIn,
  waitFor,
  waitForStatus,
} from './lib.mjs';

export default async function () {
  const browser = await launch();
  const alice = await (await context(browser)).newPage();
  const approver = await (await context(browser)).newPage();
  await signIn(alice, 'alice');
  await signIn(approver, 'approver');

  const id = await requestThroughForm(alice, 'alice', {
    resource: 'appdb',
    permission: 'read_write',
    duration: '1h',
    justification: 'e2e: fix the orders table',
  });
  await openRequest(alice, id, 'PENDING');

  await approver.goto(env.url + '/approvals');
  const row = approver.getByTestId(`approval-row-${id}`);
  await waitFor(async () => (await row.count()) === 1, 10_000, `${id} in the approver's list`);
  await row.getByTestId('approve-one').click();
  await approver.getByTestId('approve-dialog-confirm').click();

  // alice's page was left open: it must follow without a reload.
  await expectFollowed(alice, id, 'ACTIVE', 20_000, "alice's open page");
  check(
    (await alice.getByTestId('decided-by').innerText()).includes('approver'),
    'the page does not say who approved',
  );

  // A rejection, with its reason, reaches alice's page.
  const second = await requestThroughForm(alice, 'alice', {
    resource: 'appdb',
    permission: 'read_write',
    duration: '30m',
    justification: 'e2e: during the freeze',
  });
  await openRequest(alice, second, 'PENDING');
  await approver.goto(env.url + '/approvals');
  const row2 = approver.getByTestId(`approval-row-${second}`);
  await waitFor(async () => (await row2.count()) === 1, 10_000, `${second} in the approver's list`);
  await row2.getByTestId('reject-one').click();
  await approver.getByTestId('reject-reason').fill('not during the change freeze');
  await approver.getByTestId('reject-dialog-confirm').click();
  await waitForStatus(alice, second, 'REJECTED', 10_000, "alice's page");
  await waitFor(
    async () => (await alice.getByTestId('decision-reason').count()) === 1,
    5_000,
    'the rejection reason on the page',
  );
  const reason = await alice.getByTestId('decision-reason').innerText();
  check(reason.includes('not during the change freeze'), `reason shown: ${reason}`);

  // Request again: a new request with the same units and a new justification.
  await alice.getByTestId('request-again').click();
  await alice.getByTestId('again-justification').fill('e2e: after the freeze');
  await alice.getByTestId('again-dialog-confirm').click();
  const mine = async () =>
    (await api('alice', 'GET', '/api/v1/access-requests?scope=mine')).json ?? [];
  const again = await waitFor(
    async () => (await mine()).find((r) => r.justification === 'e2e: after the freeze'),
    10_000,
    'the new request',
    async () => JSON.stringify((await mine()).map((r) => [r.id, r.justification])),
  );
  check(
    again.id !== second && again.status === 'PENDING',
    `request again made ${again.id} ${again.status}`,
  );
}
