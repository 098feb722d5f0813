// Must show 5, axe half: axe-core finds no serious or critical violation on any screen of the
// portal, each with the content it has in use (requests in every state, revealed credentials, a
// plan across two flows, open dialogs, the audit log), in the light and the dark theme and at
// 1280×800 and 390×844. The theme must follow the OS, and no screen may scroll sideways on the
// phone. Every problem of every screen is listed before the scenario fails, so one run shows
// all there is to fix.
//
// APONO_A11Y_SIZES=desktop or phone runs one size (both themes); unset, both sizes.
import AxeBuilder from '@axe-core/playwright';
import { createRequire } from 'node:module';
import { api, check, context, env, launch, password, waitFor, waitForStatus } from './lib.mjs';

const SIZES = {
  desktop: { label: '1280×800', viewport: { width: 1280, height: 800 } },
  phone: {
    label: '390×844',
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  },
};

// The page background each theme paints (theme.css's --bg): how the scenario knows the theme
// followed the OS's preference rather than stayed light.
const BACKGROUND = { light: 'rgb(246, 247, 249)', dark: 'rgb(15, 19, 24)' };

// axe-core as @axe-core/playwright loads it (its dependency, not the portal's). It is put in
// every page as the page loads; AxeBuilder is then handed a one-line source that only checks it
// is there, instead of sending the 550 KB script over the DevTools pipe twice per run, which
// on a busy 2-core machine cost more than the analysis.
const axeSource = createRequire(import.meta.resolve('@axe-core/playwright'))('axe-core').source;
const AXE_LOADED = 'if (!window.axe) throw new Error("axe-core is not in the page");';

const pg = { integration: 'pg-local', resource_type: 'database' };

/** Makes a request as `user` through the API and returns its id. */
async function create(user, resources, permissions, duration, justification) {
  const r = await api(user, 'POST', '/api/v1/access-requests', {
    ...pg,
    resources,
    permissions,
    duration,
    justification,
  });
  check(r.status === 201, `${user} creating ${resources}/${permissions}: ${r.status} ${r.text}`);
  return r.json.id;
}

async function act(user, id, action, body = {}) {
  const r = await api(user, 'POST', `/api/v1/access-requests/${id}/${action}`, body);
  check(r.status === 200, `${user} ${action} ${id}: ${r.status} ${r.text}`);
}

async function brokerStatus(user, id, status) {
  let seen = '';
  await waitFor(
    async () => {
      const r = await api(user, 'GET', `/api/v1/access-requests/${id}`);
      seen = r.json?.status ?? r.text;
      return seen === status;
    },
    20_000,
    `${id} ${status} at the broker`,
    () => seen,
  );
}

/** Requests in every state a screen shows: alice's open and closed ones, bob's waiting for the
 * approver, and decisions in the approver's history. */
async function seed() {
  const ids = {
    active: await create('alice', ['appdb'], ['read_only'], '2h', 'INC-1042: weekly report'),
    active2: await create('alice', ['billing', 'orders'], ['read_only'], '45m', 'March invoices'),
    pending: await create('alice', ['appdb'], ['read_write'], '1h', 'INC-1043: fix a bad row'),
    rejected: await create('alice', ['payments'], ['read_write'], '30m', 'Backfill the refunds'),
    revoked: await create('alice', ['inventory'], ['read_only'], '1h', 'Count the stock'),
    bobPending: await create('bob', ['orders', 'shipping'], ['admin'], '4h', 'CHG-2201: migrate'),
    bobApproved: await create('bob', ['sessions'], ['read_write'], '1h', 'Clear stale sessions'),
  };
  await act('approver', ids.rejected, 'reject', {
    reason: 'Not during the change freeze: ask again on Monday.',
  });
  await act('approver', ids.bobApproved, 'approve');
  for (const id of [ids.active, ids.active2, ids.revoked])
    await brokerStatus('alice', id, 'ACTIVE');
  await brokerStatus('bob', ids.bobApproved, 'ACTIVE');
  await act('alice', ids.revoked, 'revoke', { reason: 'done early' });
  await brokerStatus('alice', ids.revoked, 'REVOKED');
  return ids;
}

/** A page in a fresh context with `options`, axe loaded in each document, and `user` (if any)
 * signed in through the sign-in endpoint (the form itself is audited with alice's). */
async function openPage(browser, options, user) {
  const ctx = await context(browser, options);
  await ctx.addInitScript({ content: axeSource });
  if (user) {
    const r = await ctx.request.post(env.url + '/api/v1/browser-session', {
      data: { username: user, password: password(user) },
      // What the portal's own sign-in sends: the broker refuses it from anywhere else.
      headers: { 'X-Apono-CSRF': '1', Origin: new URL(env.url).origin },
    });
    check(r.ok(), `signing ${user} in: ${r.status()} ${await r.text()}`);
  }
  return ctx.newPage();
}

const shown = async (locator, n = 1) => (await locator.count()) === n;

export default async function () {
  const started = Date.now();
  const sizes = (process.env.APONO_A11Y_SIZES ?? 'desktop,phone').split(',');
  for (const s of sizes) check(SIZES[s], `APONO_A11Y_SIZES: no size ${s}`);
  const variants = sizes.flatMap((s) =>
    ['light', 'dark'].map((theme) => ({
      theme,
      size: SIZES[s],
      name: `${theme} ${SIZES[s].label}`,
    })),
  );
  const ids = await seed();
  const browser = await launch();

  const problems = [];
  let audits = 0;

  // Runs axe on what `page` shows now, as screen `screen` of variant `v`.
  const audit = async (page, v, screen) => {
    // A screen is audited as it rests, not halfway through a button's colour transition (Reveal
    // turning into Hide is the same button, fading from the accent to the plain colours).
    await page.evaluate(() => Promise.allSettled(document.getAnimations().map((a) => a.finished)));
    const t0 = Date.now();
    // Legacy mode runs axe in the page itself: the portal has no frames, and the default mode
    // opens a blank page per run only to merge the frames' results.
    const r = await new AxeBuilder({ page, axeSource: AXE_LOADED })
      .setLegacyMode(true)
      .options({ resultTypes: ['violations'] })
      .analyze();
    audits++;
    const bad = r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical');
    for (const x of bad) {
      const nodes = x.nodes.slice(0, 6).map((n) => `${n.target.join(' ')}${detail(n)}`);
      const more = x.nodes.length > 6 ? ` (+${x.nodes.length - 6} more)` : '';
      problems.push(
        `${v.name} · ${screen}: ${x.id} (${x.impact}): ${x.help} — ${nodes.join('; ')}${more}`,
      );
    }
    if (v.size === SIZES.phone) {
      const { scroll, width } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        width: window.innerWidth,
      }));
      if (scroll > width)
        problems.push(
          `${v.name} · ${screen}: the page scrolls sideways (${scroll} px in ${width})`,
        );
    }
    const lesser = r.violations
      .filter((x) => !bad.includes(x))
      .map((x) => `${x.id} (${x.impact})`)
      .join(', ');
    console.log(
      `axe ${v.name} · ${screen}: ` +
        (bad.length ? `${bad.length} serious or critical` : 'no serious or critical violation') +
        (lesser ? `; lesser: ${lesser}` : '') +
        ` [${Date.now() - t0} ms]`,
    );
  };

  // The screens of one variant, in the order a user meets them. Each user's screens are one
  // page reached through the portal's own links, as a user gets there: a page load per screen
  // would cost more than its audit on a busy machine.
  const screens = async (v) => {
    const { label: _, ...size } = v.size;
    const options = { ...size, colorScheme: v.theme };
    const click = (page, testId) => page.getByTestId(testId).first().click();
    const openRequest = async (page, id, status) => {
      await page.locator(`a[href="/requests/${id}"]`).first().click();
      await waitForStatus(page, id, status, 10_000);
    };

    // alice: sign in (after a wrong password), My requests, her requests in each state, New
    // request. The theme must be the OS's.
    const alice = await openPage(browser, options);
    await alice.goto(env.url + '/');
    await alice.getByTestId('sign-in-username').fill('alice');
    await alice.getByTestId('sign-in-password').fill(password('alice') + 'x');
    await click(alice, 'sign-in-submit');
    await waitFor(() => shown(alice.getByTestId('sign-in-error')), 10_000, 'the sign-in error');
    const bg = await alice.evaluate(
      () => getComputedStyle(document.documentElement).backgroundColor,
    );
    if (bg !== BACKGROUND[v.theme])
      problems.push(`${v.name}: the page's background is ${bg}, not the ${v.theme} theme's`);
    await audit(alice, v, 'Sign in, after a wrong password');
    await alice.getByTestId('sign-in-password').fill(password('alice'));
    await click(alice, 'sign-in-submit');

    const row = (id) => alice.getByTestId(`request-row-${id}`);
    await waitFor(
      async () => (await shown(row(ids.pending))) && (await shown(row(ids.active))),
      10_000,
      'the open requests',
    );
    await audit(alice, v, 'My requests, Open');
    await click(alice, 'tab-closed');
    await waitFor(() => shown(row(ids.rejected)), 10_000, 'the closed requests');
    await audit(alice, v, 'My requests, Closed');

    await click(alice, 'tab-open');
    await openRequest(alice, ids.active, 'ACTIVE');
    await waitFor(() => shown(alice.getByTestId('connect-commands')), 10_000, 'access details');
    await audit(alice, v, `${ids.active} ACTIVE, credentials hidden`);
    await click(alice, 'reveal-credentials');
    await waitFor(() => shown(alice.getByTestId('credential-password')), 10_000, 'credentials');
    await audit(alice, v, `${ids.active} ACTIVE, credentials revealed`);
    await click(alice, 'hide-credentials');
    await click(alice, 'revoke');
    await alice.getByTestId('revoke-reason').fill('finished the report');
    await audit(alice, v, `${ids.active}, the Revoke dialog`);
    await alice.keyboard.press('Escape');
    await waitFor(() => shown(alice.getByTestId('revoke-reason'), 0), 5_000, 'the dialog closed');

    await alice.getByRole('link', { name: 'My requests' }).last().click();
    await openRequest(alice, ids.pending, 'PENDING');
    await waitFor(
      async () => (await alice.getByTestId('approvers').innerText()).includes('approver'),
      10_000,
      'the approvers of the pending request',
    );
    await audit(alice, v, `${ids.pending} PENDING`);

    await alice.getByRole('link', { name: 'My requests' }).last().click();
    await click(alice, 'tab-closed');
    await openRequest(alice, ids.rejected, 'REJECTED');
    await waitFor(() => shown(alice.getByTestId('decision-reason')), 10_000, 'the reason');
    await audit(alice, v, `${ids.rejected} REJECTED, with its reason`);
    await click(alice, 'request-again');
    await waitFor(() => shown(alice.getByTestId('again-cli')), 5_000, 'the request-again dialog');
    await audit(alice, v, `${ids.rejected}, the Request again dialog`);
    await alice.keyboard.press('Escape');

    // A selection across two access flows: one automatic, one that waits for the approver.
    await click(alice, 'nav-new-request');
    await alice.getByTestId('integration').selectOption('pg-local');
    await waitFor(() => shown(alice.getByTestId('resources-search')), 10_000, 'the resources');
    await alice.getByTestId('resources-search').fill('d');
    for (const db of ['appdb', 'orders'])
      await alice.locator(`[data-testid="resources-option"][value="${db}"]`).check();
    for (const p of ['read_only', 'read_write'])
      await alice.locator(`[data-testid="permissions-option"][value="${p}"]`).check();
    await alice.getByTestId('duration').fill('1h30m');
    await alice.getByTestId('justification').fill('INC-1050: compare orders with the ledger');
    await waitFor(
      async () =>
        (await shown(alice.getByTestId('plan-group'), 2)) &&
        !(await alice.getByTestId('submit-request').isDisabled()),
      10_000,
      'the plan of two groups',
      () => alice.getByTestId('checkout').innerText(),
    );
    await audit(alice, v, 'New request, a selection and its review');
    await alice.context().close();

    // The approver: pending requests, the reject dialog, a pending request's page, the history.
    const approver = await openPage(browser, options, 'approver');
    await approver.goto(env.url + '/approvals');
    const bobRow = approver.getByTestId(`approval-row-${ids.bobPending}`);
    await waitFor(
      async () =>
        (await shown(bobRow)) && (await shown(approver.getByTestId(`approval-row-${ids.pending}`))),
      10_000,
      'the pending requests',
    );
    await bobRow.getByTestId('approval-select').check();
    await audit(approver, v, 'Approvals, Pending, one selected');
    await bobRow.getByTestId('reject-one').click();
    await approver.getByTestId('reject-reason').fill('Use the migration window on Thursday.');
    await audit(approver, v, 'Approvals, the Reject dialog with a reason');
    await approver.keyboard.press('Escape');

    await openRequest(approver, ids.bobPending, 'PENDING');
    await audit(approver, v, `${ids.bobPending} PENDING, as its approver`);

    await click(approver, 'nav-approvals');
    await click(approver, 'tab-history');
    await waitFor(
      async () => (await approver.getByTestId('history-table').locator('tbody tr').count()) >= 2,
      10_000,
      'the approver’s decisions',
    );
    await audit(approver, v, 'Approvals, History');
    await approver.context().close();

    // The admin: the audit log and the catalog.
    const admin = await openPage(browser, options, 'admin');
    await admin.goto(env.url + '/admin/audit');
    await waitFor(
      async () => (await admin.getByTestId('audit-table').locator('tbody tr').count()) >= 10,
      10_000,
      'the audit log',
    );
    await audit(admin, v, 'Audit log');
    await click(admin, 'nav-integrations');
    const summaries = admin.getByTestId('integration-list').locator('summary');
    await waitFor(() => shown(summaries, 2), 10_000, 'the integrations');
    await summaries.first().click();
    await waitFor(
      async () => (await admin.getByTestId('integration-list').innerText()).includes('inventory'),
      10_000,
      'the catalog of the first integration',
    );
    await audit(admin, v, 'Integrations, one opened');
    await admin.context().close();
  };
  // The themes of a size side by side: much of each variant's time is spent waiting (for the
  // broker, for the plan's debounce), which the other one fills.
  await Promise.all(variants.map(screens));

  check(
    problems.length === 0,
    `${problems.length} accessibility problem(s) in ${audits} audits:\n${problems.join('\n')}`,
  );
  console.log(
    `${audits} screens audited in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      'no serious or critical violation',
  );
}

// What axe says about one failing element, in a line (for a contrast: the colours and ratio).
function detail(node) {
  const m = node.any?.[0]?.message ?? node.all?.[0]?.message ?? node.none?.[0]?.message ?? '';
  return m ? ` [${m.replace(/\s+/g, ' ').slice(0, 160)}]` : '';
}
