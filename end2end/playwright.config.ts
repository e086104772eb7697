// Journeys run twice: once as a browser with JavaScript (the page hydrates), once
// without (plain server-rendered HTML and forms). Both use Debian's Chromium; Playwright
// never downloads a browser of its own here.
import { defineConfig } from '@playwright/test'

const port = Number(process.env.E2E_PORT ?? 3100)
const baseURL = `http://127.0.0.1:${port}`
const chromium = {
  browserName: 'chromium' as const,
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
}

export default defineConfig({
  testDir: './tests',
  fullyParallel: true,
  workers: 2,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: { baseURL, trace: 'off' },
  projects: [
    { name: 'javascript', use: { ...chromium, javaScriptEnabled: true } },
    { name: 'no-javascript', use: { ...chromium, javaScriptEnabled: false } },
  ],
  // The built server binary with a fresh demo database for each run.
  webServer: {
    command: `rm -rf .data && ${process.env.PORTAL_BINARY ?? '../target/debug/server'}`,
    url: `${baseURL}/ready`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      DATABASE_URL: 'sqlite://.data/portal.db',
      PORTAL_LISTEN: `127.0.0.1:${port}`,
      PORTAL_DEMO: 'true',
      // Not the inherited LEPTOS_SITE_ROOT: that one is relative to the workspace root.
      LEPTOS_SITE_ROOT: process.env.E2E_SITE_ROOT ?? '../target/site',
      LOG_LEVEL: 'warn',
    },
  },
})
