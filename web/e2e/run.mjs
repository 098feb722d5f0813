// Runs one browser scenario: node e2e/run.mjs NAME (e2e/NAME.mjs exports default async ()).
// Exit status 0 when it passed; what failed, and what was seen, on stderr otherwise.
const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: node e2e/run.mjs SCENARIO');
  process.exit(2);
}
const started = Date.now();
try {
  const scenario = await import(`./${name}.mjs`);
  await scenario.default();
  console.log(`${name}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(0);
} catch (e) {
  console.error(
    `${name}: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s: ${e?.stack ?? e}`,
  );
  process.exit(1);
}
