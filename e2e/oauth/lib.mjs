// Shared pieces of the certified-client scripts (flows.mjs, signin.mjs):
// the flow runner that prints "ok <flow>" or "not ok <flow>: <reason>",
// the partner's private_key_jwt key, and the transfer the flows authorize.

// runner returns flow(name, fn), which runs one flow and reports it, and
// failed(), the number of flows that failed so far.
export const runner = () => {
  let failures = 0
  const flow = async (name, fn) => {
    try {
      await fn()
      console.log(`ok ${name}`)
    } catch (err) {
      failures++
      const detail = err && (err.cause ? JSON.stringify(err.cause) : '') + (err.response ? ' www-authenticate=' + err.response.headers.get('www-authenticate') : '')
      console.log(`not ok ${name}: ${String(err && err.stack || err).split('\n').slice(0, 2).join(' | ')} ${detail}`)
    }
  }
  return { flow, failed: () => failures }
}

// importKey imports a private ES256 JWK for signing (openid-client's
// PrivateKey shape).
export const importKey = async (jwk) => {
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return { key, kid: jwk.kid }
}

// transfer is the jp_bank_transfer authorization_details of the flows.
export const transfer = [{
  type: 'jp_bank_transfer',
  amount: '15000',
  currency: 'JPY',
  payee: { bank_code: '0001', branch_code: '123', account_type: 'ordinary', account_number: '1234567', name: 'ヤマダ タロウ' },
  purpose: '請求書 2026-001'
}]
