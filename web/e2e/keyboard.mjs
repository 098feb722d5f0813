// Must show 5, keyboard half: alice signs in and makes a request from My requests to its page
// with the keyboard alone, and the approver approves it, and rejects another with a reason, the
// same way. Only page.keyboard drives the pages (Tab, Shift+Tab, Enter, Space, arrows, typing):
// no click, no fill, no selectOption. Along the way: focus is visible where it lands, the
// skip link works, dialogs start focus in the right place, keep Tab inside and hand focus back
// when they close.
import { api, check, context, env, launch, password, waitFor, waitForStatus } from './lib.mjs';

/** What has focus, in words for a failure message: its test id, else its tag, id and text. */
function describeFocus(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return 'body';
    const id = e.getAttribute('data-testid');
    const name = (e.getAttribute('aria-label') ?? e.textContent ?? '').trim().slice(0, 30);
    return `${id ?? e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')}${name ? ` "${name}"` : ''}`;
  });
}

const focusMatches = (page, selector) =>
  page.evaluate((s) => !!document.activeElement?.matches(s), selector);

/** Presses `key` (Tab, or Shift+Tab) until the focused element matches `selector`; fails
 * naming each stop when it takes more than `max` presses. */
async function tabTo(page, selector, what, { key = 'Tab', max = 40 } = {}) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    if (await focusMatches(page, selector)) return;
    stops.push(await describeFocus(page));
  }
  throw new Error(`${max} × ${key} did not reach ${what}; focus went: ${stops.join(' → ')}`);
}

async function expectFocus(page, selector, what, timeoutMs = 5_000) {
  await waitFor(
    () => focusMatches(page, selector),
    timeoutMs,
    `focus on ${what}`,
    () => describeFocus(page),
  );
}

/** The focused element must show it: a focus-visible outline of 2 px or more, or a shadow. */
async function expectFocusVisible(page, what) {
  const s = await page.evaluate(() => {
    const e = document.activeElement;
    const cs = getComputedStyle(e);
    return {
      visible: e.matches(':focus-visible'),
      outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`,
      width: parseFloat(cs.outlineWidth),
      style: cs.outlineStyle,
      shadow: cs.boxShadow,
    };
  });
  check(
    s.visible && ((s.style !== 'none' && s.width >= 2) || s.shadow !== 'none'),
    `focus on ${what} is not visible: :focus-visible ${s.visible}, outline ${s.outline}, box-shadow ${s.shadow}`,
  );
  console.log(`focus visible on ${what}: outline ${s.outline}`);
}

/** Signs `user` in by typing: the user name field has focus when the page opens. */
async function signInByKeyboard(page, user) {
  await page.goto(env.url + '/');
  await expectFocus(page, '[data-testid="sign-in-username"]', 'the user name field');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password(user));
  await page.keyboard.press('Enter');
  await waitFor(
    async () => (await page.getByTestId('signed-in-user').count()) === 1,
    10_000,
    `${user} signed in`,
  );
}

/** Presses ArrowDown on the focused <select> until its value is `value` (arrows change a
 * closed select's value in place, as on Windows and Linux). */
async function chooseInSelect(page, value, what) {
  for (let i = 0; i < 10; i++) {
    if ((await page.evaluate(() => document.activeElement.value)) === value) return;
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`ArrowDown did not reach ${value} in ${what}: ${await describeFocus(page)}`);
}

const checked = (page, selector) =>
  page.evaluate((s) => document.querySelector(s)?.checked, selector);

export default async function () {
  const browser = await launch();
  const alice = await (await context(browser)).newPage();
  await signInByKeyboard(alice, 'alice');
  // The sign-in form is gone: focus goes to the screen's heading, not back to the page's start.
  await expectFocus(alice, 'h1', 'the My requests heading');

  // From the top of My requests: the skip link first, then straight into the screen.
  await alice.goto(env.url + '/requests');
  await waitFor(
    async () => (await alice.getByTestId('list-summary').count()) === 1,
    10_000,
    'My requests drawn',
  );
  await alice.keyboard.press('Tab');
  await expectFocus(alice, '.skip-link', 'the skip link');
  await expectFocusVisible(alice, 'the skip link');
  const box = await alice.evaluate(() => document.activeElement.getBoundingClientRect().toJSON());
  check(
    box.top >= 0 && box.height > 0,
    `the focused skip link is off screen: ${JSON.stringify(box)}`,
  );
  await alice.keyboard.press('Enter');
  // One Tab from the skip link's target is the screen's first control, past the navigation.
  await tabTo(alice, '[data-testid="new-request"]', 'the New request button', { max: 1 });
  await expectFocusVisible(alice, 'the New request button');
  await alice.keyboard.press('Enter');

  // New request: the heading takes focus, then each choice in the order it is made.
  await waitFor(() => new URL(alice.url()).pathname === '/requests/new', 10_000, 'New request');
  await expectFocus(alice, 'h1', 'the New request heading');
  await tabTo(alice, '[data-testid="integration"]', 'the Integration field');
  await waitFor(
    () => alice.evaluate(() => document.querySelectorAll('#integration option').length >= 3),
    10_000,
    'the integrations',
  );
  await chooseInSelect(alice, 'pg-local', 'Integration');
  await expectFocusVisible(alice, 'the Integration field');
  await alice.keyboard.press('Tab');
  await expectFocus(alice, '[data-testid="resource-type"]', 'the Resource type field');
  // pg-local has one resource type: it chooses itself, as in the CLI.
  await waitFor(
    () => alice.evaluate(() => document.activeElement.value === 'database'),
    10_000,
    'the resource type chosen',
  );
  await waitFor(
    async () => (await alice.getByTestId('resources-search').count()) === 1,
    10_000,
    'the resource search box',
  );
  await tabTo(alice, '[data-testid="resources-search"]', 'the resource search box');
  await alice.keyboard.type('ord');
  await waitFor(
    async () => (await alice.getByTestId('resources-option').count()) === 1,
    5_000,
    'the resources filtered to orders',
    async () => String(await alice.getByTestId('resources-option').count()),
  );
  await tabTo(alice, '[data-testid="resources-option"][value="orders"]', 'the orders checkbox');
  await alice.keyboard.press('Space');
  check(
    await checked(alice, '[data-testid="resources-option"][value="orders"]'),
    'Space did not tick orders',
  );
  await expectFocusVisible(alice, 'the orders checkbox');
  await tabTo(
    alice,
    '[data-testid="permissions-option"][value="read_write"]',
    'the read_write checkbox',
  );
  await alice.keyboard.press('Space');
  check(
    await checked(alice, '[data-testid="permissions-option"][value="read_write"]'),
    'Space did not tick read_write',
  );
  await tabTo(alice, '[data-testid="duration"]', 'the Duration field');
  await alice.keyboard.type('90m');
  await tabTo(alice, '[data-testid="justification"]', 'the Justification field');
  await alice.keyboard.type('CHG-3107: add an index to orders');
  await expectFocusVisible(alice, 'the Justification field');

  // The review waits for the plan; a disabled button is no Tab stop, so wait for it first.
  await waitFor(
    async () =>
      (await alice.getByTestId('plan-approvers').count()) === 1 &&
      !(await alice.getByTestId('submit-request').isDisabled()),
    10_000,
    'the plan and an enabled Submit',
    async () => await alice.getByTestId('checkout').innerText(),
  );
  await tabTo(alice, '[data-testid="submit-request"]', 'Submit request');
  await expectFocusVisible(alice, 'Submit request');
  await alice.keyboard.press('Enter');

  const id = await waitFor(
    () => /\/requests\/(AR-\d+)$/.exec(new URL(alice.url()).pathname)?.[1],
    15_000,
    'the new request’s page',
    () => alice.url(),
  );
  await waitForStatus(alice, id, 'PENDING', 10_000);
  const made = (await api('alice', 'GET', `/api/v1/access-requests/${id}`)).json;
  check(
    made?.requester === 'alice' &&
      made.resources.join() === 'orders' &&
      made.permissions.join() === 'read_write' &&
      made.duration_seconds === 5400 &&
      made.justification === 'CHG-3107: add an index to orders' &&
      made.status === 'PENDING',
    `the request made by keyboard: ${JSON.stringify(made)}`,
  );
  console.log(`${id} made with the keyboard alone: orders read_write for 90m, PENDING`);
  await expectFocus(alice, 'h1', `${id}'s heading`);

  // A dialog starts in its field, keeps Tab inside, and Escape gives focus back to its opener.
  await tabTo(alice, '[data-testid="revoke"]', 'Revoke');
  await alice.keyboard.press('Enter');
  await expectFocus(alice, '[data-testid="revoke-reason"]', 'the revoke reason');
  await expectFocusVisible(alice, 'the revoke reason');
  for (const key of [...Array(4).fill('Tab'), ...Array(4).fill('Shift+Tab')]) {
    await alice.keyboard.press(key);
    check(
      await alice.evaluate(
        () => !!document.activeElement?.closest('[data-testid="revoke-dialog"]'),
      ),
      `${key} left the open dialog for ${await describeFocus(alice)}`,
    );
  }
  await alice.keyboard.press('Escape');
  await expectFocus(alice, '[data-testid="revoke"]', 'Revoke again after Escape');
  await waitForStatus(alice, id, 'PENDING', 1_000);

  // A second request waits beside it, for the approver to reject.
  const other = await api('bob', 'POST', '/api/v1/access-requests', {
    integration: 'pg-local',
    resource_type: 'database',
    resources: ['billing'],
    permissions: ['admin'],
    duration: '2h',
    justification: 'Drop the old invoice tables',
  });
  check(other.status === 201, `bob's request: ${other.status} ${other.text}`);
  const second = other.json.id;

  // The approver: to Approvals from the navigation, Approve on alice's row, Reject on bob's.
  const approver = await (await context(browser)).newPage();
  await signInByKeyboard(approver, 'approver');
  await expectFocus(approver, 'h1', 'the My requests heading');
  await tabTo(approver, '[data-testid="nav-approvals"]', 'Approvals in the navigation', {
    key: 'Shift+Tab',
  });
  await expectFocusVisible(approver, 'Approvals in the navigation');
  await approver.keyboard.press('Enter');
  await expectFocus(approver, 'h1', 'the Approvals heading');
  await waitFor(
    async () =>
      (await approver.getByTestId(`approval-row-${id}`).count()) === 1 &&
      (await approver.getByTestId(`approval-row-${second}`).count()) === 1,
    10_000,
    `${id} and ${second} in the approver's list`,
  );
  await tabTo(
    approver,
    `[data-testid="approval-row-${id}"] [data-testid="approve-one"]`,
    `Approve ${id}`,
  );
  await expectFocusVisible(approver, `Approve ${id}`);
  await approver.keyboard.press('Enter');
  // Approving is safe to confirm: the dialog starts on its button.
  await expectFocus(
    approver,
    '[data-testid="approve-dialog-confirm"]',
    'the Approve button of the dialog',
  );
  await expectFocusVisible(approver, 'the Approve button of the dialog');
  await approver.keyboard.press('Enter');
  await waitFor(
    async () =>
      ['GRANTING', 'ACTIVE'].includes(
        (await api('alice', 'GET', `/api/v1/access-requests/${id}`)).json?.status,
      ),
    10_000,
    `${id} approved at the broker`,
  );
  // The approved row is gone: focus goes to what the decision did, not to the page's start.
  await expectFocus(approver, '[data-testid="decision-results"]', 'the decision results');
  await waitForStatus(alice, id, 'ACTIVE', 20_000, "alice's open page");

  await tabTo(
    approver,
    `[data-testid="approval-row-${second}"] [data-testid="reject-one"]`,
    `Reject ${second}`,
  );
  await approver.keyboard.press('Enter');
  await expectFocus(approver, '[data-testid="reject-reason"]', 'the reject reason');
  await approver.keyboard.type('Not before the invoices are archived.');
  await tabTo(
    approver,
    '[data-testid="reject-dialog-confirm"]',
    'the Reject button of the dialog',
    { max: 4 },
  );
  await expectFocusVisible(approver, 'the Reject button of the dialog');
  await approver.keyboard.press('Enter');
  await waitFor(
    async () =>
      (await api('bob', 'GET', `/api/v1/access-requests/${second}`)).json?.status === 'REJECTED',
    10_000,
    `${second} rejected at the broker`,
  );
  const rejected = (await api('bob', 'GET', `/api/v1/access-requests/${second}`)).json;
  check(
    rejected.reason === 'Not before the invoices are archived.' &&
      rejected.decided_by === 'approver',
    `the rejection made by keyboard: ${JSON.stringify(rejected)}`,
  );
  await expectFocus(approver, '[data-testid="decision-results"]', 'the decision results');
  console.log(`${id} approved and ${second} rejected with the keyboard alone`);
}
