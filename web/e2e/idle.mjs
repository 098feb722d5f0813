// Must show 4, idle expiry: with the broker's idle limit set short (the C++ test passes it, and
// APONO_IDLE_SECONDS), a session nobody uses ends: its cookie is refused, and the portal says so
// when it is opened again. A page left open does not count as use (its events long-poll does not
// keep the session alive), so the page is closed only to make the last use a known moment.
import { check, context, env, launch, signIn, waitFor } from './lib.mjs';

export default async function () {
  const idle = Number(process.env.APONO_IDLE_SECONDS);
  check(idle > 0, 'APONO_IDLE_SECONDS is not set (the C++ test sets it)');
  const browser = await launch();
  const ctx = await context(browser);
  const page = await ctx.newPage();
  await signIn(page, 'alice');
  const cookie = (await ctx.cookies(env.url)).find((c) => c.name === '__Host-apono_session');
  check(cookie, 'no session cookie');
  const get = async () =>
    (
      await fetch(env.url + '/api/v1/session', {
        headers: { Cookie: `__Host-apono_session=${cookie.value}` },
      })
    ).status;
  check((await get()) === 200, 'the session right after sign-in');

  // From here on nothing uses the session: its last use is before `quiet`.
  await page.close();
  const quiet = Date.now();
  // The limit itself is what is under test, so this waits for time to pass, not for a state.
  await new Promise((r) => setTimeout(r, idle * 1000 + 500));
  const status = await get();
  check(status === 401, `the cookie ${Date.now() - quiet} ms after its last use: ${status}`);

  const again = await ctx.newPage();
  await again.goto(env.url + '/requests');
  await waitFor(
    async () => (await again.getByTestId('sign-in-message').count()) === 1,
    10_000,
    'the sign-in screen saying the session expired',
    async () => (await again.locator('body').innerText()).slice(0, 300),
  );
  const said = await again.getByTestId('sign-in-message').innerText();
  check(/expired/i.test(said), `the sign-in screen says: ${said}`);
  console.log(`idle: the cookie refused ${idle} s after its last use; the portal says "${said}"`);
}
