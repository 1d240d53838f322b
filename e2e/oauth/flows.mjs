// Drives Madoguchi's authorization server with panva's openid-client (and
// oauth4webapi beneath it), certified OpenID client libraries. Run by
// cmd/madoguchi/e2e_oauth_test.go: node flows.mjs <config.json>, with
// NODE_EXTRA_CA_CERTS naming the test CA. Prints "ok <flow>" or
// "not ok <flow>: <reason>" per flow and exits non-zero on any failure.
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import { Agent, fetch as undiciFetch } from 'undici'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import assert from 'node:assert/strict'
import { runner, importKey, transfer } from './lib.mjs'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const issuer = new URL(cfg.issuer)
const { flow, failed } = runner()

// The customer's browser: open the authorization URL, complete the
// development customer step, approve, and return the 303 target.
async function customerStep (authorizationUrl, customer, f = fetch) {
  const r1 = await f(authorizationUrl, { redirect: 'manual' })
  assert.equal(r1.status, 200, 'consent page')
  const cookie = (r1.headers.get('set-cookie') || '').split(';')[0]
  const html = await r1.text()
  const m = html.match(/name="interaction" value="([^"]+)"/)
  assert.ok(m, 'interaction field on the consent page')
  const r2 = await f(new URL('/oauth/authorize/decide', issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ interaction: m[1], customer, decision: 'approve' }).toString()
  })
  assert.equal(r2.status, 303, 'the authorization response is a 303')
  return { url: new URL(r2.headers.get('location')), html }
}

const pk = await importKey(cfg.pkjwt.jwk)
let config
let tokens
let dpop

await flow('discovery', async () => {
  config = await client.discovery(issuer, cfg.pkjwt.client_id, { introspection_signed_response_alg: 'ES256' }, client.PrivateKeyJwt(pk))
  const m = config.serverMetadata()
  assert.equal(m.issuer, cfg.issuer)
  assert.equal(m.require_pushed_authorization_requests, true)
  assert.deepEqual(m.response_types_supported, ['code'])
  assert.deepEqual(m.code_challenge_methods_supported, ['S256'])
  assert.ok(m.dpop_signing_alg_values_supported.includes('ES256'))
  assert.equal(m.authorization_response_iss_parameter_supported, true)
  assert.equal(m.tls_client_certificate_bound_access_tokens, true)
  assert.ok(!m.backchannel_token_delivery_modes_supported.includes('push'))
  // The RFC 8414 document and the OpenID configuration are one document.
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' }))
  assert.equal(as.token_endpoint, m.token_endpoint)
})

await flow('par+pkce+private_key_jwt+dpop code', async () => {
  dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid accounts:read transfers:write',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    authorization_details: JSON.stringify(transfer)
  }, { DPoP: dpop })
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'])
  const { url: cb, html } = await customerStep(url, cfg.customer)
  assert.ok(html.includes('¥15,000') && html.includes('ヤマダ タロウ') && html.includes('1234567'), 'the transfer is shown to the customer')
  assert.equal(cb.searchParams.get('iss'), cfg.issuer, 'RFC 9207 iss')
  tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true }, undefined, { DPoP: dpop })
  assert.equal(tokens.token_type.toLowerCase(), 'dpop')
  assert.ok(tokens.refresh_token)
  assert.equal(tokens.authorization_details[0].amount, '15000')
  globalThis.firstCode = { cb, verifier, state }
})

await flow('id_token acr/amr', async () => {
  const c = tokens.claims()
  assert.equal(c.sub, cfg.customer)
  assert.equal(c.acr, 'urn:madoguchi:acr:dev')
  assert.deepEqual(c.amr, ['dev'])
  assert.ok(c.auth_time > 0)
})

await flow('dpop resource', async () => {
  const r = await client.fetchProtectedResource(config, tokens.access_token, new URL('/v1/whoami', issuer), 'GET', undefined, undefined, { DPoP: dpop })
  assert.equal(r.status, 200)
  const body = await r.json()
  assert.equal(body.subject, cfg.customer)
  assert.equal(body.client_id, cfg.pkjwt.client_id)
  // The same token without its proof is refused.
  const bare = await fetch(new URL('/v1/whoami', issuer), { headers: { authorization: `Bearer ${tokens.access_token}` } })
  assert.equal(bare.status, 401)
  // ... and with a proof from another key.
  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  await assert.rejects(client.fetchProtectedResource(config, tokens.access_token, new URL('/v1/whoami', issuer), 'GET', undefined, undefined, { DPoP: other }))
})

await flow('userinfo', async () => {
  const u = await client.fetchUserInfo(config, tokens.access_token, cfg.customer, { DPoP: dpop })
  assert.equal(u.sub, cfg.customer)
})

await flow('refresh without rotation', async () => {
  const rt = tokens.refresh_token
  const t2 = await client.refreshTokenGrant(config, rt, undefined, { DPoP: dpop })
  assert.notEqual(t2.access_token, tokens.access_token)
  assert.equal(t2.refresh_token, rt, 'the refresh token is not rotated')
  const t3 = await client.refreshTokenGrant(config, rt, undefined, { DPoP: dpop })
  assert.ok(t3.access_token)
  tokens = { ...tokens, access_token: t3.access_token }
})

await flow('introspection json', async () => {
  const i = await client.tokenIntrospection(config, tokens.access_token)
  assert.equal(i.active, true)
  assert.equal(i.sub, cfg.customer)
  assert.ok(i.cnf && i.cnf.jkt, 'cnf.jkt')
  assert.equal(i.authorization_details[0].payee.account_number, '1234567')
})

await flow('introspection jwt', async () => {
  const as = config.serverMetadata()
  const c = { client_id: cfg.pkjwt.client_id, introspection_signed_response_alg: 'ES256' }
  const res = await oauth.introspectionRequest(as, c, oauth.PrivateKeyJwt(pk), tokens.access_token, { requestJwtResponse: true })
  assert.equal(res.headers.get('content-type'), 'application/token-introspection+jwt')
  const i = await oauth.processIntrospectionResponse(as, c, res)
  assert.equal(i.active, true)
  assert.equal(i.sub, cfg.customer)
})

await flow('revocation', async () => {
  await client.tokenRevocation(config, tokens.refresh_token)
  const i = await client.tokenIntrospection(config, tokens.access_token)
  assert.equal(i.active, false, 'revoking the refresh token revokes the consent and its access tokens')
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: dpop }))
  const r = await client.fetchProtectedResource(config, tokens.access_token, new URL('/v1/whoami', issuer), 'GET', undefined, undefined, { DPoP: dpop }).catch(e => e)
  assert.ok(r instanceof Error || r.status === 401, 'the revoked token is refused')
})

await flow('code replay revokes', async () => {
  // A second redemption of a code is refused and revokes what the code
  // produced (RFC 6749 §4.1.2).
  const { cb, verifier, state } = globalThis.firstCode
  await assert.rejects(client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop }))
})

await flow('jar+jarm', async () => {
  const c2 = await client.discovery(issuer, cfg.pkjwt.client_id, { authorization_signed_response_alg: 'ES256' }, client.PrivateKeyJwt(pk))
  client.useJwtResponseMode(c2)
  const d2 = client.getDPoPHandle(c2, await client.randomDPoPKeyPair('ES256'))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const jar = await client.buildAuthorizationUrlWithJAR(c2, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid accounts:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    response_mode: 'jwt'
  }, pk)
  const url = await client.buildAuthorizationUrlWithPAR(c2, jar.searchParams, { DPoP: d2 })
  const { url: cb } = await customerStep(url, cfg.customer)
  assert.ok(cb.searchParams.get('response'), 'JARM response JWT')
  assert.equal(cb.searchParams.get('code'), null, 'no bare code beside the JARM response')
  const t = await client.authorizationCodeGrant(c2, cb, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: d2 })
  assert.ok(t.access_token)
})

// mtlsClient is a client configuration that authenticates with a TLS
// client certificate (tls_client_auth or self_signed_tls_client_auth: the
// client side is the same) and sends it on every request.
async function mtlsClient (clientId, cert, key) {
  const agent = new Agent({ connect: { cert, key } })
  const mfetch = (url, options) => undiciFetch(url, { ...options, dispatcher: agent })
  const c = await client.discovery(issuer, clientId, { tls_client_certificate_bound_access_tokens: true }, client.TlsClientAuth(), {
    [client.customFetch]: mfetch
  })
  c[client.customFetch] = mfetch
  return { c, mfetch }
}

// mtlsCode runs PAR + PKCE + the customer step + the code grant over mTLS
// and returns the certificate-bound tokens.
async function mtlsCode (c3) {
  const verifier = client.randomPKCECodeVerifier()
  const url = await client.buildAuthorizationUrlWithPAR(c3, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid accounts:read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    authorization_details: JSON.stringify([{ type: 'account_information', actions: ['read_balances'] }])
  })
  const { url: cb } = await customerStep(url, cfg.customer)
  const t = await client.authorizationCodeGrant(c3, cb, { pkceCodeVerifier: verifier }, undefined)
  assert.equal(t.token_type.toLowerCase(), 'bearer')
  return t
}

await flow('mtls code', async () => {
  const { c: c3, mfetch } = await mtlsClient(cfg.mtls.client_id, cfg.mtls.cert, cfg.mtls.key)
  const t = await mtlsCode(c3)
  globalThis.mtls = { c3, t, mfetch }
})

await flow('tls_client_auth code', async () => {
  // The client is registered with a subject DN and the CA that issues its
  // certificates (RFC 8705 §2.1); the metadata advertises the method.
  assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes('tls_client_auth'))
  const { c } = await mtlsClient(cfg.tlsauth.client_id, cfg.tlsauth.cert, cfg.tlsauth.key)
  const t = await mtlsCode(c)
  const r = await client.fetchProtectedResource(c, t.access_token, new URL('/v1/whoami', issuer), 'GET')
  assert.equal(r.status, 200)
  assert.equal((await r.json()).client_id, cfg.tlsauth.client_id)
  const i = await client.tokenIntrospection(c, t.access_token)
  assert.ok(i.cnf && i.cnf['x5t#S256'], 'cnf.x5t#S256')
  // The same name on a certificate from another CA is refused at PAR.
  const { c: wrongCA } = await mtlsClient(cfg.tlsauth.client_id, cfg.tlsauth.wrong_ca_cert, cfg.tlsauth.wrong_ca_key)
  const e1 = await mtlsCode(wrongCA).catch(e => e)
  assert.ok(e1 instanceof client.ResponseBodyError && e1.error === 'invalid_client', `wrong CA: ${e1}`)
  // A certificate from the right CA with another subject is refused.
  const { c: wrongDN } = await mtlsClient(cfg.tlsauth.client_id, cfg.tlsauth.wrong_dn_cert, cfg.tlsauth.wrong_dn_key)
  const e2 = await mtlsCode(wrongDN).catch(e => e)
  assert.ok(e2 instanceof client.ResponseBodyError && e2.error === 'invalid_client', `wrong DN: ${e2}`)
})

await flow('mtls bound resource', async () => {
  const { c3, t } = globalThis.mtls
  const r = await client.fetchProtectedResource(c3, t.access_token, new URL('/v1/whoami', issuer), 'GET')
  assert.equal(r.status, 200)
  // Without the certificate the bound token is refused.
  const bare = await fetch(new URL('/v1/whoami', issuer), { headers: { authorization: `Bearer ${t.access_token}` } })
  assert.equal(bare.status, 401)
  const i = await client.tokenIntrospection(c3, t.access_token)
  assert.ok(i.cnf && i.cnf['x5t#S256'], 'cnf.x5t#S256')
})

await flow('ciba poll', async () => {
  const key = await importKey(cfg.ciba_poll.jwk)
  const c4 = await client.discovery(issuer, cfg.ciba_poll.client_id, undefined, client.PrivateKeyJwt(key))
  const d4 = client.getDPoPHandle(c4, await client.randomDPoPKeyPair('ES256'))
  const res = await client.initiateBackchannelAuthentication(c4, {
    scope: 'openid transfers:write', login_hint: cfg.customer, binding_message: 'A1B2',
    authorization_details: JSON.stringify(transfer)
  })
  assert.ok(res.auth_req_id)
  const t = await client.pollBackchannelAuthenticationGrant(c4, res, undefined, { DPoP: d4 })
  assert.equal(t.claims().sub, cfg.customer)
  assert.equal(t.authorization_details[0].amount, '15000')
})

await flow('ciba ping', async () => {
  const key = await importKey(cfg.ciba_ping.jwk)
  const c5 = await client.discovery(issuer, cfg.ciba_ping.client_id, undefined, client.PrivateKeyJwt(key))
  const d5 = client.getDPoPHandle(c5, await client.randomDPoPKeyPair('ES256'))
  const notificationToken = client.randomState() + client.randomState()
  let gotPing
  const pinged = new Promise((resolve, reject) => {
    gotPing = { resolve, reject }
    setTimeout(() => reject(new Error('no ping within 20 s')), 20000)
  })
  const srv = createServer({ cert: cfg.ciba_ping.cert, key: cfg.ciba_ping.key }, (req, res) => {
    let body = ''
    req.on('data', c => { body += c })
    req.on('end', () => {
      res.writeHead(204).end()
      if (req.headers.authorization !== `Bearer ${notificationToken}`) return gotPing.reject(new Error('ping without the notification token'))
      gotPing.resolve(JSON.parse(body))
    })
  })
  await new Promise(resolve => srv.listen(cfg.ciba_ping.port, '127.0.0.1', resolve))
  try {
    const res = await client.initiateBackchannelAuthentication(c5, {
      scope: 'openid', login_hint: cfg.customer, binding_message: 'PING-7', client_notification_token: notificationToken
    })
    const ping = await pinged
    assert.equal(ping.auth_req_id, res.auth_req_id)
    const t = await client.genericGrantRequest(c5, 'urn:openid:params:grant-type:ciba', { auth_req_id: res.auth_req_id }, { DPoP: d5 })
    assert.ok(t.access_token)
  } finally {
    srv.close()
  }
})

if (failed() > 0) process.exit(1)
