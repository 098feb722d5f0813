// Must show 4: the session cookie's flags; the Content-Security-Policy header, and an inline
// script in a served page refused by the browser; a cross-site POST carrying alice's cookie
// refused with 403 and nothing changed; a justification holding markup shown as text on every
// screen that shows it; no credential in storage or the page once hidden; the old cookie refused
// after sign-out.
import { api, check, context, env, launch, openRequest, signIn, waitFor } from './lib.mjs';

const cookieName = '__Host-apono_session';

async function sessionCookie(ctx) {
  const c = (await ctx.cookies(env.url)).find((x) => x.name === cookieName);
  check(c, `no ${cookieName} cookie after sign-in`);
  return c;
}

/** The API with a raw Cookie header and nothing else a browser would add unless given. */
async function withCookie(cookie, method, path, headers = {}, body) {
  const res = await fetch(env.url + path, {
    method,
    headers: {
      Cookie: `${cookieName}=${cookie}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function count(user) {
  const r = await api(user, 'GET', '/api/v1/access-requests?scope=mine&limit=500');
  check(r.status === 200, `listing: ${r.status} ${r.text}`);
  return r.json.length;
}

export default async function () {
  const browser = await launch();
  const ctx = await context(browser);
  const page = await ctx.newPage();
  await signIn(page, 'alice');

  // The cookie: host-only, Secure, HttpOnly, SameSite=Strict, and out of reach of scripts.
  const c = await sessionCookie(ctx);
  check(
    c.httpOnly &&
      c.secure &&
      c.sameSite === 'Strict' &&
      c.path === '/' &&
      !c.domain.startsWith('.'),
    `cookie flags: ${JSON.stringify({ ...c, value: '(left out)' })}`,
  );
  check(
    !(await page.evaluate(() => document.cookie)).includes(cookieName),
    'the session cookie is readable from script',
  );
  console.log('cookie: __Host- prefixed, HttpOnly, Secure, SameSite=Strict, host-only');

  // Headers on the page and on the API.
  const doc = await ctx.request.get(env.url + '/requests');
  const csp = doc.headers()['content-security-policy'] ?? '';
  for (const d of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
  ])
    check(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  check(!/unsafe-inline|unsafe-eval/.test(csp), `CSP allows inline or eval: ${csp}`);
  check(doc.headers()['x-content-type-options'] === 'nosniff', 'no nosniff on the page');
  check(doc.headers()['referrer-policy'] === 'no-referrer', 'no Referrer-Policy on the page');
  const html = await doc.text();
  check(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'the served page has an inline script');
  check(
    !/\son[a-z]+=/i.test(html) && !/<style/i.test(html),
    'the served page has inline handlers or style',
  );

  // A served page that tries inline script, an inline handler and inline style: the browser,
  // holding the broker's CSP header, runs and applies none of them.
  const tampered = await ctx.newPage();
  const violations = [];
  tampered.on(
    'console',
    (m) => /Content Security Policy/.test(m.text()) && violations.push(m.text()),
  );
  await tampered.route(env.url + '/csp-probe', async (route) => {
    const res = await route.fetch({ url: env.url + '/requests' });
    const body =
      (await res.text()).replace(
        '</head>',
        '<script>window.__inline = 1</script><style>body{background:rgb(1,2,3)}</style></head>',
      ) + '<img src="x" onerror="window.__handler = 1">';
    await route.fulfill({ response: res, body });
  });
  await tampered.goto(env.url + '/csp-probe');
  const kinds = [/inline script/, /inline style/, /inline event handler/];
  await waitFor(
    async () => kinds.every((k) => violations.some((v) => k.test(v))),
    5_000,
    'CSP violations reported for the inline script, style and event handler',
    () => JSON.stringify(violations),
  );
  const ran = await tampered.evaluate(() => ({
    inline: window.__inline,
    handler: window.__handler,
    bg: getComputedStyle(document.body).backgroundColor,
  }));
  check(
    ran.inline === undefined && ran.handler === undefined && ran.bg !== 'rgb(1, 2, 3)',
    `inline code ran: ${JSON.stringify(ran)}`,
  );
  await tampered.close();
  console.log(`CSP: inline script, handler and style refused (${violations.length} violations)`);

  // Cross-site POSTs with alice's cookie attached change nothing: no custom header and another
  // Origin; the header but another Origin; a cross-site fetch mode. The same call from the
  // portal's own origin with the header is accepted (a dry run, so it too changes nothing).
  const integrations = await api('alice', 'GET', '/api/v1/integrations');
  const pg = (integrations.json ?? []).find((i) => i.type === 'postgresql');
  const body = {
    integration: pg.id,
    resources: ['appdb'],
    permissions: ['read_only'],
    duration: '1h',
    justification: 'e2e: forged',
  };
  const before = await count('alice');
  const forged = [
    { Origin: 'https://evil.example' },
    { Origin: 'https://evil.example', 'X-Apono-CSRF': '1' },
    { 'Sec-Fetch-Site': 'cross-site', 'X-Apono-CSRF': '1' },
    {},
  ];
  for (const h of forged) {
    const r = await withCookie(c.value, 'POST', '/api/v1/access-requests', h, body);
    check(r.status === 403, `a cross-site POST with ${JSON.stringify(h)}: ${r.status} ${r.text}`);
  }
  // The browser's own request API, with the context's cookie jar, from a foreign origin.
  const fromBrowser = await ctx.request.post(env.url + '/api/v1/access-requests', {
    headers: { Origin: 'https://evil.example' },
    data: body,
  });
  check(fromBrowser.status() === 403, `the browser's cross-site POST: ${fromBrowser.status()}`);
  check((await count('alice')) === before, 'a forged POST made a request');
  const same = await withCookie(
    c.value,
    'POST',
    '/api/v1/access-requests',
    { Origin: env.url, 'X-Apono-CSRF': '1', 'Sec-Fetch-Site': 'same-origin' },
    { ...body, dry_run: true },
  );
  check(same.status === 200, `the same-origin dry run: ${same.status} ${same.text}`);
  console.log(`cross-site: ${forged.length + 1} forged POSTs refused with 403, nothing made`);

  // Markup in a justification is text on My requests, the request's page and Approvals.
  const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>';
  const evil = await api('alice', 'POST', '/api/v1/access-requests', {
    ...body,
    permissions: ['read_write'],
    justification: payload,
  });
  check(evil.status === 201, `the request with markup: ${evil.status} ${evil.text}`);
  const approverPage = await (await context(browser)).newPage();
  await signIn(approverPage, 'approver');
  const screens = [
    [page, '/requests', 'My requests'],
    [page, `/requests/${evil.json.id}`, 'its page'],
    [approverPage, '/approvals', 'Approvals'],
  ];
  for (const [p, path, where] of screens) {
    await p.goto(env.url + path);
    await waitFor(
      async () => (await p.locator('main').innerText()).includes('<img src=x onerror='),
      10_000,
      `the justification as text on ${where}`,
      async () => (await p.locator('main').innerText()).slice(0, 600),
    );
    const dom = await p.evaluate(() => ({
      xss: window.__xss,
      imgs: document.querySelectorAll('main img[src="x"], main script, main b').length,
    }));
    check(
      dom.xss === undefined && dom.imgs === 0,
      `markup became elements on ${where}: ${JSON.stringify(dom)}`,
    );
  }
  console.log('markup in a justification: text on My requests, its page and Approvals');

  // Credentials: revealed, hidden, and then nowhere in the page or the browser's storage.
  const granted = await api('alice', 'POST', '/api/v1/access-requests', {
    ...body,
    justification: 'e2e: credentials',
  });
  check(granted.status === 201, `the read_only request: ${granted.status} ${granted.text}`);
  await openRequest(page, granted.json.id, 'ACTIVE');
  await page.getByTestId('reveal-credentials').click();
  const pw = page.getByTestId('credential-password');
  await waitFor(async () => (await pw.count()) === 1, 10_000, 'the revealed password');
  const password = (await pw.innerText()).trim();
  check(password.length >= 16, 'a revealed password');
  await page.getByTestId('hide-credentials').click();
  await waitFor(async () => (await pw.count()) === 0, 5_000, 'the password hidden');
  const traces = await page.evaluate((secret) => {
    const found = [];
    const dump = (s) => {
      const out = [];
      for (let i = 0; i < s.length; i++) out.push(s.key(i) + '=' + s.getItem(s.key(i)));
      return out.join('\n');
    };
    if (dump(localStorage).includes(secret)) found.push('localStorage');
    if (dump(sessionStorage).includes(secret)) found.push('sessionStorage');
    if (document.documentElement.outerHTML.includes(secret)) found.push('the DOM');
    for (const el of document.querySelectorAll('input, textarea'))
      if (el.value.includes(secret)) found.push(`a field's value (${el.outerHTML.slice(0, 80)})`);
    if (document.title.includes(secret) || location.href.includes(secret))
      found.push('title or URL');
    return found;
  }, password);
  check(traces.length === 0, `the hidden password is still in: ${traces.join(', ')}`);
  console.log('credentials: gone from the page, localStorage and sessionStorage once hidden');

  // Sign-out ends the session at the broker: the old cookie is refused from then on.
  const old = (await sessionCookie(ctx)).value;
  check(
    (await withCookie(old, 'GET', '/api/v1/session')).status === 200,
    'the cookie before sign-out',
  );
  await page.getByTestId('sign-out').click();
  await waitFor(
    async () => (await page.getByTestId('sign-in-username').count()) === 1,
    5_000,
    'the sign-in screen after signing out',
  );
  const after = await withCookie(old, 'GET', '/api/v1/session');
  check(after.status === 401, `the old cookie after sign-out: ${after.status} ${after.text}`);
  const forgedAfter = await withCookie(
    old,
    'POST',
    '/api/v1/access-requests',
    { Origin: env.url, 'X-Apono-CSRF': '1' },
    body,
  );
  check(forgedAfter.status === 401, `a POST with the old cookie: ${forgedAfter.status}`);
  console.log('sign-out: the old cookie is refused (401)');
}
