// Runs one browser scenario: node e2e/run.mjs NAME (e2e/NAME.mjs exports default async ()).
// Exit status 0 when it passed; what failed, and what was seen, on stderr otherwise.
const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: node e2e/run.mjs SCENARIO');
  process.exit(2);
}
const started = Date.now();
const lib = await import('./lib.mjs');
try {
  const scenario = await import(`./${name}.mjs`);
  await scenario.default(lib);
  console.log(`${name}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await Promise.all(lib.browsers.map((b) => b.close()));
  process.exit(0);
} catch (e) {
  console.error(
    `${name}: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s: ${e?.stack ?? e}`,
  );
  console.error(await lib.describePages(process.env.APONO_E2E_OUT));
  await Promise.all(lib.browsers.map((b) => b.close().catch(() => {})));
  process.exit(1);
}
