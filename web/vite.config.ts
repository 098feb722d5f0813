// Build, dev server and unit tests of the portal. The mock API is a dev-server plugin only:
// `vite build` never sees it, so nothing of it reaches dist/.
import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

export default defineConfig(async ({ command }) => ({
  plugins: [preact(), ...(command === 'serve' ? [(await import('./dev/mockApi')).mockApi()] : [])],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
}));
