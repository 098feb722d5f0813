// Build, dev server and unit tests of the portal. The mock API (dev/mockApi.ts) is a plugin
// of the dev and preview servers only: `vite build` never loads it, so nothing of it reaches
// dist/.
import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

export default defineConfig(async ({ command, isPreview }) => ({
  plugins: [
    preact(),
    ...((command === 'serve' || isPreview) && !process.env.VITEST
      ? [(await import('./dev/mockApi')).mockApi()]
      : []),
  ],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  preview: { port: 4173, strictPort: true, host: '127.0.0.1' },
  server: { port: 5173, strictPort: true, host: '127.0.0.1' },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
}));
