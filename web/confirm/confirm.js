// Madoguchi confirmation page (package txauth). No framework, no storage:
// the token is read from the URL fragment, removed from the address bar and
// kept in this closure; every call sends "Authorization: Confirm <token>".
// The page shows the transaction exactly as the server holds it, and the
// image-card challenge: two cells, each with its candidates behind
// per-challenge opaque ids, fetched with the token and shown from blob URLs.
'use strict';
(() => {
  const T = {
    ja: {
      brand: 'お取引の確認', loading: '読み込んでいます…',
      'title.transaction': 'このお振込みを確認してください', 'title.card_activation': '新しい画像認証カードの利用開始',
      'lead.server': 'この内容は、マドグチのサーバーが受け付けた内容です。お客さまがご依頼の内容と一字一句同じか、必ず確かめてください。',
      held: 'このお取引は確認のため保留されています。担当者からご連絡する場合があります。',
      'tx.amount': '振込金額', 'tx.bank': '振込先金融機関', 'tx.branch': '支店', 'tx.account': '口座', 'tx.name': '受取人',
      'tx.purpose': '目的', 'tx.hash': '取引番号', yen: '円',
      ordinary: '普通', current: '当座', savings: '貯蓄',
      activation: 'お手元に届いたカード（シリアル {serial}）で、次の絵を選ぶと利用が始まります。以後、以前の認証方法は使えなくなります。',
      'challenge.title': '画像認証カード',
      prompt: 'カードの {a} と {b} のマスにある絵を、それぞれ選んでください。',
      attempts: 'あと {n} 回まちがえると、カードはロックされます。',
      wrong: '選んだ絵がカードと一致しません。',
      answer: '確認する', mismatch: '内容が違う（依頼していない）',
      'done.confirmed': 'お取引を確認しました', 'done.confirmed.body': 'このページを閉じて、お手続きを続けてください。',
      'done.rejected': 'お取引を中止しました', 'done.rejected.body': 'お取引は実行されません。心当たりのない場合は、すぐに金融機関へご連絡ください。',
      'done.expired': '有効期限が切れました', 'done.expired.body': 'もう一度はじめからお手続きください。',
      'done.cancelled': 'お取引は取り消されました', 'done.cancelled.body': 'このページを閉じてください。',
      'error.title': '続行できません',
      'err.no_token': 'リンクが正しくありません。', 'err.unauthorized': 'このリンクは無効です。',
      'err.locked': '画像認証カードがロックされました。お手数ですが金融機関へご連絡ください。',
      'err.network': '通信できませんでした。もう一度お試しください。', 'err.other': '予期しないエラーが発生しました。',
      'err.erased': 'この手続きのデータはすでに削除されています。',
      'title.passkey_registration': 'パスキーの登録', 'title.sign_in': 'ご本人の確認（サービスへのログイン）', 'passkey.title': 'パスキー',
      'passkey.lead.register': 'この端末の生体認証または画面ロックで、パスキーを登録します。',
      'passkey.lead.sign_in': 'サービスへのログインです。ご本人であることを、パスキー（生体認証または画面ロック）で確認してください。',
      'passkey.lead.confirm': '上の内容でよければ、パスキー（生体認証または画面ロック）で確認してください。パスキーはこの取引の内容に結び付けて署名します。',
      'passkey.register': 'パスキーを登録する', 'passkey.confirm': 'パスキーで確認する',
      'passkey.failed': 'パスキーで確認できませんでした。もう一度お試しください。',
      'device.wait': '登録済みのスマートフォンのアプリに届いた内容を確かめて、承認してください。このページは自動で更新されます。',
      'device.qr': '届いていなければ、アプリでこのコードを読み取ってください（2分ごとに変わります）。',
      'face.title': '顔認証', 'face.lead': 'カメラにお顔を映し、画面の指示どおりにゆっくり動いてください。', 'face.start': '顔認証をはじめる',
      'face.failed': '顔認証ができませんでした。明るい場所で、もう一度お試しください。',
      'say.front': '正面を向いてください', 'say.turn_left': '左を向いてください', 'say.turn_right': '右を向いてください',
      'say.blink': 'まばたきしてください', 'say.back': '正面に戻ってください', 'say.sending': '確認しています…',
      'jpki.wait': 'マイナンバーカードでの確認が必要です。マイナンバーカード対応アプリでこのお手続きを開き、カードで署名してください。このページは自動で更新されます。',
    },
    en: {
      brand: 'Confirm your transaction', loading: 'Loading…',
      'title.transaction': 'Check this transfer', 'title.card_activation': 'Start using your new picture card',
      'lead.server': 'This is what Madoguchi\'s server received. Check that every detail is exactly what you asked for.',
      held: 'This transaction is on hold for a check. We may call you.',
      'tx.amount': 'Amount', 'tx.bank': 'Bank', 'tx.branch': 'Branch', 'tx.account': 'Account', 'tx.name': 'Payee',
      'tx.purpose': 'Purpose', 'tx.hash': 'Transaction id', yen: ' yen',
      ordinary: 'Ordinary', current: 'Current', savings: 'Savings',
      activation: 'Choose the pictures below on the card you received (serial {serial}) to start using it. Your previous method stops working then.',
      'challenge.title': 'Picture card',
      prompt: 'Choose the picture in cell {a} and the picture in cell {b} of your card.',
      attempts: 'After {n} more mistakes the card locks.',
      wrong: 'The pictures chosen do not match your card.',
      answer: 'Confirm', mismatch: 'These details are wrong (I did not ask for this)',
      'done.confirmed': 'Confirmed', 'done.confirmed.body': 'You can close this page and continue.',
      'done.rejected': 'Stopped', 'done.rejected.body': 'The transaction will not be carried out. If you did not ask for it, call your bank now.',
      'done.expired': 'Expired', 'done.expired.body': 'Please start again.',
      'done.cancelled': 'Cancelled', 'done.cancelled.body': 'You can close this page.',
      'error.title': 'Cannot continue',
      'err.no_token': 'This link is incomplete.', 'err.unauthorized': 'This link is not valid.',
      'err.locked': 'Your picture card is locked. Please contact your bank.',
      'err.network': 'No connection. Please try again.', 'err.other': 'Something went wrong.',
      'err.erased': 'The data of this procedure has been erased.',
      'title.sign_in': 'Confirm it is you (signing in to a service)', 'title.passkey_registration': 'Register a passkey', 'passkey.title': 'Passkey',
      'passkey.lead.register': 'Register a passkey with this device\'s biometrics or screen lock.',
      'passkey.lead.sign_in': 'You are signing in to a service. Confirm it is you with your passkey (biometrics or screen lock).',
      'passkey.lead.confirm': 'If the details above are right, confirm with your passkey (biometrics or screen lock). It signs these exact details.',
      'passkey.register': 'Register a passkey', 'passkey.confirm': 'Confirm with passkey',
      'passkey.failed': 'The passkey could not confirm. Please try again.',
      'device.wait': 'Check the details in the app on your registered phone and approve them there. This page updates by itself.',
      'device.qr': 'If nothing arrived, scan this code with the app (it changes every 2 minutes).',
      'face.title': 'Face check', 'face.lead': 'Show your face to the camera and move slowly as the screen says.', 'face.start': 'Start the face check',
      'face.failed': 'The face check did not pass. Please try again in good light.',
      'say.front': 'Look straight ahead', 'say.turn_left': 'Turn your head to your left', 'say.turn_right': 'Turn your head to your right',
      'say.blink': 'Blink', 'say.back': 'Look straight ahead again', 'say.sending': 'Checking…',
      'jpki.wait': 'This needs your My Number card: open this procedure in a My Number card app and sign with the card. This page updates by itself.',
    },
  };
  const $ = (id) => document.getElementById(id);
  const st = {
    lang: (navigator.language || '').toLowerCase().startsWith('ja') ? 'ja' : 'en',
    token: '', view: null, picks: ['', ''], urls: [], errorKey: '', qrAt: 0, qrURL: '',
  };
  const t = (k, vars) => {
    let s = (T[st.lang] && T[st.lang][k]) || T.en[k] || k;
    for (const [n, v] of Object.entries(vars || {})) s = s.replace('{' + n + '}', v);
    return s;
  };

  class ApiError extends Error {
    constructor(status, slug, body) { super('HTTP ' + status + ' ' + slug); this.status = status; this.slug = slug; this.body = body; }
  }
  async function api(method, path, body) {
    const resp = await fetch(path, {
      method, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
      headers: Object.assign({ Authorization: 'Confirm ' + st.token, Accept: 'application/json' },
        body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!resp.ok) {
      let data = {};
      try { data = await resp.json(); } catch (_) { data = {}; }
      const slug = typeof data.type === 'string' ? data.type.slice(data.type.lastIndexOf('/') + 1) : '';
      throw new ApiError(resp.status, slug, data);
    }
    return resp;
  }

  function show(name) {
    for (const el of document.querySelectorAll('.screen')) el.hidden = el.id !== 'screen-' + name;
    document.body.dataset.screen = name;
  }
  function fail(key) {
    st.errorKey = key;
    $('error-body').textContent = t(key);
    show('error');
  }
  function handle(e) {
    if (e instanceof ApiError) {
      if (e.slug === 'txauth-locked') return fail('err.locked');
      if (e.slug === 'unauthorized') return fail('err.unauthorized');
      if (e.slug === 'txauth-erased') return fail('err.erased');
      return fail('err.other');
    }
    if (e instanceof TypeError) return fail('err.network');
    return fail('err.other');
  }

  function applyLang() {
    document.documentElement.lang = st.lang;
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const l of ['ja', 'en']) $('lang-' + l).setAttribute('aria-pressed', String(st.lang === l));
    if (st.view) render(st.view, false);
    if (document.body.dataset.screen === 'error') $('error-body').textContent = t(st.errorKey);
  }

  function row(dl, key, value, cls) {
    const dt = document.createElement('dt');
    dt.textContent = t(key);
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (cls) dd.className = cls;
    dd.dataset.field = key;
    dl.append(dt, dd);
  }

  // render draws the view; fresh is true when a new challenge arrived.
  function render(v, fresh) {
    st.view = v;
    if (v.state !== 'pending') return done(v.state);
    $('title').textContent = t('title.' + v.kind);
    const dl = $('tx');
    dl.textContent = '';
    if (v.transaction) {
      const x = v.transaction, p = x.payee;
      row(dl, 'tx.amount', Number(x.amount_jpy).toLocaleString('ja-JP') + t('yen'), 'amount');
      row(dl, 'tx.bank', (p.bank_name ? p.bank_name + ' ' : '') + '(' + p.bank_code + ')');
      row(dl, 'tx.branch', (p.branch_name ? p.branch_name + ' ' : '') + '(' + p.branch_code + ')');
      row(dl, 'tx.account', t(p.account_type) + ' ' + p.account_number);
      row(dl, 'tx.name', p.name_kana);
      if (x.purpose) row(dl, 'tx.purpose', x.purpose);
      row(dl, 'tx.hash', v.transaction_hash, 'hash');
      dl.hidden = false;
    } else {
      dl.hidden = true;
    }
    $('activation').hidden = v.kind !== 'card_activation';
    $('activation').textContent = t('activation', { serial: v.card_serial || '' });
    $('btn-mismatch').hidden = v.kind !== 'transaction';
    $('held').hidden = !v.held;
    const pk = (v.required || []).includes('passkey') && !(v.satisfied || []).includes('passkey');
    $('passkey').hidden = !pk;
    const reg = v.kind === 'passkey_registration';
    $('passkey-lead').textContent = t(reg ? 'passkey.lead.register' : v.kind === 'sign_in' ? 'passkey.lead.sign_in' : 'passkey.lead.confirm');
    $('btn-passkey').textContent = t(reg ? 'passkey.register' : 'passkey.confirm');
    document.body.dataset.passkey = pk ? 'due' : '';
    const due = (f) => (v.required || []).includes(f) && !(v.satisfied || []).includes(f);
    const dev = due('device'), card = due('jpki_auth') || due('jpki_sign');
    $('device').hidden = !dev;
    deviceQR(dev);
    $('face').hidden = !due('face');
    document.body.dataset.face = due('face') ? 'due' : '';
    $('jpki').hidden = !card;
    clearTimeout(st.poll);
    if ((dev || card) && !v.challenge) st.poll = setTimeout(() => { load().catch(handle); }, 3000);
    const ch = v.challenge;
    $('challenge').hidden = !ch;
    document.body.dataset.challenge = ch ? ch.id : '';
    if (ch) {
      $('challenge-prompt').textContent = t('prompt', { a: ch.cells[0], b: ch.cells[1] });
      $('attempts').textContent = t('attempts', { n: ch.attempts_left });
      for (let i = 0; i < 2; i++) $('cell-' + i + '-label').textContent = ch.cells[i];
      if (fresh) drawCandidates(ch);
    }
    show('confirm');
  }

  // The code for the registered device's app to scan: drawn anew (the
  // previous one voided) when shown and shortly before it expires.
  function deviceQR(due) {
    $('device-qr').hidden = !due;
    if (!due) { st.qrAt = 0; return; }
    if (st.qrAt && Date.now() - st.qrAt < 100000) return;
    st.qrAt = Date.now();
    api('GET', '/v1/txauth/page/device/qr').then((r) => r.blob()).then((blob) => {
      if (st.qrURL) URL.revokeObjectURL(st.qrURL);
      st.qrURL = URL.createObjectURL(blob);
      $('device-qr-img').src = st.qrURL;
    }).catch(() => { st.qrAt = 0; $('device-qr').hidden = true; });
  }

  async function drawCandidates(ch) {
    for (const u of st.urls) URL.revokeObjectURL(u);
    st.urls = [];
    st.picks = ['', ''];
    $('btn-answer').disabled = true;
    for (let i = 0; i < 2; i++) {
      const grid = $('grid-' + i);
      grid.textContent = '';
      ch.candidates[i].forEach((id, k) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.candidate = id;
        b.dataset.cell = String(i);
        b.setAttribute('aria-pressed', 'false');
        b.setAttribute('aria-label', ch.cells[i] + ' ' + (k + 1));
        const img = document.createElement('img');
        img.alt = '';
        b.appendChild(img);
        b.addEventListener('click', () => pick(i, id));
        grid.appendChild(b);
      });
    }
    // Fetch the pictures with the token; show them from blob URLs.
    const jobs = [];
    for (let i = 0; i < 2; i++) {
      for (const b of $('grid-' + i).querySelectorAll('button')) {
        jobs.push(api('GET', '/v1/txauth/page/challenges/' + ch.id + '/candidates/' + b.dataset.candidate)
          .then((r) => r.blob()).then((blob) => {
            const u = URL.createObjectURL(blob);
            st.urls.push(u);
            b.querySelector('img').src = u;
          }));
      }
    }
    await Promise.all(jobs);
    document.body.dataset.images = 'ready';
  }

  function pick(i, id) {
    st.picks[i] = id;
    for (const b of $('grid-' + i).querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.candidate === id));
    $('btn-answer').disabled = !(st.picks[0] && st.picks[1]);
  }

  async function answer() {
    const ch = st.view && st.view.challenge;
    if (!ch) return;
    $('btn-answer').disabled = true;
    $('wrong').hidden = true;
    try {
      const r = await api('POST', '/v1/txauth/page/answer', { challenge: ch.id, picks: st.picks });
      render(await r.json(), true);
    } catch (e) {
      if (e instanceof ApiError && e.slug === 'txauth-wrong-answer') {
        const locked = (e.body.errors || []).some((x) => x.field === 'locked');
        if (locked) return fail('err.locked');
        document.body.dataset.images = '';
        await load();
        $('wrong').textContent = t('wrong');
        $('wrong').hidden = false;
        return;
      }
      handle(e);
    }
  }

  // ---------- passkeys ----------
  const b64uDecode = (x) => {
    const b = atob(x.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((x.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  };
  const b64u = (buf) => {
    const u = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  async function passkey() {
    $('btn-passkey').disabled = true;
    $('passkey-error').hidden = true;
    try {
      const opts = await (await api('POST', '/v1/txauth/page/passkey/begin', {})).json();
      const pk = opts.publicKey;
      pk.challenge = b64uDecode(pk.challenge);
      let cred, out;
      if (pk.user) {
        pk.user.id = b64uDecode(pk.user.id);
        for (const c of pk.excludeCredentials || []) c.id = b64uDecode(c.id);
        cred = await navigator.credentials.create({ publicKey: pk });
        out = { clientDataJSON: b64u(cred.response.clientDataJSON), attestationObject: b64u(cred.response.attestationObject) };
        if (cred.response.getTransports) out.transports = cred.response.getTransports();
      } else {
        for (const c of pk.allowCredentials || []) c.id = b64uDecode(c.id);
        cred = await navigator.credentials.get({ publicKey: pk });
        out = { clientDataJSON: b64u(cred.response.clientDataJSON), authenticatorData: b64u(cred.response.authenticatorData),
          signature: b64u(cred.response.signature), userHandle: cred.response.userHandle ? b64u(cred.response.userHandle) : '' };
      }
      const body = { id: cred.id, rawId: b64u(cred.rawId), type: cred.type, response: out,
        authenticatorAttachment: cred.authenticatorAttachment || undefined, clientExtensionResults: cred.getClientExtensionResults() };
      const r = await api('POST', '/v1/txauth/page/passkey/finish', body);
      render(await r.json(), false);
    } catch (e) {
      if (e instanceof ApiError && !['txauth-passkey', 'txauth-replay'].includes(e.slug)) return handle(e);
      $('passkey-error').textContent = t('passkey.failed');
      $('passkey-error').hidden = false;
    } finally {
      $('btn-passkey').disabled = false;
    }
  }

  // ---------- face ----------
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function faceRun() {
    $('btn-face').disabled = true;
    $('face-error').hidden = true;
    let stream = null;
    const say = (k) => { $('face-say').textContent = k ? t(k) : ''; document.body.dataset.say = k || ''; };
    try {
      const fc = await (await api('POST', '/v1/txauth/page/face/start', {})).json();
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } } });
      const v = $('face-video');
      v.srcObject = stream;
      await v.play().catch(() => {});
      for (let i = 0; i < 50 && !(v.videoWidth > 0); i++) await sleep(100);
      let nonce = fc.nonce;
      const shot = async () => {
        const c = $('face-canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        c.getContext('2d').drawImage(v, 0, 0);
        const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        const r = await api('POST', '/v1/txauth/page/face/frames', { nonce, image: btoa(s) });
        nonce = (await r.json()).next_nonce;
      };
      const burst = async (n, gap) => { for (let i = 0; i < n; i++) { await shot(); await sleep(gap); } };
      say('say.front');
      await sleep(1200);
      await burst(2, 300);
      for (const step of fc.steps) {
        say('say.' + step);
        await sleep(step === 'blink' ? 500 : 900);
        if (step === 'blink') await burst(5, 110); else await burst(3, 300);
        say('say.back');
        await sleep(800);
        await burst(2, 300);
      }
      say('say.sending');
      const r = await api('POST', '/v1/txauth/page/face/submit', {});
      say('');
      render(await r.json(), false);
    } catch (e) {
      say('');
      if (e instanceof ApiError && e.slug === 'txauth-face') {
        document.body.dataset.faceReasons = (e.body.errors || []).map((x) => x.detail).join(',');
        $('face-error').textContent = t('face.failed');
        $('face-error').hidden = false;
      } else if (e instanceof ApiError) {
        handle(e);
      } else {
        $('face-error').textContent = t('face.failed');
        $('face-error').hidden = false;
      }
    } finally {
      if (stream) for (const tr of stream.getTracks()) tr.stop();
      $('btn-face').disabled = false;
    }
  }

  async function mismatch() {
    try {
      const r = await api('POST', '/v1/txauth/page/mismatch', {});
      render(await r.json(), false);
    } catch (e) { handle(e); }
  }

  function done(state) {
    for (const u of st.urls) URL.revokeObjectURL(u);
    st.urls = [];
    $('done-title').textContent = t('done.' + state);
    $('done-body').textContent = t('done.' + state + '.body');
    document.body.dataset.state = state;
    show('done');
  }

  async function load() {
    const r = await api('POST', '/v1/txauth/page', {});
    render(await r.json(), true);
  }

  function init() {
    const m = /^#t=([A-Za-z0-9_-]{43})$/.exec(location.hash);
    st.token = m ? m[1] : '';
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    $('lang-ja').addEventListener('click', () => { st.lang = 'ja'; applyLang(); });
    $('lang-en').addEventListener('click', () => { st.lang = 'en'; applyLang(); });
    $('btn-answer').addEventListener('click', () => { answer(); });
    $('btn-mismatch').addEventListener('click', () => { mismatch(); });
    $('btn-passkey').addEventListener('click', () => { passkey(); });
    $('btn-face').addEventListener('click', () => { faceRun(); });
    applyLang();
    if (!st.token) return fail('err.no_token');
    load().catch(handle);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
