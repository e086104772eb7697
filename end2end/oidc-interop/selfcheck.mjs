// Proves provider.mjs behaves like NHS login without our Rust client: drives the
// browser through its login and consent screens, then plays the confidential client
// (private_key_jwt, RS512) by hand. Run: node end2end/oidc-interop/selfcheck.mjs
import { spawn } from 'node:child_process'
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '@playwright/test'

const clientId = 'portal-interop'
const redirectUri = 'http://127.0.0.1:3100/auth/callback'
const vtr = ['P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm']
const VTM = 'https://auth.sandpit.signin.nhs.uk/trustmark/auth.sandpit.signin.nhs.uk'

function check(condition, what, detail = '') {
  if (!condition) throw new Error(`FAILED: ${what}${detail ? `\n  ${detail}` : ''}`)
  console.log(`ok - ${what}`)
}

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString())

function clientAssertion(privateKey, alg, audience) {
  const iat = Math.floor(Date.now() / 1000)
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url({
    iss: clientId, sub: clientId, aud: audience, jti: randomUUID(), iat, exp: iat + 60,
  })}`
  const hash = { RS256: 'sha256', RS512: 'sha512' }[alg]
  return `${input}.${sign(hash, Buffer.from(input), privateKey).toString('base64url')}`
}

// Asking the OS for a free port keeps parallel runs and a stray provider out of the way.
const freePort = () => new Promise((resolve, reject) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address()
    probe.close(() => resolve(port))
  }).on('error', reject)
})

function startProvider(env) {
  const child = spawn(process.execPath, [new URL('./provider.mjs', import.meta.url).pathname], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('provider did not start within 15s')), 15000)
    child.on('exit', (code) => reject(new Error(`provider exited early (${code})`)))
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('oidc-provider ready at ')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  return { child, ready }
}

const tmp = mkdtempSync(join(tmpdir(), 'oidc-interop-'))
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
writeFileSync(join(tmp, 'client.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }))

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const { child, ready } = startProvider({
  PORT: String(port),
  CLIENT_ID: clientId,
  CLIENT_PUBLIC_KEY_PEM: join(tmp, 'client.pub.pem'),
  REDIRECT_URI: redirectUri,
})
let browser
try {
  await ready
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()
  check(discovery.issuer === issuer, `discovery issuer is ${issuer}`)
  check(JSON.stringify(discovery.id_token_signing_alg_values_supported) === '["RS512"]',
    'discovery advertises id_token_signing_alg_values_supported ["RS512"]')
  check(JSON.stringify(discovery.token_endpoint_auth_methods_supported) === '["private_key_jwt"]'
    && JSON.stringify(discovery.token_endpoint_auth_signing_alg_values_supported) === '["RS512"]',
  'discovery advertises private_key_jwt with RS512 only')

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })

  // Each journey gets a fresh browser (no provider session) and stops at the redirect
  // URI, where nothing listens: the route answers instead and the URL is kept.
  async function journey(params, steps) {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.route((url) => url.href.startsWith(redirectUri), (route) => route.fulfill({ status: 200, body: 'callback' }))
    // The dev screens' stylesheet imports Google Fonts; offline, fail it fast.
    await page.route('https://fonts.googleapis.com/**', (route) => route.abort())
    const url = new URL(discovery.authorization_endpoint)
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
    await page.goto(url.href)
    await steps(page)
    await page.waitForURL((u) => u.href.startsWith(redirectUri))
    const result = new URL(page.url()).searchParams
    await context.close()
    return result
  }

  const request = (state, nonce) => ({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid profile email phone',
    redirect_uri: redirectUri,
    state,
    nonce,
    vtr: JSON.stringify(vtr),
  })

  const state = randomUUID()
  const nonce = randomUUID()
  const signIn = await journey(request(state, nonce), async (page) => {
    await page.getByPlaceholder('Enter any login').fill('amelia')
    await page.getByPlaceholder('and password').fill('any password')
    await page.getByRole('button', { name: 'Sign-in' }).click()
    await page.getByRole('heading', { name: 'Authorize' }).waitFor()
    await page.getByRole('button', { name: 'Continue' }).click()
  })
  const code = signIn.get('code')
  check(code && signIn.get('state') === state && signIn.get('iss') === issuer,
    'login + consent screens lead to the redirect URI with code, state and iss', signIn.toString())

  const tokenRequest = (alg) => fetch(discovery.token_endpoint, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion(privateKey, alg, discovery.token_endpoint),
    }),
  })

  // Before the good exchange, so the same still-unused code shows only the alg differs.
  const rs256 = await tokenRequest('RS256')
  const rs256Body = await rs256.json()
  check(rs256.status === 401 && rs256Body.error === 'invalid_client',
    'token endpoint rejects a client assertion signed RS256 (invalid_client)', JSON.stringify(rs256Body))

  const tokenResponse = await tokenRequest('RS512')
  const tokens = await tokenResponse.json()
  check(tokenResponse.ok && tokens.id_token && tokens.access_token,
    'token endpoint accepts the RS512 private_key_jwt assertion and returns ID + access tokens', JSON.stringify(tokens))

  const [headerPart, payloadPart, signature] = tokens.id_token.split('.')
  const header = decodePart(headerPart)
  const claims = decodePart(payloadPart)
  check(header.alg === 'RS512', 'ID token header alg is RS512')
  const jwks = await (await fetch(discovery.jwks_uri)).json()
  const jwk = jwks.keys.find((k) => k.kid === header.kid)
  check(jwk && verify('sha512', Buffer.from(`${headerPart}.${payloadPart}`),
    createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url')),
  'ID token signature verifies against the provider JWKS')
  check(claims.iss === issuer && claims.aud === clientId && claims.nonce === nonce,
    'ID token iss, aud and nonce are right', JSON.stringify(claims))
  check(vtr.includes(claims.vot) && claims.vot === 'P9.Cp.Cd', `ID token vot ${claims.vot} is the first requested P9 vector`)
  check(claims.vtm === VTM, 'ID token vtm is the sandpit trustmark')
  check(claims.sub === 'interop-user-1' && claims.nhs_number === '9990000018'
    && claims.identity_proofing_level === 'P9' && claims.birthdate === '1984-06-12'
    && claims.family_name === 'Hart' && claims.email === 'amelia.hart@example.com'
    && claims.phone_number === '+447700900123',
  'ID token carries sub, nhs_number, identity_proofing_level, birthdate, family_name, email, phone_number', JSON.stringify(claims))

  const userinfoResponse = await fetch(discovery.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  })
  const userinfo = await userinfoResponse.json()
  check(userinfoResponse.ok && userinfo.sub === claims.sub && userinfo.nhs_number === '9990000018',
    'userinfo answers the access token with the same sub and nhs_number', JSON.stringify(userinfo))

  const cancelState = randomUUID()
  const cancelled = await journey(request(cancelState, randomUUID()), async (page) => {
    await page.getByRole('link', { name: '[ Cancel ]' }).click()
  })
  check(cancelled.get('error') === 'access_denied' && cancelled.get('state') === cancelState,
    '"[ Cancel ]" on the login screen yields error=access_denied (with state) at the redirect URI', cancelled.toString())

  // No browser needed (and Playwright does not route a redirect that ends page.goto
  // itself): the provider answers at once with a redirect carrying the error.
  const { nonce: _, ...withoutNonce } = request(randomUUID(), '')
  const refused = await fetch(`${discovery.authorization_endpoint}?${new URLSearchParams(withoutNonce)}`, { redirect: 'manual' })
  const noNonce = new URL(refused.headers.get('location') ?? 'about:blank').searchParams
  check(noNonce.get('error') === 'invalid_request',
    'an authorization request without nonce is refused with error=invalid_request', noNonce.toString())

  await browser.close()
  browser = undefined
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  child.kill('SIGTERM')
  const { code: exitCode, signal } = await exited
  check(exitCode === 0, 'provider exits 0 on SIGTERM', `code ${exitCode}, signal ${signal}`)
  console.log('selfcheck passed')
} catch (error) {
  console.error(error.message)
  process.exitCode = 1
} finally {
  await browser?.close()
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  rmSync(tmp, { recursive: true, force: true })
}
