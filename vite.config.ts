/**
 * Vite config for the dashboard (`web/`). `vite build` writes `dist/web`, which the server serves;
 * `vite` (dev) proxies the API, socket.io and metrics to a running server on 127.0.0.1:7070.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const webRoot = fileURLToPath(new URL('./web', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/web', import.meta.url));
const target = process.env.ARBITER_DEV_TARGET ?? 'http://127.0.0.1:7070';

export default defineConfig(({ command, mode }) => ({
  // Vitest (serve, mode "test") would read this file if vitest.config.ts went away: keep its root at the repo.
  root: command === 'serve' && mode === 'test' ? undefined : webRoot,
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/socket.io': { target, ws: true, changeOrigin: false },
      '/metrics': { target, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target },
      '/socket.io': { target, ws: true },
      '/metrics': { target },
    },
  },
}));
