// Madoguchi capture page. No framework, no third-party code, no storage:
// the capture token is read from the URL fragment, removed from the address
// bar and sent once (POST /v1/ekyc/capture/start); the capture key it is
// exchanged for lives in this closure only and is never shown. A ワ
// hand-off link carries a one-time hand-off token instead (#h=), redeemed
// once (POST /v1/ekyc/capture/handoff/redeem) for a key of this device's own. Every frame is a canvas snapshot
// of the live camera (JPEG), MAC-bound to the session as ekyc.FrameMAC
// specifies:
//
//   HMAC-SHA256(key, "madoguchi-frame-v1\n" session "\n" kind "\n" seq "\n"
//                    nonce "\n" captured_at_ms "\n" source "\n" hex(SHA-256(image)))
//
// and carries the single-use nonce the server issued after the previous one.
'use strict';
(() => {
  const MAX_SIDE = 1280;          // longest side of a sent frame, pixels
  const MAX_BYTES = 2 * 1024 * 1024; // ekyc.MaxImageBytes
  const SUBMIT_WAIT_MS = 5 * 60 * 1000; // how long ヘ waits for the chip read at submit
  const POLL_MS = 3000;                 // how often the page asks the server for the session's state
  const DECISION_WAIT_MS = 3 * 60 * 1000; // how long the page follows a submitted session

  const T = {
    ja: {
      brand: '本人確認', loading: '読み込んでいます…',
      'intro.title': '本人確認を始めます',
      'intro.he': '運転免許証などのICチップと、その場で撮影するお顔の写真で本人確認を行います(ヘ方式)。',
      'intro.ho': '本人確認書類の写真と、その場で撮影するお顔の写真で本人確認を行います(ホ方式)。',
      'intro.wa': 'マイナンバーカードの署名用電子証明書で本人確認を行います(ワ方式)。署名はスマートフォンのJPKIアプリか、窓口の端末のカードリーダーで行います。',
      'intro.privacy': '撮影した画像は本人確認のためだけに送信されます。この端末には保存されません。ページを再読み込みしないでください。',
      'intro.start': 'はじめる',
      'step.chip': 'ICチップを読み取る', 'step.doc_front': '書類の表面を撮影', 'step.doc_back': '書類の裏面を撮影',
      'step.doc_tilt': '書類を傾けて厚みを撮影', 'step.selfie': 'お顔を撮影(指示に合わせて動いてください)', 'step.send': '送信',
      'step.jpki': 'マイナンバーカードで署名(スマートフォンのJPKIアプリまたは窓口の端末)',
      'jpki.title': 'マイナンバーカードで署名',
      'jpki.body': 'このブラウザではマイナンバーカードで署名できません。次のどちらかで続けてください。',
      'jpki.phone.title': 'スマートフォンのJPKIアプリで',
      'jpki.phone.body': 'スマートフォンでこのQRコードを読み取るか、下のリンクをスマートフォンで開き、JPKIアプリでカードを読み取って署名してください。',
      'jpki.phone.link': 'JPKIアプリで開く', 'jpki.qr_alt': 'JPKIアプリで開くリンクのQRコード',
      'jpki.on_phone': 'この端末に手続きを引き継ぎました。スマートフォンのJPKIアプリでカードを読み取って署名してください。署名が届くと、この画面が切り替わります。',
      'jpki.kiosk.title': '窓口の端末のカードリーダーで',
      'jpki.kiosk.body': '係員にこの受付番号をお伝えください。端末のカードリーダーで署名できます。',
      'jpki.waiting': '署名を待っています。この画面は自動で切り替わります…',
      'jpki.used': 'この QR コード/リンクは別の端末で使われました。心当たりがなければ中止してください。',
      'jpki.used_at': '使われた時刻: {time}',
      'jpki.used_stop': '中止すると、どの端末からもこの手続きを続けられなくなります。',
      'jpki.used_cancel': '手続きを中止する',
      'jpki.used_new': '新しいリンクを表示',
      'chip.title': 'ICチップの読み取り',
      'chip.body': '本人確認書類を端末のICカードリーダーに置いてください。読み取りが終わったら「次へ」を押してください。',
      'chip.waiting': 'ICチップの読み取りを待っています…', 'chip.next': '次へ',
      'doc_front.title': '書類の表面', 'doc_front.guide': '本人確認書類の表面を枠に合わせ、文字と顔写真がはっきり写るように撮影してください。',
      'doc_back.title': '書類の裏面', 'doc_back.guide': '書類を裏返し、裏面全体を枠に合わせて撮影してください。',
      'doc_tilt.title': '書類の厚み', 'doc_tilt.guide': '表面を上にしたまま書類を斜めに傾け、カードの厚み(側面)が見えるように撮影してください。',
      'selfie.title': 'お顔の撮影', 'selfie.guide': 'お顔を枠に合わせてください。「開始」を押すと画面に指示が出ます。指示どおりにゆっくり動いてください。',
      'selfie.start': '開始',
      'camera.capture': '撮影する', 'camera.retake': '撮り直す', 'camera.use': 'この写真を送信',
      'camera.starting': 'カメラを起動しています…', 'camera.sending': '送信しています…',
      'say.front': '正面を向いてください', 'say.turn_left': '左を向いてください', 'say.turn_right': '右を向いてください',
      'say.blink': 'まばたきしてください', 'say.back': '正面に戻ってください', 'say.hold': 'そのまま',
      'sending.title': '送信しています', 'sending.body': '確認しています。このままお待ちください…',
      'sending.chip': 'ICチップの読み取りを待っています。読み取りが終わると自動的に送信されます…',
      'result.submitted.title': '受け付けました', 'result.submitted.body': '確認しています。このままお待ちください…',
      'result.received.title': '受け付けました', 'result.received.body': '確認には時間がかかっています。結果はお申し込み先からお知らせします。このページは閉じてかまいません。',
      'result.approved.title': '本人確認が完了しました', 'result.approved.body': 'ご協力ありがとうございました。このページは閉じてかまいません。',
      'result.rejected.title': '本人確認を完了できませんでした', 'result.rejected.body': 'お申し込み先にお問い合わせください。このページは閉じてかまいません。',
      'result.cancelled.title': '手続きを中止しました', 'result.cancelled.body': 'この手続きは中止され、どの端末からも続けられません。改めて手続きをするときは、お申し込み先で新しい手続きを始めてください。',
      'result.review.title': '担当者が確認します', 'result.review.body': '結果はお申し込み先からお知らせします。このページは閉じてかまいません。',
      'progress.approved': '完了しました', 'progress.cancelled': '中止しました', 'progress.rejected': '確認できませんでした',
      'progress.waiting': '確認中です', 'progress.error': '中断しました',
      'error.title': '続行できません', 'error.retry': 'もう一度試す',
      'err.no_token': 'リンクが正しくありません。お申し込み先から届いたリンクをそのまま開いてください。',
      'err.unauthorized': 'このリンクは無効か、すでに使用されています。お申し込み先で新しい手続きを始めてください。',
      'err.expired': '有効期限が切れました。お申し込み先で新しい手続きを始めてください。',
      'err.state': 'この手続きはすでに終了しているか、続行できない状態です。',
      'err.binding': '撮影データを確認できませんでした。もう一度お試しください。',
      'err.busy': '混み合っています。少し待ってからもう一度お試しください。',
      'err.network': '通信できませんでした。電波の良い場所でもう一度お試しください。',
      'err.insecure': 'このページは安全な接続(HTTPS)で開く必要があります。',
      'err.no_camera_api': 'このブラウザではカメラを使えません。最新のブラウザで開いてください。',
      'err.camera_denied': 'カメラの使用が許可されていません。ブラウザの設定でカメラを許可してから、もう一度お試しください。',
      'err.no_camera': 'カメラが見つかりません。カメラ付きの端末で開いてください。',
      'err.camera': 'カメラを起動できませんでした。他のアプリがカメラを使っていないか確認してください。',
      'err.frozen': 'カメラの映像が止まっているようです。もう一度お試しください。',
      'err.too_large': '画像が大きすぎます。',
      'err.chip_timeout': 'ICチップの読み取りが確認できませんでした。係員にお声がけください。',
      'err.other': '予期しないエラーが発生しました。もう一度お試しください。',
    },
    en: {
      brand: 'Identity verification', loading: 'Loading…',
      'intro.title': 'Let us verify your identity',
      'intro.he': 'We verify your identity with the IC chip of your ID card and a photo of your face taken now (method he).',
      'intro.ho': 'We verify your identity with photos of your ID document and a photo of your face taken now (method ho).',
      'intro.wa': 'We verify your identity with the signing certificate of your My Number card (method wa). You sign with the JPKI app on your smartphone or with the card reader at the counter.',
      'intro.privacy': 'The pictures are sent only to verify your identity and are not stored on this device. Please do not reload this page.',
      'intro.start': 'Start',
      'step.chip': 'Read the IC chip', 'step.doc_front': 'Photograph the front of your ID', 'step.doc_back': 'Photograph the back',
      'step.doc_tilt': 'Tilt the ID to show its thickness', 'step.selfie': 'Photograph your face (follow the instructions)', 'step.send': 'Send',
      'step.jpki': 'Sign with your My Number card (JPKI app on your smartphone, or the reader at the counter)',
      'jpki.title': 'Sign with your My Number card',
      'jpki.body': 'This browser cannot sign with your My Number card. Continue in one of these ways.',
      'jpki.phone.title': 'With the JPKI app on your smartphone',
      'jpki.phone.body': 'Scan this QR code with your smartphone, or open the link below on it, then read your card with the JPKI app and sign.',
      'jpki.phone.link': 'Open in the JPKI app', 'jpki.qr_alt': 'QR code of the link that opens the JPKI app',
      'jpki.on_phone': 'This device has taken over the verification. Read your card and sign with the JPKI app on your smartphone; this screen changes once the signature has arrived.',
      'jpki.kiosk.title': 'With the card reader at the counter',
      'jpki.kiosk.body': 'Tell a member of staff this reference; they can sign with the terminal\'s card reader.',
      'jpki.waiting': 'Waiting for your signature. This screen changes by itself…',
      'jpki.used': 'This QR code/link was used on another device. If that was not you, stop here.',
      'jpki.used_at': 'Used at {time}',
      'jpki.used_stop': 'Once cancelled, no device can continue this verification.',
      'jpki.used_cancel': 'Cancel this verification',
      'jpki.used_new': 'Show a new link',
      'chip.title': 'Reading the IC chip',
      'chip.body': 'Place your ID card on the card reader. When the reader has finished, press "Next".',
      'chip.waiting': 'Waiting for the chip read…', 'chip.next': 'Next',
      'doc_front.title': 'Front of your ID', 'doc_front.guide': 'Fit the front of your ID in the frame so the text and the photo are sharp.',
      'doc_back.title': 'Back of your ID', 'doc_back.guide': 'Turn the ID over and fit the whole back in the frame.',
      'doc_tilt.title': 'Thickness of your ID', 'doc_tilt.guide': 'Keep the front up and tilt the ID so its edge (thickness) is visible.',
      'selfie.title': 'Your face', 'selfie.guide': 'Fit your face in the oval. Press "Start" and follow the instructions on screen, moving slowly.',
      'selfie.start': 'Start',
      'camera.capture': 'Take photo', 'camera.retake': 'Retake', 'camera.use': 'Send this photo',
      'camera.starting': 'Starting the camera…', 'camera.sending': 'Sending…',
      'say.front': 'Look straight ahead', 'say.turn_left': 'Turn your head to your left', 'say.turn_right': 'Turn your head to your right',
      'say.blink': 'Blink', 'say.back': 'Look straight ahead again', 'say.hold': 'Hold still',
      'sending.title': 'Sending', 'sending.body': 'Checking. Please wait…',
      'sending.chip': 'Waiting for the chip read. The page sends automatically once the reader is done…',
      'result.submitted.title': 'Received', 'result.submitted.body': 'Checking. Please wait…',
      'result.received.title': 'Received', 'result.received.body': 'The check is taking a while. The service you applied to will tell you the result. You may close this page.',
      'result.approved.title': 'Your identity is verified', 'result.approved.body': 'Thank you. You may close this page.',
      'result.rejected.title': 'Your identity could not be verified', 'result.rejected.body': 'Please contact the service you applied to. You may close this page.',
      'result.cancelled.title': 'Verification cancelled', 'result.cancelled.body': 'This verification was cancelled; no device can continue it. To try again, start a new verification with the service you applied to.',
      'result.review.title': 'A member of staff will check', 'result.review.body': 'The service you applied to will tell you the result. You may close this page.',
      'progress.approved': 'Complete', 'progress.cancelled': 'Cancelled', 'progress.rejected': 'Not verified',
      'progress.waiting': 'Being checked', 'progress.error': 'Stopped',
      'error.title': 'Cannot continue', 'error.retry': 'Try again',
      'err.no_token': 'This link is incomplete. Open the link you received exactly as it was sent.',
      'err.unauthorized': 'This link is not valid or was already used. Please start again with the service you applied to.',
      'err.expired': 'This link has expired. Please start again with the service you applied to.',
      'err.state': 'This verification has already ended or cannot continue.',
      'err.binding': 'The picture could not be verified. Please try again.',
      'err.busy': 'The service is busy. Please wait a moment and try again.',
      'err.network': 'No connection. Please move to a place with a better signal and try again.',
      'err.insecure': 'This page must be opened over a secure (HTTPS) connection.',
      'err.no_camera_api': 'This browser cannot use the camera. Please open the link in a current browser.',
      'err.camera_denied': 'Camera access was denied. Allow the camera in your browser settings and try again.',
      'err.no_camera': 'No camera was found. Please use a device with a camera.',
      'err.camera': 'The camera could not be started. Check that no other app is using it.',
      'err.frozen': 'The camera picture seems frozen. Please try again.',
      'err.too_large': 'The picture is too large.',
      'err.chip_timeout': 'The chip read was not received. Please ask a member of staff.',
      'err.other': 'Something went wrong. Please try again.',
    },
  };

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const st = {
    lang: (navigator.language || '').toLowerCase().startsWith('ja') ? 'ja' : 'en',
    token: '', handoff: '', handoffTimer: 0, handoffGen: 0, usedAt: null, onPhone: false, session: '', method: '', needs: [], challenge: [],
    macKey: null, nonce: '', seq: 0, clockOffset: 0,
    stream: null, facing: '', steps: [], stepIndex: 0,
    pending: null, // {blob, url, capturedAt} of a document photo awaiting confirmation
    screen: 'loading', errorKey: '', result: '',
    stopped: false, // the customer cancelled: nothing more is asked of the server
  };

  // ---------- text ----------
  // t never shows a raw key: a missing message (a defect the tests look
  // for) is logged and shown as nothing.
  function t(k) {
    const m = (T[st.lang] && T[st.lang][k]) || T.en[k];
    if (m === undefined) console.error('capture page: no message ' + k);
    return m || '';
  }
  function applyLang() {
    document.documentElement.lang = st.lang;
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const l of ['ja', 'en']) $('lang-' + l).setAttribute('aria-pressed', String(st.lang === l));
    if (st.method) $('intro-method').textContent = t('intro.' + st.method);
    const ul = $('intro-steps');
    ul.textContent = '';
    for (const s of st.steps) {
      const li = document.createElement('li');
      li.textContent = t('step.' + s);
      ul.appendChild(li);
    }
    if (st.screen === 'camera') labelCamera();
    if (st.screen === 'error') $('error-body').textContent = t(st.errorKey);
    if (st.screen === 'done' && st.result) renderResult();
    renderProgress();
    $('jpki-qr').alt = t('jpki.qr_alt');
    if (st.onPhone) $('jpki-body').textContent = t('jpki.on_phone');
    if (st.usedAt) renderUsed();
    if (st.screen === 'selfie-run' || st.screen === 'camera') {
      const say = $('instruction').dataset.say;
      if (say) $('instruction').textContent = t(say);
    }
  }
  function setLang(l) { st.lang = l; applyLang(); }

  // ---------- screens ----------
  function show(name) {
    for (const el of document.querySelectorAll('.screen')) el.hidden = el.id !== 'screen-' + name;
    st.screen = name;
    document.body.dataset.screen = name; // for tests and for CSS hooks
    renderProgress();
  }
  // endOf names how the page ended, for the progress bar: the success
  // colour for an approval only; a cancellation, a rejection and an error
  // say what they are (in the label, not by colour alone); anything else
  // is still with the server.
  function endOf() {
    if (st.screen === 'error') return 'error';
    if (st.screen !== 'done' || !st.result) return '';
    return ['approved', 'cancelled', 'rejected'].includes(st.result) ? st.result : 'waiting';
  }
  function renderProgress() {
    const ol = $('progress');
    ol.textContent = '';
    const end = endOf();
    for (let i = 0; i < st.steps.length; i++) {
      const li = document.createElement('li');
      if (end && end !== 'error') li.className = end === 'approved' ? 'done' : end;
      else if (i < st.stepIndex) li.className = 'done';
      else if (i === st.stepIndex && st.screen !== 'intro') li.className = end || 'current';
      li.title = t('step.' + st.steps[i]);
      ol.appendChild(li);
    }
    ol.dataset.end = end;
    const label = $('progress-label');
    label.hidden = !end || st.steps.length === 0;
    label.className = 'progress-label ' + end;
    label.textContent = end ? t('progress.' + end) : '';
  }
  function say(key) {
    const el = $('instruction');
    el.dataset.say = key || '';
    el.textContent = key ? t(key) : '';
  }

  class Stop extends Error {
    constructor(key, retry) { super(key); this.key = key; this.retry = retry; }
  }
  function fail(key, retry, code) {
    stopCamera();
    st.errorKey = key;
    $('error-body').textContent = t(key);
    $('error-code').textContent = code ? '(' + code + ')' : '';
    const btn = $('btn-retry');
    btn.hidden = !retry;
    btn.onclick = retry ? () => { btn.onclick = null; retry(); } : null;
    show('error');
  }
  function handle(err, retry) {
    if (err instanceof Stop) return fail(err.key, err.retry || retry, err.code);
    if (err instanceof ApiError) {
      switch (err.slug) {
        case 'unauthorized': return fail('err.unauthorized', null, err.status);
        case 'ekyc-expired': return fail('err.expired', null, err.status);
        case 'ekyc-state': return fail('err.state', null, err.status);
        case 'ekyc-binding': case 'ekyc-replay': return fail('err.binding', retry, err.status);
        case 'too-large': return fail('err.too_large', retry, err.status);
        case 'too-many-requests': case 'unavailable': return fail('err.busy', retry, err.status);
      }
      return fail('err.other', retry, err.status);
    }
    if (err instanceof TypeError) return fail('err.network', retry);
    return fail('err.other', retry);
  }

  // ---------- API ----------
  class ApiError extends Error {
    constructor(status, slug, retryAfter) {
      super('HTTP ' + status + ' ' + slug);
      this.status = status; this.slug = slug; this.retryAfter = retryAfter;
    }
  }
  async function api(path, auth, body, method) {
    const get = method === 'GET';
    const resp = await fetch(path, {
      method: get ? 'GET' : 'POST', credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
      headers: Object.assign(auth ? { Authorization: auth } : {},
        get ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: get ? undefined : (body === undefined ? '{}' : JSON.stringify(body)),
    });
    let data = {};
    try { data = await resp.json(); } catch (_) { data = {}; }
    if (!resp.ok) {
      const slug = typeof data.type === 'string' ? data.type.slice(data.type.lastIndexOf('/') + 1) : '';
      throw new ApiError(resp.status, slug, Number(resp.headers.get('Retry-After')) || 0);
    }
    return { data, resp };
  }
  // withRetry retries 429 and 503 answers a few times, honouring Retry-After.
  async function withRetry(fn) {
    for (let i = 0; ; i++) {
      try { return await fn(); } catch (e) {
        const again = e instanceof ApiError && (e.status === 429 || e.status === 503) && i < 4;
        if (!again) throw e;
        await sleep(1000 * Math.min(Math.max(e.retryAfter, 1), 10));
      }
    }
  }

  // ---------- bytes ----------
  function b64urlDecode(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out;
  }
  function b64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  const b64url = (bytes) => b64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const hex = (buf) => Array.from(new Uint8Array(buf), (x) => x.toString(16).padStart(2, '0')).join('');

  // ---------- camera ----------
  function stopCamera() {
    if (st.stream) for (const tr of st.stream.getTracks()) tr.stop();
    st.stream = null; st.facing = '';
    const v = $('video');
    if (v) v.srcObject = null;
  }
  async function camera(facing) {
    if (st.stream && st.facing === facing) return;
    stopCamera();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Stop('err.no_camera_api');
    try {
      st.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 960 } },
      });
    } catch (e) {
      const name = e && e.name;
      if (name === 'NotAllowedError' || name === 'SecurityError') throw new Stop('err.camera_denied');
      if (name === 'NotFoundError' || name === 'OverconstrainedError') throw new Stop('err.no_camera');
      throw new Stop('err.camera');
    }
    st.facing = facing;
    const v = $('video');
    v.srcObject = st.stream;
    await v.play().catch(() => {});
    for (let i = 0; i < 50 && !(v.videoWidth > 0); i++) await sleep(100);
    if (!(v.videoWidth > 0)) throw new Stop('err.camera');
  }
  // snapshot draws the current video frame (unmirrored) and encodes a JPEG.
  async function snapshot() {
    const v = $('video');
    const c = $('canvas');
    const scale = Math.min(1, MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
    c.width = Math.round(v.videoWidth * scale);
    c.height = Math.round(v.videoHeight * scale);
    const capturedAt = Date.now() + st.clockOffset;
    c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
    for (const q of [0.92, 0.8, 0.65]) {
      const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', q));
      if (blob && blob.size <= MAX_BYTES) return { blob, capturedAt };
    }
    throw new Stop('err.too_large');
  }

  // ---------- frames ----------
  async function postFrame(kind, shot) {
    const image = new Uint8Array(await shot.blob.arrayBuffer());
    const seq = st.seq + 1;
    const digest = hex(await crypto.subtle.digest('SHA-256', image));
    const input = ['madoguchi-frame-v1', st.session, kind, seq, st.nonce, shot.capturedAt, 'camera', digest].join('\n');
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', st.macKey, new TextEncoder().encode(input)));
    const { data } = await withRetry(() => api('/v1/ekyc/capture/frames', 'Capture-Key ' + st.key, {
      kind, seq, nonce: st.nonce, captured_at: shot.capturedAt, source: 'camera', image: b64(image), mac: b64url(mac),
    }));
    st.seq = seq;
    st.nonce = data.next_nonce;
  }
  // postFresh posts a frame. If the server already has these exact bytes
  // (a frozen camera repeats frames) or the frame waited in the queue past
  // the nonce's time window (a slow network or a busy device), it takes a
  // new snapshot and tries again, a few times.
  async function postFresh(kind, shot) {
    for (let i = 0; ; i++) {
      try { return await postFrame(kind, shot); } catch (e) {
        const stale = e instanceof ApiError && (e.slug === 'ekyc-replay' || e.slug === 'ekyc-binding');
        if (!stale || i >= 3) {
          if (e instanceof ApiError && e.slug === 'ekyc-replay') throw new Stop('err.frozen');
          throw e;
        }
        await sleep(150);
        shot = await snapshot();
      }
    }
  }

  // ---------- flow ----------
  async function begin() {
    show('loading');
    if (st.handoff) return handoffHere();
    if (!st.token) return fail('err.no_token');
    if (!window.isSecureContext || !crypto.subtle) return fail('err.insecure');
    let res;
    try {
      const t0 = Date.now();
      res = await withRetry(() => api('/v1/ekyc/capture/start', 'Capture ' + st.token));
      const t1 = Date.now();
      // Frames carry server-clock times (the server allows ±2 s); correct a
      // device clock that is clearly off, using the Date header.
      const server = Date.parse(res.resp.headers.get('Date') || '');
      if (!Number.isNaN(server)) {
        const off = server + 500 - (t0 + t1) / 2;
        st.clockOffset = Math.abs(off) > 1500 ? Math.round(off) : 0;
      }
    } catch (e) {
      return handle(e, null); // the token is single-use: no retry
    } finally {
      st.token = ''; // never reused
    }
    const d = res.data;
    st.session = d.session_id; st.method = d.method; st.needs = d.needs || []; st.challenge = d.challenge || [];
    st.key = d.capture_key; st.nonce = d.frame_nonce;
    st.macKey = await crypto.subtle.importKey('raw', b64urlDecode(d.capture_key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    if (d.locale === 'ja' || d.locale === 'en') st.lang = d.locale;
    st.steps = [];
    if (st.method === 'wa') {
      // ワ: the card signs in the JPKI app or at the kiosk; the server
      // decides when the signature arrives. The page never submits.
      st.steps.push('jpki');
    } else {
      if (st.method === 'he') st.steps.push('chip');
      for (const k of st.needs) st.steps.push(k);
      st.steps.push('send');
    }
    st.stepIndex = 0;
    applyLang();
    show('intro');
    $('btn-start').focus();
  }

  function next() {
    st.stepIndex++;
    run();
  }
  function run() {
    const step = st.steps[st.stepIndex];
    document.body.dataset.step = step;
    const go = (p) => p.catch((e) => handle(e, run));
    if (step === 'chip') {
      $('chip-wait').hidden = true;
      show('chip');
    } else if (step === 'doc_front' || step === 'doc_back' || step === 'doc_tilt') {
      go(docStep(step));
    } else if (step === 'selfie') {
      go(selfieSetup());
    } else if (step === 'jpki') {
      go(jpkiStep());
    } else {
      go(submit());
    }
  }

  function labelCamera() {
    const step = st.steps[st.stepIndex];
    $('camera-title').textContent = t(step + '.title');
    $('camera-guide').textContent = t(step + '.guide');
    $('btn-capture').textContent = step === 'selfie' ? t('selfie.start') : t('camera.capture');
  }
  function cameraButtons(capture, review) {
    $('btn-capture').hidden = !capture;
    $('btn-capture').disabled = false;
    $('btn-retake').hidden = !review;
    $('btn-use').hidden = !review;
    $('btn-use').disabled = false;
  }
  function clearPreview() {
    const img = $('preview');
    if (img.src) URL.revokeObjectURL(img.src);
    img.removeAttribute('src');
    img.hidden = true;
    st.pending = null;
  }

  async function docStep(step) {
    clearPreview();
    say('');
    $('viewfinder').className = 'viewfinder';
    $('guide').className = 'guide card' + (step === 'doc_tilt' ? ' tilt' : '');
    show('camera');
    labelCamera();
    cameraButtons(false, false);
    $('camera-status').textContent = t('camera.starting');
    await camera('environment');
    $('camera-status').textContent = '';
    cameraButtons(true, false);
  }
  async function docCapture() {
    $('btn-capture').disabled = true;
    const shot = await snapshot();
    st.pending = shot;
    const img = $('preview');
    img.src = URL.createObjectURL(shot.blob);
    img.hidden = false;
    cameraButtons(false, true);
  }
  async function docUse() {
    const step = st.steps[st.stepIndex];
    const shot = st.pending;
    if (!shot) return;
    $('btn-use').disabled = true;
    $('btn-retake').hidden = true;
    $('camera-status').textContent = t('camera.sending');
    await postFresh(step, shot);
    $('camera-status').textContent = '';
    clearPreview();
    next();
  }

  async function selfieSetup() {
    clearPreview();
    say('');
    $('viewfinder').className = 'viewfinder selfie';
    $('guide').className = 'guide face';
    show('camera');
    labelCamera();
    cameraButtons(false, false);
    $('camera-status').textContent = t('camera.starting');
    await camera('user');
    $('camera-status').textContent = '';
    cameraButtons(true, false);
  }

  // selfieRun performs the server's challenge: a frontal frame, then for
  // each step its instruction and a burst of frames, then back to frontal.
  // Frames are posted in order while the next ones are taken; the queue is
  // drained between steps so no frame waits long for its nonce.
  async function selfieRun() {
    cameraButtons(false, false);
    st.screen = 'selfie-run';
    document.body.dataset.screen = 'selfie-run';
    let queue = Promise.resolve();
    let failed = null;
    const take = async () => {
      const shot = await snapshot();
      queue = queue.then(() => (failed ? null : postFresh('selfie', shot))).catch((e) => { failed = failed || e; });
    };
    const burst = async (n, gap) => { for (let i = 0; i < n; i++) { await take(); await sleep(gap); } };
    const drain = async () => { await queue; if (failed) throw failed; };

    say('say.front');
    await sleep(1500);
    await burst(2, 300);
    await drain();
    for (const step of st.challenge) {
      say('say.' + step);
      document.body.dataset.challenge = step;
      await sleep(step === 'blink' ? 500 : 900);
      if (step === 'blink') await burst(6, 110); else await burst(3, 300);
      say('say.back');
      await sleep(900);
      await burst(2, 300);
      await drain();
    }
    delete document.body.dataset.challenge;
    say('');
    stopCamera();
    next();
  }

  async function submit() {
    stopCamera();
    $('sending-body').textContent = t('sending.body');
    show('sending');
    const until = Date.now() + SUBMIT_WAIT_MS;
    for (;;) {
      try {
        await withRetry(() => api('/v1/ekyc/capture/submit', 'Capture-Key ' + st.key));
        break;
      } catch (e) {
        // ヘ: the kiosk's chip read may still be on its way; the server says
        // the session is incomplete (409 ekyc-state) until it arrives.
        if (st.method === 'he' && e instanceof ApiError && e.slug === 'ekyc-state' && Date.now() < until) {
          $('sending-body').textContent = t('sending.chip');
          await sleep(3000);
          continue;
        }
        if (st.method === 'he' && e instanceof ApiError && e.slug === 'ekyc-state') throw new Stop('err.chip_timeout');
        throw e;
      }
    }
    await follow();
  }

  // jpkiStep shows the hand-off: a one-time link from the server (and its
  // QR code, rendered by the server as SVG) for the smartphone JPKI app,
  // and the session's reference for a kiosk's card reader; then it follows
  // the server's state until a signature was received. The link never
  // carries this page's key; it expires soon, so the page asks for a fresh
  // one shortly before (each new link replaces the one before it), until
  // the server says the link was redeemed (handoffUsed).
  async function jpkiStep() {
    try {
      await showHandoff();
    } catch (e) {
      // Signed already (the app or kiosk was quicker): show the result.
      if (e instanceof ApiError && e.slug === 'ekyc-state') return follow();
      throw e;
    }
    show('jpki');
    try {
      await follow();
    } finally {
      clearTimeout(st.handoffTimer);
    }
  }
  async function showHandoff() {
    const { data } = await withRetry(() => api('/v1/ekyc/capture/handoff', 'Capture-Key ' + st.key));
    // A state answered before this link existed speaks of the one before.
    st.handoffGen++;
    st.usedAt = null;
    $('jpki-used').hidden = true;
    $('jpki-link').hidden = false;
    const img = $('jpki-qr');
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(new Blob([data.qr_svg], { type: 'image/svg+xml' }));
    img.alt = t('jpki.qr_alt');
    img.hidden = false;
    $('jpki-link').href = data.link;
    $('jpki-session').textContent = data.session_id;
    const left = Date.parse(data.expires_at) - (Date.now() + st.clockOffset) - 15000;
    clearTimeout(st.handoffTimer);
    st.handoffTimer = setTimeout(() => {
      // Only while the hand-off is on screen; follow() reports the rest.
      if (st.screen === 'jpki' && st.key && !st.usedAt) showHandoff().catch(() => {});
    }, Math.max(left, 5000));
  }

  // handoffUsed shows what the server recorded of the page's current
  // hand-off link (GET /v1/ekyc/capture/state, "handoff"): once redeemed,
  // its QR code and link are spent, so they go, the automatic refresh
  // stops and the page says when the link was used (nothing else is
  // known of the device) with a button for a fresh link. Only an answer
  // the server gave with a valid time shows the notice.
  function handoffUsed(h) {
    const at = h && h.redeemed === true && typeof h.redeemed_at === 'string' ? new Date(h.redeemed_at) : null;
    if (!at || isNaN(at.getTime())) {
      if (h && h.redeemed === false && st.usedAt) { st.usedAt = null; $('jpki-used').hidden = true; }
      return;
    }
    clearTimeout(st.handoffTimer);
    st.usedAt = at;
    const img = $('jpki-qr');
    img.hidden = true;
    if (img.src) { URL.revokeObjectURL(img.src); img.removeAttribute('src'); }
    $('jpki-link').hidden = true;
    $('jpki-link').removeAttribute('href');
    renderUsed();
    $('jpki-used').hidden = false;
  }
  function renderUsed() {
    const time = st.usedAt.toLocaleString(st.lang === 'ja' ? 'ja-JP' : 'en-GB',
      { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    $('jpki-used-at').textContent = t('jpki.used_at').replace('{time}', time);
    $('jpki-used').dataset.redeemedAt = st.usedAt.toISOString();
  }
  function newHandoff() {
    const btn = $('btn-handoff-new');
    btn.disabled = true;
    showHandoff().catch((e) => {
      // Signed already, or ended: follow() shows what the server recorded.
      if (!(e instanceof ApiError && (e.slug === 'ekyc-state' || e.slug === 'ekyc-expired'))) handle(e, null);
    }).finally(() => { btn.disabled = false; });
  }

  // cancelCapture ends the session at the customer's request (the notice
  // that the link was used on another device offers it): the server
  // cancels it and every key of it, this page's and the device's, stops
  // working. The page shows the cancellation only once the server
  // answered that the session is cancelled.
  async function cancelCapture() {
    const btn = $('btn-cancel');
    btn.disabled = true;
    try {
      const { data } = await withRetry(() => api('/v1/ekyc/capture/cancel', 'Capture-Key ' + st.key));
      if (data.state !== 'cancelled') throw new Stop('err.state');
      st.stopped = true;
      clearTimeout(st.handoffTimer);
      finish('cancelled');
    } catch (e) {
      handle(e, null);
    } finally {
      btn.disabled = false;
    }
  }

  // handoffHere runs where a hand-off link was opened (#h=): it redeems the
  // one-time token for this device's own capture key, says to sign with the
  // JPKI app, and follows the session.
  async function handoffHere() {
    let d;
    try {
      ({ data: d } = await withRetry(() => api('/v1/ekyc/capture/handoff/redeem', '', { token: st.handoff })));
    } catch (e) {
      return handle(e, null); // single-use: no retry
    } finally {
      st.handoff = ''; // never reused
    }
    st.key = d.capture_key; st.session = d.session_id; st.method = d.method;
    if (d.locale === 'ja' || d.locale === 'en') st.lang = d.locale;
    st.steps = ['jpki'];
    $('jpki-phone').hidden = true;
    $('jpki-kiosk').hidden = true;
    st.onPhone = true;
    applyLang();
    show('jpki');
    await follow().catch((e) => handle(e, null));
  }

  // follow asks the server for the session's state until it is decided
  // (or, for ワ, until the signature arrived) and shows exactly what the
  // server recorded; it never assumes a success.
  async function follow() {
    const until = Date.now() + DECISION_WAIT_MS;
    for (;;) {
      if (st.stopped) return;
      const gen = st.handoffGen;
      const { data } = await withRetry(() => api('/v1/ekyc/capture/state', 'Capture-Key ' + st.key, undefined, 'GET'));
      if (st.stopped) return;
      const state = data.state;
      if (state === 'capturing' && st.method === 'wa' && !st.onPhone && st.screen === 'jpki' && gen === st.handoffGen) handoffUsed(data.handoff);
      if (state === 'expired') throw new Stop('err.expired');
      if (state === 'cancelled') throw new Stop('err.state');
      if (state === 'decided' || state === 'closed') return finish(data.outcome || 'review');
      if (state === 'submitted') {
        if (Date.now() > until) return finish('received');
        if (st.screen !== 'done') finish('submitted', true);
      } else if (st.method !== 'wa') {
        // Capturing after a submit the server took: not a state this page
        // can explain. ワ waits here for the app or the kiosk until the
        // session is signed or expires.
        throw new Stop('err.state');
      }
      await sleep(POLL_MS);
    }
  }

  // finish shows the server's recorded result; pending keeps the key to
  // go on following the session.
  function finish(result, pending) {
    st.result = result;
    if (!pending) {
      // Forget everything: the key, the nonce, the session.
      st.key = ''; st.macKey = null; st.nonce = ''; st.session = '';
    }
    st.stepIndex = st.steps.length;
    document.body.dataset.outcome = result;
    renderResult();
    show('done');
  }
  function renderResult() {
    const r = st.result;
    $('done-title').textContent = t('result.' + r + '.title');
    $('done-body').textContent = t('result.' + r + '.body');
    $('done-mark').className = r === 'approved' ? 'check' : r === 'submitted' ? 'spinner' : r === 'cancelled' || r === 'rejected' ? 'cross ' + r : '';
  }

  // ---------- wiring ----------
  function init() {
    const m = /^#t=([A-Za-z0-9_-]{16,128})$/.exec(location.hash);
    st.token = m ? m[1] : '';
    // A ワ hand-off link carries a one-time hand-off token instead (#h=).
    const h = /^#h=([A-Za-z0-9_-]{16,128})$/.exec(location.hash);
    st.handoff = h ? h[1] : '';
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    $('lang-ja').addEventListener('click', () => setLang('ja'));
    $('lang-en').addEventListener('click', () => setLang('en'));
    $('btn-start').addEventListener('click', () => run());
    $('btn-chip-next').addEventListener('click', () => { $('chip-wait').hidden = false; next(); });
    $('btn-capture').addEventListener('click', () => {
      const step = st.steps[st.stepIndex];
      const p = step === 'selfie' ? selfieRun() : docCapture();
      p.catch((e) => handle(e, run));
    });
    $('btn-handoff-new').addEventListener('click', newHandoff);
    $('btn-cancel').addEventListener('click', cancelCapture);
    $('btn-retake').addEventListener('click', () => { clearPreview(); cameraButtons(true, false); });
    $('btn-use').addEventListener('click', () => docUse().catch((e) => handle(e, run)));
    window.addEventListener('pagehide', stopCamera);
    applyLang();
    begin().catch((e) => handle(e, null));
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
