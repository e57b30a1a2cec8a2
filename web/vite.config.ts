import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The operator console. `npm run build` writes it to dist/console, which the server serves at
 * `/` (src/http/console.ts). Nothing is inlined (a strict CSP forbids inline scripts, styles
 * and data: URIs) and nothing is loaded from elsewhere at run time.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact()],
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev:console`: Vite's dev server, with the API of a server on :8080 behind it.
    proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
});
