// The branch verifier's page: reads the QR from the camera (frames go to
// the local verifier, which decodes them), then films the live face with
// the challenge the verifier drew, and shows yes or no.
'use strict';
(function () {
  const video = document.getElementById('cam');
  const statusEl = document.getElementById('status');
  const instr = document.getElementById('instruction');
  const result = document.getElementById('result');
  const reasonsEl = document.getElementById('reasons');
  const again = document.getElementById('again');
  const canvas = document.createElement('canvas');
  const STEP_TEXT = {
    turn_left: '左を向いてください / Turn your head to your left',
    turn_right: '右を向いてください / Turn your head to your right',
    blink: 'まばたきしてください / Blink',
  };
  const FACE_FRAMES = 30, FACE_INTERVAL = 250, SCAN_INTERVAL = 300;

  async function post(path, body) {
    const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(j.title || ('HTTP ' + r.status));
    return j;
  }
  function frame() {
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0);
    return canvas.toDataURL('image/jpeg', 0.92).split(',')[1];
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function refreshStatus() {
    try {
      const r = await fetch('/api/status');
      const s = await r.json();
      const c = s.counter;
      const age = c.status_age_seconds;
      const ageText = age < 3600 ? Math.round(age / 60) + ' 分 / min' : (age / 3600).toFixed(1) + ' 時間 / h';
      statusEl.textContent = (s.online ? 'オンライン / online' : 'オフライン / offline') +
        ' — 失効リスト / status list: ' + (c.status_valid ? ageText + ' 前 / old (seq ' + c.status_seq + ')' : '期限切れまたはなし / expired or missing') +
        ' — モデル / model: ' + c.model + (c.policy_error ? ' — ' + c.policy_error : '');
      statusEl.dataset.ready = String(c.ready);
      statusEl.dataset.online = String(s.online);
    } catch (e) { statusEl.textContent = 'verifier unreachable'; }
  }

  function show(d) {
    result.dataset.accepted = String(d.accepted);
    result.textContent = d.accepted ? '✓ 本人確認OK / Verified' : '✗ 確認できません / Not verified';
    reasonsEl.textContent = '';
    for (const r of d.reasons || []) {
      const li = document.createElement('li'); li.textContent = r; reasonsEl.appendChild(li);
    }
    instr.textContent = '';
    again.hidden = false;
  }

  async function scanLoop() {
    for (;;) {
      if (video.videoWidth > 0) {
        const j = await post('/api/scan', { image: frame() }).catch(() => null);
        if (j && j.found) {
          if (j.decision) return show(j.decision);
          return faceCapture(j.scan);
        }
      }
      await sleep(SCAN_INTERVAL);
    }
  }

  async function faceCapture(scan) {
    instr.textContent = 'カメラを見てください / Look at the camera — ' + scan.steps.map((s) => STEP_TEXT[s]).join(' → ');
    instr.dataset.steps = scan.steps.join(',');
    let nonce = scan.nonce;
    for (let i = 0; i < FACE_FRAMES; i++) {
      await sleep(FACE_INTERVAL);
      const j = await post('/api/frame', { session: scan.session, nonce: nonce, image: frame() });
      nonce = j.next_nonce;
    }
    instr.textContent = '判定中… / deciding…';
    show(await post('/api/decide', { session: scan.session }));
  }

  again.addEventListener('click', () => {
    again.hidden = true; result.dataset.accepted = ''; result.textContent = '—'; reasonsEl.textContent = '';
    instr.textContent = "お客さまのQRコードをカメラに向けてください / Show the customer's QR code to the camera";
    scanLoop();
  });

  refreshStatus(); setInterval(refreshStatus, 5000);
  navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false }).then((s) => {
    video.srcObject = s; scanLoop();
  }).catch((e) => { instr.textContent = 'camera: ' + e.message; });
})();
