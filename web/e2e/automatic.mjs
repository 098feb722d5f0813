// Must show 1: alice signs in, requests read_only on appdb through the form (an automatic
// flow), sees it ACTIVE, reveals the password and connects with psql, revokes, and the page
// shows REVOKED within 1 s of the broker recording it.
import {
  check,
  context,
  expectFollowed,
  launch,
  openRequest,
  psql,
  requestThroughForm,
  signIn,
  waitFor,
} from './lib.mjs';

export default async function () {
  const browser = await launch();
  const page = await (await context(browser)).newPage();
  await signIn(page, 'alice');

  const id = await requestThroughForm(page, 'alice', {
    resource: 'appdb',
    permission: 'read_only',
    duration: '1h',
    justification: 'e2e: read the orders table',
  });
  await openRequest(page, id, 'ACTIVE');

  // Credentials stay hidden until revealed.
  check(
    (await page.getByTestId('credential-password').count()) === 0,
    'the password is on the page before Reveal',
  );
  await page.getByTestId('reveal-credentials').click();
  const pw = page.getByTestId('credential-password');
  await waitFor(async () => (await pw.count()) === 1, 10_000, 'the revealed password');
  const user = (await page.getByTestId('credential-username').first().innerText()).trim();
  const password = (await pw.innerText()).trim();
  const r = psql(user, password, 'appdb', 'SELECT 42');
  check(
    r.status === 0 && r.out.trim() === '42',
    `psql with the revealed password: ${r.status} ${r.out}`,
  );
  await page.getByTestId('hide-credentials').click();
  check(!(await page.content()).includes(password), 'the password is still in the page after Hide');

  await page.getByTestId('revoke').click();
  await page.getByTestId('revoke-reason').fill('e2e: done');
  await page.getByTestId('revoke-dialog-confirm').click();
  await expectFollowed(page, id, 'REVOKED', 10_000, 'its page');
  const after = psql(user, password, 'appdb', 'SELECT 1');
  check(after.status !== 0, `psql still works after the revoke: ${after.out}`);
}
