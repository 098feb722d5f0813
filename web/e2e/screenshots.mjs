// The pictures in docs/portal/: seeds a fresh dev broker with requests in every status through
// the API, then shoots each main screen in light and dark, at desktop and phone size, into
// $APONO_SCREENSHOTS_OUT as SCREEN-SCHEME-DEVICE.png. Run by scripts/portal-screenshots (through
// run.mjs, so a failure reports the pages it had open); not a test: it checks only what it needs
// to wait for.
import {
  api,
  check,
  context,
  env,
  expectText,
  launch,
  openRequest,
  signIn,
  waitFor,
} from './lib.mjs';

const out = process.env.APONO_SCREENSHOTS_OUT;
if (!out) throw new Error('APONO_SCREENSHOTS_OUT is not set (scripts/portal-screenshots sets it)');

const schemes = ['light', 'dark'];
// deviceScaleFactor 1 keeps the files small; the phone is an iPhone 12-14's CSS size.
const devices = {
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  phone: {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
  },
};

export default async function () {
  const ids = await seed();
  const browser = await launch();
  // One sign-in per user, shared by every picture: the audit log then reads the same in each.
  const signedIn = {};
  for (const user of ['alice', 'approver', 'admin']) {
    const ctx = await context(browser);
    await signIn(await ctx.newPage(), user);
    signedIn[user] = await ctx.storageState();
    await ctx.close();
  }
  for (const device of Object.keys(devices)) {
    for (const scheme of schemes) {
      const options = {
        ...devices[device],
        colorScheme: scheme,
        // The same words and clock face on every machine that runs it.
        locale: 'en-US',
        timezoneId: 'UTC',
        reducedMotion: 'reduce',
      };
      const shot = shooter(device, scheme);
      const as = async (user) => {
        const ctx = await context(browser, { ...options, storageState: signedIn[user] });
        return ctx.newPage();
      };
      await shootSignIn(await as(null), shot);
      await shootAlice(await as('alice'), shot, ids);
      await shootApprover(await as('approver'), shot, ids);
      await shootAdmin(await as('admin'), shot);
      for (const ctx of browser.contexts()) await ctx.close();
    }
  }
}

/** A function that saves `page` as NAME-SCHEME-DEVICE.png, scrolled to the top, with nothing
 * focused or hovered. */
function shooter(device, scheme) {
  return async (page, name, { fullPage = device === 'phone' } = {}) => {
    // Filling the form scrolls; a sticky column would be caught mid-page, and a focus ring or
    // a hovered row is not part of the screen.
    await page.evaluate(() => {
      document.activeElement?.blur?.();
      window.scrollTo(0, 0);
    });
    await page.mouse.move(0, 0);
    const path = `${out}/${name}-${scheme}-${device}.png`;
    await page.screenshot({ path, fullPage, animations: 'disabled', caret: 'hide' });
    console.log(path);
  };
}

/** Requests in every status, alice's and bob's, and the approver's decisions on some. */
async function seed() {
  const create = async (user, body) => {
    const r = await api(user, 'POST', '/api/v1/access-requests', {
      integration: 'pg-local',
      resource_type: 'database',
      ...body,
    });
    check(r.status === 201, `${user} creating ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    return r.json.id;
  };
  const act = async (user, id, action, body = {}) => {
    const r = await api(user, 'POST', `/api/v1/access-requests/${id}/${action}`, body);
    check(r.status === 200, `${user} ${action} ${id}: ${r.status} ${r.text}`);
  };
  const reach = (user, id, status, timeoutMs = 30_000) => {
    const get = async () => (await api(user, 'GET', `/api/v1/access-requests/${id}`)).json;
    return waitFor(
      async () => (await get())?.status === status,
      timeoutMs,
      `${id} ${status}`,
      async () => JSON.stringify(await get()),
    );
  };

  // Oldest first, as the lists show newest first. The database `legacy` was dropped after
  // aponod listed it, so granting it fails (after a few retries, hence first).
  const failed = await create('alice', {
    resources: ['legacy'],
    permissions: ['read_only'],
    duration: '1h',
    justification: 'INC-4090: compare with the invoices of 2019',
  });
  const expired = await create('alice', {
    resources: ['analytics'],
    permissions: ['read_only'],
    duration: '5s',
    justification: 'Look at the size of the events table',
  });
  const revoked = await create('alice', {
    resources: ['billing'],
    permissions: ['read_only'],
    duration: '1h',
    justification: 'Export the March invoices for finance',
  });
  await reach('alice', revoked, 'ACTIVE');
  await act('alice', revoked, 'revoke', { reason: 'Export done' });
  const rejected = await create('alice', {
    resources: ['appdb'],
    permissions: ['read_write'],
    duration: '30m',
    justification: 'Delete the duplicate orders by hand',
  });
  await act('approver', rejected, 'reject', {
    reason: 'Not by hand: add it to the cleanup migration in #812',
  });
  const bobActive = await create('bob', {
    resources: ['appdb'],
    permissions: ['read_write'],
    duration: '1h',
    justification: 'INC-4131: replay the stuck payment webhooks',
  });
  await act('approver', bobActive, 'approve');
  const pending = await create('alice', {
    resources: ['billing'],
    permissions: ['read_write'],
    duration: '1h',
    justification: 'INC-4127: correct the tax rate on invoice 20931',
  });
  await create('bob', {
    resources: ['analytics'],
    permissions: ['admin'],
    duration: '2h',
    justification: 'Add the index on events(created_at) before the report run',
  });
  await create('bob', {
    resources: ['billing'],
    permissions: ['read_write'],
    duration: '45m',
    justification: 'Backfill the currency column',
  });
  const ssh = await create('alice', {
    integration: 'ssh-local',
    resource_type: 'host',
    resources: ['local-sshd'],
    permissions: ['deploy'],
    duration: '30m',
    justification: 'Read the worker logs after the deploy',
  });
  const active = await create('alice', {
    resources: ['appdb'],
    permissions: ['read_only'],
    duration: '2h',
    justification: 'INC-4127: check which orders used the old tax rate',
  });

  await reach('alice', active, 'ACTIVE');
  await reach('alice', ssh, 'ACTIVE');
  await reach('bob', bobActive, 'ACTIVE');
  await reach('alice', revoked, 'REVOKED');
  await reach('alice', expired, 'EXPIRED');
  await reach('alice', failed, 'FAILED', 90_000);
  return { active, ssh, pending, rejected, revoked, expired, failed, bobActive };
}

async function shootSignIn(page, shot) {
  await page.goto(env.url + '/');
  await page.getByTestId('sign-in-submit').waitFor();
  await shot(page, 'sign-in', { fullPage: false });
}

async function shootAlice(page, shot, ids) {
  await page.goto(env.url + '/requests');
  await rows(page, 'request-row', [ids.active, ids.ssh, ids.pending]);
  await shot(page, 'my-requests');

  await page.goto(env.url + '/requests/closed');
  await rows(page, 'request-row', [ids.rejected, ids.revoked, ids.expired, ids.failed]);
  await shot(page, 'my-requests-closed');

  // Credentials stay hidden: the page shows how to connect without them.
  await openRequest(page, ids.active, 'ACTIVE');
  await page.getByTestId('connect-commands').waitFor();
  await page.getByTestId('timeline').waitFor();
  await shot(page, 'request-active', { fullPage: true });

  await openRequest(page, ids.rejected, 'REJECTED');
  await page.getByTestId('decision-reason').waitFor();
  // The timeline first tells the decision from the request alone, then from the feed's event
  // once the feed has caught up (with the status it led to): wait for the second telling.
  await expectText(
    page.getByTestId('timeline'),
    '→ REJECTED',
    10_000,
    'the rejection in the timeline',
  );
  await shot(page, 'request-rejected', { fullPage: true });

  // Two databases, two permissions: read_only is automatic, read_write waits for the approver,
  // so the review splits the selection in two requests.
  await page.goto(env.url + '/requests/new');
  await page.locator('[data-testid="integration"] option[value="pg-local"]').waitFor({
    state: 'attached',
  });
  await page.getByTestId('integration').selectOption('pg-local');
  await waitFor(
    async () => (await page.getByTestId('resource-type').locator('option').count()) > 1,
    10_000,
    'resource types',
  );
  await page.getByTestId('resource-type').selectOption('database');
  for (const r of ['appdb', 'billing'])
    await page.locator(`[data-testid="resources-option"][value="${r}"]`).check();
  for (const p of ['read_only', 'read_write'])
    await page.locator(`[data-testid="permissions-option"][value="${p}"]`).check();
  await page.getByTestId('duration').fill('2h');
  await page.getByTestId('justification').fill('INC-4127: correct the tax rate on the open orders');
  await waitFor(
    async () => (await page.getByTestId('plan-group').count()) === 2,
    10_000,
    'the plan in two groups',
    async () => await page.getByTestId('checkout').innerText(),
  );
  await page.getByTestId('cli-commands').waitFor();
  await shot(page, 'new-request', { fullPage: true });
}

async function shootApprover(page, shot, ids) {
  await page.goto(env.url + '/approvals');
  await rows(page, 'approval-row', [ids.pending]);
  await shot(page, 'approvals');

  await page.goto(env.url + '/approvals/history');
  const history = page.getByTestId('history-table');
  await waitFor(
    async () => (await history.count()) === 1 && (await history.innerText()).includes(ids.rejected),
    10_000,
    'the approver history',
  );
  await shot(page, 'approvals-history');
}

async function shootAdmin(page, shot) {
  await page.goto(env.url + '/admin/audit');
  const table = page.getByTestId('audit-table');
  await waitFor(
    async () => (await table.count()) === 1 && (await table.locator('tbody tr').count()) >= 10,
    10_000,
    'the audit log',
  );
  // The newest screenful: the whole log is hundreds of rows on a phone.
  await shot(page, 'audit-log', { fullPage: false });

  // Each integration opened, to show its resources and permissions.
  await page.goto(env.url + '/admin/integrations');
  const summaries = page.getByTestId('integration-list').locator('summary');
  await waitFor(async () => (await summaries.count()) === 2, 10_000, 'two integrations');
  for (const s of await summaries.all()) await s.click();
  await page.getByTestId('bundle-list').waitFor();
  await waitFor(
    async () => {
      const text = await page.getByTestId('integration-list').innerText();
      return text.includes('local-sshd') && !text.includes('Loading');
    },
    10_000,
    'the catalog of each integration',
  );
  await shot(page, 'integrations');
}

/** Waits for the rows `PREFIX-ID` of every id in `ids`. */
async function rows(page, prefix, ids) {
  for (const id of ids)
    await waitFor(
      async () => (await page.getByTestId(`${prefix}-${id}`).count()) === 1,
      10_000,
      `${prefix} ${id}`,
    );
}
