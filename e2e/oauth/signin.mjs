// The production customer step (package signin over txauth) driven by
// panva's openid-client. Run by cmd/madoguchi/e2e_oauth_signin_test.go:
// node signin.mjs <config.json>, with NODE_EXTRA_CA_CERTS naming the test
// CA. When the consent page links to txauth's confirmation page the script
// prints "confirm <url>" and waits for a line on stdin: the Go side plays
// the customer's passkey there ("done") — Node has no authenticator. Prints
// "ok <flow>" or "not ok <flow>: <reason>" per flow.
import * as client from 'openid-client'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import assert from 'node:assert/strict'
import { runner, importKey, transfer } from './lib.mjs'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const issuer = new URL(cfg.issuer)
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const { flow, failed } = runner()

const unescape = (s) => s.replaceAll('&amp;', '&').replaceAll('&#43;', '+').replaceAll('&#61;', '=')

// The customer's browser: the consent page asks for the customer number;
// the next page links to the confirmation page; after the customer
// confirmed there, Approve answers 303.
async function signinStep (authorizationUrl, customer) {
  const r1 = await fetch(authorizationUrl, { redirect: 'manual' })
  assert.equal(r1.status, 200, 'consent page')
  const cookie = (r1.headers.get('set-cookie') || '').split(';')[0]
  const html = await r1.text()
  const ix = html.match(/name="interaction" value="([^"]+)"/)
  assert.ok(ix && html.includes('name="customer"'), 'the consent page asks for the customer number')
  const decide = (body) => fetch(new URL('/oauth/authorize/decide', issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ interaction: ix[1], decision: 'approve', ...body }).toString()
  })
  const r2 = await decide({ customer })
  assert.equal(r2.status, 200, 'the customer step continues')
  const link = (await r2.text()).match(/id="customer-step" href="([^"]+)"/)
  assert.ok(link, 'a link to the confirmation page')
  console.log(`confirm ${unescape(link[1])}`)
  const answer = await stdin.next()
  assert.equal(answer.value, 'done', 'the customer confirmed with their passkey')
  const r3 = await decide({})
  assert.equal(r3.status, 303, 'the authorization response is a 303')
  return { url: new URL(r3.headers.get('location')), html }
}

const pk = await importKey(cfg.pkjwt.jwk)
let config
let tokens

await flow('discovery', async () => {
  config = await client.discovery(issuer, cfg.pkjwt.client_id, undefined, client.PrivateKeyJwt(pk))
  const m = config.serverMetadata()
  assert.ok(m.acr_values_supported.includes('urn:madoguchi:acr:customer:linked'))
  assert.ok(!m.acr_values_supported.includes('urn:madoguchi:acr:dev'))
})

await flow('signin transfer code', async () => {
  const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid transfers:write',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    authorization_details: JSON.stringify(transfer)
  }, { DPoP: dpop })
  const { url: cb, html } = await signinStep(url, cfg.customer)
  assert.ok(html.includes('¥15,000') && html.includes('1234567'), 'the transfer is shown to the customer')
  tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true }, undefined, { DPoP: dpop })
  assert.equal(tokens.authorization_details[0].amount, '15000')
})

await flow('id_token acr/amr', async () => {
  const c = tokens.claims()
  assert.equal(c.sub, cfg.subject)
  assert.equal(c.acr, 'urn:madoguchi:acr:customer:linked')
  assert.deepEqual(c.amr, ['pop', 'user'])
  assert.ok(c.auth_time > 0)
})

await flow('signin ciba poll', async () => {
  const key = await importKey(cfg.ciba_poll.jwk)
  const c4 = await client.discovery(issuer, cfg.ciba_poll.client_id, undefined, client.PrivateKeyJwt(key))
  const d4 = client.getDPoPHandle(c4, await client.randomDPoPKeyPair('ES256'))
  const res = await client.initiateBackchannelAuthentication(c4, {
    scope: 'openid', login_hint: cfg.customer, binding_message: 'S1-GN', authorization_details: JSON.stringify(transfer)
  })
  const t = await client.pollBackchannelAuthenticationGrant(c4, res, undefined, { DPoP: d4 })
  const c = t.claims()
  assert.equal(c.sub, cfg.subject)
  assert.equal(c.acr, 'urn:madoguchi:acr:customer:linked')
})

process.stdin.destroy()
if (failed() > 0) process.exit(1)
