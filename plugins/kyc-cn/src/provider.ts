import { randomBytes } from 'node:crypto';
import type { KycField, KycInvalid, KycProvider, Logger } from '@cardshop/core';
import { idCardProblem } from './id-card.js';
import type { KycCnSettings } from './settings.js';
import { sign } from './sign.js';

const PHONE = /^1[3-9]\d{9}$/;

/** The value at a dotted path of a JSON answer (`result.res`), as text. */
function at(answer: unknown, path: string): string | undefined {
  let v: unknown = answer;
  for (const part of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
}

/** The request exactly as it goes out: URL, headers and body. */
export function buildRequest(s: KycCnSettings, person: { name: string; idNumber: string; phone?: string }, now = Date.now()) {
  const params: Record<string, string> = { [s.nameField]: person.name, [s.idField]: person.idNumber };
  if (person.phone) params[s.phoneField] = person.phone;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (s.auth === 'appcode') headers.authorization = `APPCODE ${s.appCode!.reveal()}`;
  else {
    if (s.appId) params[s.appIdField] = s.appId;
    params[s.timestampField] = String(Math.floor(now / 1000));
    params[s.nonceField] = randomBytes(12).toString('hex');
    params[s.signField] = sign(params, { algorithm: s.auth, secret: s.appSecret!.reveal(), signField: s.signField, upper: s.signCase === 'upper' });
  }
  const url = new URL(s.apiUrl);
  let body: string | undefined;
  if (s.method === 'get') for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  else if (s.method === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
    body = new URLSearchParams(params).toString();
  } else {
    headers['content-type'] = 'application/json; charset=utf-8';
    body = JSON.stringify(params);
  }
  return { url, method: s.method === 'get' ? 'GET' : 'POST', headers, body };
}

/**
 * The configured verification API as a KycProvider: ID numbers are checked locally first (no call
 * for a number that cannot exist); the answer's `resultPath` decides match, mismatch or no record,
 * and anything else (an error code, "out of credit", a timeout) is `unavailable`, never held
 * against the user.
 */
export function createKycProvider(s: KycCnSettings, log: Logger): KycProvider {
  const classify = (value: string | undefined): 'verified' | 'mismatch' | 'no_record' | undefined => {
    if (value === undefined) return undefined;
    if (s.verifiedValues.includes(value)) return 'verified';
    if (s.mismatchValues.includes(value)) return 'mismatch';
    if (s.noRecordValues.includes(value)) return 'no_record';
    return undefined;
  };
  const where = `${new URL(s.apiUrl).host}${new URL(s.apiUrl).pathname}`;

  return {
    id: 'kyc-cn',
    label: { 'zh-CN': '实名认证', en: 'Real-name verification' },
    check({ idNumber, phone }) {
      const problems: Partial<Record<KycField, KycInvalid>> = {};
      const id = idCardProblem(idNumber);
      if (id) problems.idNumber = id;
      if (phone ? !PHONE.test(phone) : s.requirePhone) problems.phone = 'format';
      return problems;
    },
    async verify(person) {
      const req = buildRequest(s, { name: person.name, idNumber: person.idNumber, phone: person.phone });
      let answer: unknown;
      try {
        const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: AbortSignal.timeout(s.timeoutMs) });
        const text = await res.text();
        if (!res.ok) return { status: 'unavailable', detail: `${where} answered HTTP ${res.status}` };
        answer = JSON.parse(text.replace(/^\uFEFF/, ''));
      } catch (err) {
        const e = err as { name?: string; message?: string };
        const why = e.name === 'TimeoutError' ? `no answer within ${s.timeoutMs} ms` : e.name === 'SyntaxError' ? 'an answer that is not JSON' : `cannot reach it (${e.message})`;
        return { status: 'unavailable', detail: `${where}: ${why}` };
      }
      const outcome = classify(at(answer, s.resultPath));
      const message = at(answer, s.messagePath)?.slice(0, 200);
      if (outcome === 'verified') return { status: 'verified', reference: person.requestId };
      if (outcome === 'mismatch' || outcome === 'no_record') return { status: 'rejected', reason: outcome, detail: message, reference: person.requestId };
      log.warn(`kyc-cn: ${where} answered ${s.resultPath}=${at(answer, s.resultPath) ?? '(missing)'}${message ? ` (${message})` : ''}; not an outcome the settings name`);
      return { status: 'unavailable', detail: message };
    },
  };
}
