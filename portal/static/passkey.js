// Passkey ceremonies for the Madoguchi portal. WebAuthn is a browser API,
// so this is the portal's one script; it is served from the portal's own
// origin (CSP script-src 'self'), has no dependency and runs only on
// buttons marked data-passkey="register|login|reauth". The server does all
// the checking; this file only moves the options and the credential
// between the server and navigator.credentials.
'use strict';
(() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : '';
  const post = async (url, body) => {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
    });
    const out = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(out.error || res.statusText);
      err.fromServer = true;
      throw err;
    }
    return out;
  };
  const supported = () => window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';

  for (const btn of document.querySelectorAll('button[data-passkey]')) {
    const status = document.getElementById(btn.dataset.status);
    const say = (msg) => { if (status) status.textContent = msg; };
    btn.hidden = false;
    btn.addEventListener('click', async () => {
      if (!supported()) { say(btn.dataset.unsupported); return; }
      btn.disabled = true;
      say('');
      try {
        const mode = btn.dataset.passkey;
        let out;
        if (mode === 'register') {
          const name = document.getElementById(btn.dataset.name);
          if (!name.value.trim()) { name.focus(); name.setAttribute('aria-invalid', 'true'); throw Object.assign(new Error(name.validationMessage || btn.dataset.failed), { fromServer: true }); }
          const begin = await post(btn.dataset.begin, {});
          const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey) });
          out = await post(btn.dataset.finish, { name: name.value, credential: cred.toJSON() });
        } else {
          const begin = await post(btn.dataset.begin, { purpose: mode });
          const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey) });
          out = await post(btn.dataset.finish, { credential: cred.toJSON(), next: btn.dataset.next || '' });
        }
        window.location.assign(out.redirect);
      } catch (e) {
        say(e && e.fromServer ? e.message : btn.dataset.failed);
        btn.disabled = false;
      }
    });
  }
})();
