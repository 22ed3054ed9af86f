import { createHash } from 'node:crypto';
import Router from '@koa/router';
import { errors } from '../errors.js';
import { CHALLENGE_PURPOSES, requireHuman, type ChallengePurpose, type ChallengeView } from '../security/bot-defence.js';
import type { ShopContext, ShopRouter } from './context.js';

/**
 * The HTTP side of bot defence (security/bot-defence.ts): the proof-of-work solver the forms load,
 * `GET /api/store/challenge?purpose=checkout|register` for apps, and the helpers the form routes
 * use to put a challenge in a page and to check what came back.
 */

export const CHALLENGE_SCRIPT = '/challenge/pow.js';

/**
 * The solver, in the page and again as its own Web Worker (same file), so the page stays
 * responsive: it finds the nonce as soon as the page opens, puts `token:nonce` into the form's
 * `challenge` field, and holds back a submit until then. SHA-256 is written out because
 * crypto.subtle exists only on HTTPS pages and answers one hash per promise.
 */
const SOLVER = `/* cardshop bot defence: the proof of work of [data-challenge="pow"] */
(function () {
  'use strict';
  var K = new Int32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
  var W = new Int32Array(64), H = new Int32Array(8);
  /* SHA-256 of an ASCII string; returns its first 32 bits, or -1 bits when they are all zero and more follow. */
  function sha256(s) {
    var n = s.length, blocks = ((n + 8) >> 6) + 1, words = new Int32Array(blocks * 16), i, j;
    for (i = 0; i < n; i++) words[i >> 2] |= s.charCodeAt(i) << (24 - (i & 3) * 8);
    words[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
    words[blocks * 16 - 1] = n * 8;
    H[0] = 0x6a09e667; H[1] = 0xbb67ae85; H[2] = 0x3c6ef372; H[3] = 0xa54ff53a; H[4] = 0x510e527f; H[5] = 0x9b05688c; H[6] = 0x1f83d9ab; H[7] = 0x5be0cd19;
    for (j = 0; j < words.length; j += 16) {
      var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (i = 0; i < 64; i++) {
        if (i < 16) W[i] = words[j + i];
        else {
          var x = W[i - 15], y = W[i - 2];
          W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + W[i - 16] + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + W[i - 7];
        }
        var t1 = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i] + W[i];
        var t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    return H;
  }
  function zeroBits(h) {
    for (var i = 0, bits = 0; i < 8; i++, bits += 32) if (h[i] !== 0) return bits + Math.clz32(h[i]);
    return 256;
  }
  function solve(token, bits) {
    for (var n = 0; ; n++) if (zeroBits(sha256(token + ':' + n)) >= bits) return token + ':' + n;
  }
  if (typeof document === 'undefined') {
    self.onmessage = function (e) { self.postMessage(solve(e.data.token, e.data.bits)); };
    return;
  }
  var src = document.currentScript && document.currentScript.src;
  document.querySelectorAll('[data-challenge="pow"]').forEach(function (box) {
    var form = box.closest('form'), field = box.querySelector('input[name=challenge]'), status = box.querySelector('[data-challenge-status]');
    var token = box.getAttribute('data-token'), bits = +box.getAttribute('data-bits'), waiting = false;
    if (!form || !field || !token) return;
    if (status) status.hidden = false;
    function done(answer) {
      field.value = answer;
      box.setAttribute('data-solved', '');
      if (status) status.hidden = true;
      if (waiting) { if (form.requestSubmit) form.requestSubmit(); else form.submit(); }
    }
    try {
      var worker = new Worker(src);
      worker.onmessage = function (e) { done(e.data); worker.terminate(); };
      worker.postMessage({ token: token, bits: bits });
    } catch (err) {
      setTimeout(function () { done(solve(token, bits)); }, 0);
    }
    form.addEventListener('submit', function (e) {
      if (field.value) return;
      e.preventDefault();
      waiting = true;
    });
  });
})();
`;
const SOLVER_ETAG = `"${createHash('sha256').update(SOLVER).digest('hex').slice(0, 16)}"`;

/** The challenge a form for `purpose` shows, or null when that form needs none (`botDefence.<purpose>` off). */
export async function challengeFor(ctx: ShopContext, purpose: ChallengePurpose): Promise<ChallengeView | null> {
  if (!ctx.shop.config.botDefence[purpose]) return null;
  return ctx.shop.botDefence.challenge({ purpose, ip: ctx.ip });
}

/** The answer an HTML form sent: the script's `challenge`, else the fallback's `captchaToken` and `captchaAnswer`. */
export function answerOf(form: Record<string, unknown>): string | undefined {
  const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  if (str(form.challenge)) return str(form.challenge);
  return str(form.captchaToken) ? `${str(form.captchaToken)}:${str(form.captchaAnswer)}` : undefined;
}

/** Refuses a registration whose challenge does not pass (400, field `challenge`). */
export async function checkRegistration(ctx: ShopContext, answer: string | undefined): Promise<void> {
  if (ctx.shop.config.botDefence.register) await requireHuman(ctx.shop.botDefence, { purpose: 'register', answer, ip: ctx.ip });
}

export function challengeRoutes(): ShopRouter {
  const r: ShopRouter = new Router();
  r.get(CHALLENGE_SCRIPT, (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.set('ETag', SOLVER_ETAG);
    ctx.status = ctx.get('if-none-match') === SOLVER_ETAG ? 304 : 200;
    if (ctx.status === 200) ctx.body = SOLVER;
  });
  // `{ challenge: null }` when that form needs none.
  r.get('/api/store/challenge', async (ctx) => {
    const purpose = ctx.query.purpose;
    if (!CHALLENGE_PURPOSES.includes(purpose as ChallengePurpose)) throw errors.validation({ purpose: 'field.invalid' });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { challenge: await challengeFor(ctx, purpose as ChallengePurpose) };
  });
  return r;
}
