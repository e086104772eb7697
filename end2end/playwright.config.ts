// Journeys run twice: once as a browser with JavaScript (the page hydrates), once
// without (plain server-rendered HTML and forms). Both use Debian's Chromium; Playwright
// never downloads a browser of its own here.
//
// Three servers are started: the portal in demo mode with its built-in NHS login
// simulator (port 3100), and, for the interoperability journey, a second portal (3101)
// signing in through the npm `oidc-provider` configured like NHS login (3900).
import { defineConfig } from '@playwright/test'
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'

const portalBinary = process.env.PORTAL_BINARY ?? '../target/debug/server'
// Not the inherited LEPTOS_SITE_ROOT: that one is relative to the workspace root.
const siteRoot = process.env.E2E_SITE_ROOT ?? '../target/site'
const demoURL = 'http://127.0.0.1:3100'
const interopURL = 'http://127.0.0.1:3101'
const choicesURL = 'http://127.0.0.1:3102'
const providerURL = 'http://127.0.0.1:3900'

// The interop client's key pair, made once (the config is loaded by every worker).
const interopDir = '.interop'
if (!existsSync(`${interopDir}/client.pem`)) {
  mkdirSync(interopDir, { recursive: true })
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  writeFileSync(`${interopDir}/client.pem`, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  writeFileSync(`${interopDir}/client.pub.pem`, publicKey.export({ type: 'spki', format: 'pem' }))
}

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

const portalEnv = {
  PORTAL_DEMO: 'true',
  LEPTOS_SITE_ROOT: siteRoot,
  LOG_LEVEL: 'warn',
  // Every journey signs in from this one address: the limit is for scripts, not for a
  // test run of a hundred sign-ins in a few minutes.
  PORTAL_SIGN_IN_LIMIT: '2000/50',
}

export default defineConfig({
  testDir: './tests',
  fullyParallel: true,
  workers: 2,
  retries: 0,
  // The longest journeys have two or three people sign in and check every page with
  // axe: about 22 s alone and up to 30 s beside another worker on this 2-CPU machine,
  // against Playwright's default budget of 30 s. A real hang still fails in a minute.
  timeout: 60_000,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: { trace: 'off' },
  projects: [
    // Leaving the portal, objections, the desk's queues and clinical reviews change the
    // demo's people: they run against a portal of their own, so no other journey sees
    // their changes, and one at a time (the file makes both passes, with JavaScript and
    // without), so that none of them races another. Once, two projects ran them side by
    // side: a review of Amelia's items failed when the other project hid one of her
    // sources between opening the review and recording it. Listed first so that this
    // one long file starts first.
    { name: 'choices', testMatch: /choices/, fullyParallel: false, use: { ...chromium, baseURL: choicesURL } },
    { name: 'javascript', testIgnore: /interop|choices/, use: { ...chromium, baseURL: demoURL, javaScriptEnabled: true } },
    { name: 'no-javascript', testIgnore: /interop|choices/, use: { ...chromium, baseURL: demoURL, javaScriptEnabled: false } },
    { name: 'interop', testMatch: /interop/, use: { ...chromium, baseURL: interopURL, javaScriptEnabled: true } },
  ],
  webServer: [
    {
      // The demo, with a fresh database each run.
      command: `rm -rf .data && ${portalBinary}`,
      url: `${demoURL}/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        ...portalEnv,
        DATABASE_URL: 'sqlite://.data/portal.db',
        PORTAL_DATA_DIR: '.data',
        PORTAL_LISTEN: '127.0.0.1:3100',
        PORTAL_PUBLIC_URL: demoURL,
        NHS_LOGIN_SIMULATOR: 'true',
        NHS_LOGIN_VTR: '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm","P5.Cp.Cd","P5.Cp.Ck","P5.Cm","P0.Cp.Cd","P0.Cp.Ck","P0.Cm"]',
      },
    },
    {
      command: `rm -rf .data-choices && ${portalBinary}`,
      url: `${choicesURL}/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        ...portalEnv,
        DATABASE_URL: 'sqlite://.data-choices/portal.db',
        PORTAL_DATA_DIR: '.data-choices',
        PORTAL_LISTEN: '127.0.0.1:3102',
        PORTAL_PUBLIC_URL: choicesURL,
        NHS_LOGIN_SIMULATOR: 'true',
      },
    },
    {
      command: 'node oidc-interop/provider.mjs',
      url: `${providerURL}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'ignore',
      env: {
        PORT: '3900',
        CLIENT_ID: 'portal-interop',
        CLIENT_PUBLIC_KEY_PEM: `${interopDir}/client.pub.pem`,
        // Registered under an id of our choosing, not the key's thumbprint.
        CLIENT_KEY_ID: 'portal-interop-2026',
        REDIRECT_URI: `${interopURL}/auth/callback`,
      },
    },
    {
      command: `rm -rf .data-interop && ${portalBinary}`,
      url: `${interopURL}/ready`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
      env: {
        ...portalEnv,
        DATABASE_URL: 'sqlite://.data-interop/portal.db',
        PORTAL_DATA_DIR: '.data-interop',
        PORTAL_LISTEN: '127.0.0.1:3101',
        PORTAL_PUBLIC_URL: interopURL,
        NHS_LOGIN_ISSUER: providerURL,
        NHS_LOGIN_CLIENT_ID: 'portal-interop',
        NHS_LOGIN_PRIVATE_KEY: `${interopDir}/client.pem`,
        NHS_LOGIN_KEY_ID: 'portal-interop-2026',
      },
    },
  ],
})
