// A local OpenID Connect provider that behaves like NHS England's "NHS login" closely
// enough to test our Rust OIDC client against a certified implementation
// (oidc-provider). Test tool only: in-memory storage, development login screens.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import Provider, { errors } from 'oidc-provider'

const port = Number(process.env.PORT ?? 3900)
const issuer = `http://127.0.0.1:${port}`
const clientId = process.env.CLIENT_ID ?? 'portal-interop'
const redirectUri = process.env.REDIRECT_URI ?? 'http://127.0.0.1:3100/auth/callback'
const publicKeyPath = process.env.CLIENT_PUBLIC_KEY_PEM
if (!publicKeyPath) {
  console.error('CLIENT_PUBLIC_KEY_PEM must name the client\'s RSA public key (PEM, SPKI)')
  process.exit(2)
}

// NHS login signs ID tokens with RS512 only, so the provider holds a single RS512 key.
const signingKey = {
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  alg: 'RS512',
  use: 'sig',
  kid: randomUUID(),
}
// The client's public key, registered under the key id of CLIENT_KEY_ID (as an
// operator registers a key at NHS login under an id of their choosing; the portal then
// sends it with NHS_LOGIN_KEY_ID), or by default under its RFC 7638 thumbprint, which
// is what the portal sends when no id is set.
const clientJwk = createPublicKey(readFileSync(publicKeyPath)).export({ format: 'jwk' })
const thumbprint = createHash('sha256')
  .update(JSON.stringify({ e: clientJwk.e, kty: clientJwk.kty, n: clientJwk.n }))
  .digest('base64url')
const clientKey = { ...clientJwk, kid: process.env.CLIENT_KEY_ID || thumbprint }

const DEFAULT_VOT = 'P9.Cp.Cd'
const VTM = 'https://auth.sandpit.signin.nhs.uk/trustmark/auth.sandpit.signin.nhs.uk'
const VECTOR = /^P\d(\.C[a-z]+)+$/

// The ID token is minted at the token endpoint, where the authorization request's
// parameters are gone; the authorization code keeps only the nonce. So the vector of
// trust granted for a request is remembered under that (mandatory) nonce.
const votByNonce = new Map()

// Whoever signs in, it is this one fully verified (P9) demo person.
const person = {
  sub: 'interop-user-1',
  nhs_number: '9990000018',
  identity_proofing_level: 'P9',
  birthdate: '1984-06-12',
  family_name: 'Hart',
  email: 'amelia.hart@example.com',
  phone_number: '+447700900123',
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      // Pinning the alg makes an assertion signed with anything else fail ("alg mismatch").
      token_endpoint_auth_signing_alg: 'RS512',
      id_token_signed_response_alg: 'RS512',
      jwks: { keys: [clientKey] },
    },
  ],
  jwks: { keys: [signingKey] },
  clientAuthMethods: ['private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['RS512'],
    idTokenSigningAlgValues: ['RS512'],
  },
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'phone'],
  // Which claims each scope releases; vot/vtm ride on openid so they pass the scope
  // mask, but the account only supplies them for the ID token.
  claims: {
    openid: ['sub', 'vot', 'vtm'],
    profile: ['nhs_number', 'identity_proofing_level', 'birthdate', 'family_name'],
    email: ['email'],
    phone: ['phone_number'],
  },
  // By default an ID token issued alongside an access token carries only sub, leaving
  // the rest to userinfo; NHS login puts the scoped claims in the ID token too.
  conformIdTokenClaims: false,
  // NHS login does not require PKCE for confidential clients; a client may still send it.
  pkce: { required: () => false },
  extraParams: {
    // Runs on every authorization request, so it also enforces what NHS login makes
    // mandatory and oidc-provider does not (state; nonce in the code flow).
    vtr(ctx, value) {
      const { nonce, state } = ctx.oidc.params
      if (!state) throw new errors.InvalidRequest('state is required')
      if (!nonce) throw new errors.InvalidRequest('nonce is required')
      let vectors = [DEFAULT_VOT]
      if (value !== undefined) {
        try {
          vectors = JSON.parse(value)
        } catch {
          vectors = null
        }
        if (!Array.isArray(vectors) || !vectors.length || !vectors.every((v) => VECTOR.test(v))) {
          throw new errors.InvalidRequest('vtr must be a JSON array of vectors of trust')
        }
      }
      votByNonce.set(nonce, vectors.find((v) => v.startsWith('P9.')) ?? vectors[0])
    },
  },
  findAccount(ctx) {
    return {
      accountId: person.sub,
      claims(use) {
        if (use !== 'id_token') return person
        const nonce = ctx.oidc.entities.AuthorizationCode?.nonce
        return { ...person, vot: votByNonce.get(nonce) ?? DEFAULT_VOT, vtm: VTM }
      },
    }
  },
  features: {
    devInteractions: { enabled: true },
    // Without resource indicators every access token is an opaque token for userinfo,
    // which is all NHS login's access tokens are for.
    resourceIndicators: { enabled: false },
    // Not part of NHS login; keep discovery close to theirs.
    pushedAuthorizationRequests: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    dPoP: { enabled: false },
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
})

// The development login screen signs in whatever name is typed, and oidc-provider
// makes the account id the session's, the grant's and the tokens' `sub`. Mapping every
// login to the demo person here keeps all of those consistent.
const finishInteraction = provider.interactionFinished.bind(provider)
provider.interactionFinished = (req, res, result, options) => finishInteraction(
  req, res, result.login ? { ...result, login: { ...result.login, accountId: person.sub } } : result, options,
)

const server = createServer(provider.callback())
  .on('error', (error) => {
    console.error(`oidc-provider could not listen on 127.0.0.1:${port}: ${error.message}`)
    process.exit(1)
  })
  .listen(port, '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`))

// Test harnesses stop it with SIGTERM; dropping keep-alive connections (a browser's)
// lets close() finish at once, so the exit status is a clean 0.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
  })
}
