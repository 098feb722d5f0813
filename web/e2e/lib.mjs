// What every browser scenario shares: the broker the C++ test started (from the environment),
// Debian's Chromium driven by playwright-core, sign-in, the API as a dev user, and waits that
// say what they awaited and what they saw.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';

/** The broker under test, as the C++ test describes it. */
export const env = {
  url: required('APONO_URL'),
  creds: JSON.parse(readFileSync(required('APONO_DEV_CREDENTIALS'), 'utf8')),
  pgHost: process.env.APONO_PG_HOST ?? '127.0.0.1',
  pgPort: process.env.APONO_PG_PORT ?? '',
  outDir: process.env.APONO_E2E_OUT ?? '',
};

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the C++ test sets it)`);
  return v;
}

/** A dev user's password for signing in. */
export function password(user) {
  const u = devUser(user);
  if (!u.password) throw new Error(`no password for ${user} in the dev credentials`);
  return u.password;
}

function devUser(name) {
  const u = (env.creds.users ?? []).find((x) => x.name === name);
  if (!u) throw new Error(`no dev user ${name} in the dev credentials`);
  return u;
}

/** Debian's Chromium, headless, with nothing reaching past loopback. */
export async function launch() {
  const b = await chromium.launch({
    executablePath: process.env.APONO_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  browsers.push(b);
  return b;
}

/** Every browser launched; run.mjs closes them once the scenario is over. */
export const browsers = [];

/** A fresh browser context (its own cookies), trusting the broker's dev certificate. */
export async function context(browser, options = {}) {
  // The broker's certificate is from its own dev CA; this is loopback only.
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  const newPage = ctx.newPage.bind(ctx);
  ctx.newPage = async () => {
    const p = await newPage();
    openPages.push(p);
    p.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${p.url()}: ${m.text()}`));
    p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${e}`));
    return p;
  };
  return ctx;
}

/** Every page the scenario opened, and what their consoles reported as errors. */
export const openPages = [];
export const consoleErrors = [];

/** On failure: each open page's URL, its text, and a screenshot, so the log shows what was seen. */
export async function describePages(dir) {
  const out = [];
  for (const [i, p] of openPages.entries()) {
    if (p.isClosed()) continue;
    let text = '';
    try {
      // A failure report is a log: revealed credentials are blanked before it is taken.
      await p.evaluate(() =>
        document.querySelectorAll('[data-testid="access-details-revealed"]').forEach((e) => {
          e.textContent = '(revealed credentials left out of this report)';
        }),
      );
      text = (await p.locator('body').innerText({ timeout: 2000 })).slice(0, 1500);
      if (dir) await p.screenshot({ path: `${dir}/page-${i}.png`, fullPage: true, timeout: 5000 });
    } catch (e) {
      text += ` (${e.message.split('\n')[0]})`;
    }
    out.push(`page ${i} ${p.url()}${dir ? ` (screenshot ${dir}/page-${i}.png)` : ''}:\n${text}`);
  }
  if (consoleErrors.length) out.push('console errors:\n' + consoleErrors.join('\n'));
  return out.join('\n---\n');
}

/** Signs `user` in on `page` and waits for the signed-in header. */
export async function signIn(page, user) {
  await page.goto(env.url + '/');
  await page.getByTestId('sign-in-username').fill(user);
  await page.getByTestId('sign-in-password').fill(password(user));
  await page.getByTestId('sign-in-submit').click();
  await expectText(page.getByTestId('signed-in-user'), user, 10_000, `${user} signed in`);
}

/** Calls the API as a dev user with their bearer token (the CLI's way in). */
export async function api(user, method, path, body) {
  const token = devUser(user).token;
  if (!token) throw new Error(`no token for ${user} in the dev credentials`);
  const res = await fetch(env.url + path, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** When the broker recorded request `id` entering `status`, from the admin's event feed. */
export async function statusChangedAt(id, status) {
  const r = await api('admin', 'GET', `/api/v1/audit?request=${encodeURIComponent(id)}&limit=1000`);
  const ev = (r.json ?? []).find((e) => e.status === status);
  if (!ev) throw new Error(`no ${status} event for ${id} in ${r.text.slice(0, 500)}`);
  return Date.parse(ev.at);
}

/** Waits until `cond()` is truthy; fails saying what was awaited and what was last seen. */
export async function waitFor(cond, timeoutMs, what, seen = () => '') {
  const start = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - start > timeoutMs)
      throw new Error(`waited ${timeoutMs} ms for ${what}; saw: ${await seen()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for a locator's text to contain `text`. */
export async function expectText(locator, text, timeoutMs, what) {
  await waitFor(
    async () =>
      (await locator.count()) > 0 ? (await locator.first().innerText()).includes(text) : false,
    timeoutMs,
    what,
    async () =>
      (await locator.count()) > 0
        ? JSON.stringify(await locator.first().innerText())
        : 'no such element',
  );
}

/** The request page's status (its data-status attribute), or '' when not shown. */
export async function pageStatus(page) {
  const el = page.getByTestId('request-page');
  return (await el.count()) > 0 ? ((await el.getAttribute('data-status')) ?? '') : '';
}

/** Runs psql as `user` with `password` against `db` on the target PostgreSQL. */
export function psql(user, pw, db, sql) {
  const r = spawnSync(
    'psql',
    [
      '-X',
      '-tA',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      env.pgHost,
      '-p',
      env.pgPort,
      '-U',
      user,
      '-d',
      db,
      '-c',
      sql,
    ],
    {
      env: { ...process.env, PGPASSWORD: pw, PGCONNECT_TIMEOUT: '10' },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

/** Asserts `cond`, or fails with `message`. */
export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** Fills the New request form for one resource and permission of the postgresql integration,
 * submits it and returns the created request's id (the page stays on New request). */
export async function requestThroughForm(
  page,
  user,
  { resource, permission, duration, justification },
) {
  await page.goto(env.url + '/requests/new');
  const integrations = await api(user, 'GET', '/api/v1/integrations');
  const pg = (integrations.json ?? []).find((i) => i.type === 'postgresql');
  check(pg, `no postgresql integration in ${integrations.text}`);
  await page.getByTestId('integration').selectOption(pg.id);
  await waitFor(
    async () => (await page.getByTestId('resource-type').locator('option').count()) > 1,
    10_000,
    'resource types',
  );
  await page.getByTestId('resource-type').selectOption({ index: 1 });
  await page.locator(`[data-testid="resources-option"][value="${resource}"]`).check();
  await page.locator(`[data-testid="permissions-option"][value="${permission}"]`).check();
  await page.getByTestId('duration').fill(duration);
  await page.getByTestId('justification').fill(justification);
  await waitFor(
    async () => (await page.getByTestId('plan-group').count()) >= 1,
    10_000,
    'the plan',
    async () => await page.getByTestId('checkout').innerText(),
  );
  await page.getByTestId('submit-request').click();
  // One request opens its own page; several are listed on the form.
  const created = page.getByTestId('created-requests').locator('a');
  const id = await waitFor(
    async () => {
      const m = /\/requests\/(AR-\d+)$/.exec(new URL(page.url()).pathname);
      if (m) return m[1];
      return (await created.count()) >= 1 ? (await created.first().innerText()).trim() : null;
    },
    15_000,
    'the created request (its page, or the list of those made)',
    async () =>
      `${page.url()} ${await page
        .locator('main')
        .innerText()
        .catch(() => '')}`.slice(0, 800),
  );
  check(/^AR-\d+$/.test(id), `created request id: ${id}`);
  return id;
}

/** Waits for the request page on `page` to show request `id` in `status`. */
export async function waitForStatus(page, id, status, timeoutMs, where = 'its page') {
  await waitFor(
    async () => (await pageStatus(page)) === status,
    timeoutMs,
    `${id} ${status} on ${where}`,
    () => pageStatus(page),
  );
}

/** Opens request `id`'s page and waits for it to show `status`. */
export async function openRequest(page, id, status, timeoutMs = 20_000) {
  await page.goto(`${env.url}/requests/${id}`);
  await waitForStatus(page, id, status, timeoutMs);
}

/** Waits for an open page to follow request `id` into `status` without a reload, and checks it
 * did so within 1 s of the broker recording the change. */
export async function expectFollowed(page, id, status, timeoutMs, where) {
  await waitForStatus(page, id, status, timeoutMs, where);
  const shownAt = Date.now();
  const lag = shownAt - (await statusChangedAt(id, status));
  console.log(`${status} shown ${lag} ms after the broker recorded it`);
  check(lag <= 1000, `${status} shown ${lag} ms after the broker recorded it (bound 1 s)`);
}
