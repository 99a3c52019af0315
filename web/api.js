// api.js — every call the page makes to hufu's public API, and the tokens it holds.
//
// The access token lives only in this module's memory: a script injected into the page
// could still call the API, but nothing leaves a readable copy in storage that outlives the
// tab. The refresh token is kept in localStorage so a reload or a new tab renews silently;
// hufu rotates it on every use and revokes the whole session if a retired one comes back,
// so a stolen copy is useful at most once and its use ends the victim's session visibly.
// Renewals are serialised across tabs with the Web Locks API, and each reads the newest
// refresh token inside the lock, so two tabs never present the same token twice.

import { lang } from './i18n.js';

const REFRESH_KEY = 'hufu.refresh_token';
const LOCK_NAME = 'hufu.refresh';
// Renew this long before the access token expires, so a request never carries a token
// that expires in flight.
const RENEW_MARGIN_MS = 30_000;

/** An error answered by the API (with its envelope) or a network failure. */
export class ApiError extends Error {
  constructor(status, envelope, network = false, retryAfter = null) {
    super((envelope && (envelope.error || envelope.message)) || `HTTP ${status}`);
    this.status = status;
    // Seconds from the `Retry-After` header (429 RATE_LIMITED, 423 ACCOUNT_LOCKED), or null.
    this.retryAfter = retryAfter;
    this.envelope = envelope;
    this.network = network;
    this.code = envelope ? envelope.error_code : undefined;
    this.details = (envelope && envelope.details) || [];
  }
}

let access = null; // { token, expiresAt, sid }
const listeners = new Set();

/** `fn(reason)` is called when the session ends without the user asking (revoked, disabled,
 * expired refresh token) or in another tab; `reason` is an ApiError or `'elsewhere'`. */
export function onSessionEnded(fn) {
  listeners.add(fn);
}

function ended(reason) {
  access = null;
  localStorage.removeItem(REFRESH_KEY);
  for (const fn of listeners) fn(reason);
}

// Another tab signed out (removed the refresh token): this tab's session is gone too.
window.addEventListener('storage', (event) => {
  if (event.key === REFRESH_KEY && event.newValue === null && access) {
    access = null;
    for (const fn of listeners) fn('elsewhere');
  }
});

/** Whether the page holds a session (or can renew one). */
export function hasSession() {
  return access !== null || localStorage.getItem(REFRESH_KEY) !== null;
}

/** The session id (`sid` claim) of the current access token, to mark "this device". */
export function currentSessionId() {
  return access ? access.sid : null;
}

function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return {};
  }
}

/** Keeps the tokens of a login (or refresh) response. */
export function keep(loginData) {
  const claimed = claims(loginData.token);
  access = {
    token: loginData.token,
    expiresAt: Date.now() + loginData.expires_in * 1000,
    sid: claimed.sid ?? null,
  };
  localStorage.setItem(REFRESH_KEY, loginData.refresh_token);
}

/** One HTTP call; resolves to the envelope's `data`, rejects with an ApiError. */
async function send(method, path, body, token) {
  const headers = { Accept: 'application/json', 'Accept-Language': lang === 'zh' ? 'zh-CN' : 'en' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, null, true);
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = null;
  }
  if (!response.ok) {
    const retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
    throw new ApiError(response.status, envelope, envelope === null && response.status >= 500, Number.isFinite(retryAfter) ? retryAfter : null);
  }
  return envelope ? envelope.data : null;
}

async function withLock(fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(LOCK_NAME, fn);
  return fn();
}

/** Renews the pair with the stored refresh token. Another tab may have renewed while this
 * one waited for the lock; then the stored token is already the new one. */
export async function renew() {
  return withLock(async () => {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    if (!refreshToken) throw new ApiError(401, null);
    try {
      const data = await send('POST', '/api/v1/auth/refresh', { refresh_token: refreshToken });
      keep(data);
      return data;
    } catch (error) {
      // A refresh token the server refuses (expired, revoked, reused, account disabled)
      // ends the session; a network failure or 5xx does not: it may work in a moment.
      if (!error.network && error.status >= 400 && error.status < 500 && error.status !== 429) {
        // Another tab may have rotated it between our read and our call (hufu calls that a
        // lost race, not reuse): retry once if the stored token changed.
        const newer = localStorage.getItem(REFRESH_KEY);
        if (newer && newer !== refreshToken) {
          const data = await send('POST', '/api/v1/auth/refresh', { refresh_token: newer });
          keep(data);
          return data;
        }
        ended(error);
      }
      throw error;
    }
  });
}

/** An authenticated call, once: renews the access token first when it is (nearly) expired,
 * and once more if the server says it expired; a revoked session ends the page's session. */
async function authed(method, path, body) {
  if (!access || access.expiresAt - Date.now() < RENEW_MARGIN_MS) await renew();
  try {
    return await send(method, path, body, access.token);
  } catch (error) {
    if (error.code === 'TOKEN_EXPIRED') {
      await renew();
      return send(method, path, body, access.token);
    }
    if (error.code === 'TOKEN_REVOKED' || error.code === 'TOKEN_INVALID' || error.code === 'ACCOUNT_DISABLED') {
      ended(error);
    }
    throw error;
  }
}

// Step-up: the one place a sensitive change that the server refused with REAUTH_REQUIRED
// (the session proved no credential recently) is confirmed and retried, so no form needs
// to know about it. `stepUp(error)` is the page's prompt: it resolves once `reauth` has kept
// fresh tokens, or rejects with the error the form should show (the user cancelled).
let stepUp = null;
// The prompt open now: calls refused meanwhile wait for the same answer, not a second prompt.
let stepUpPending = null;

/** `fn(error)` asks the user to prove it is them (see `reauth`) when a call answers
 * `REAUTH_REQUIRED`; `call` then retries that call once. */
export function onReauthRequired(fn) {
  stepUp = fn;
}

/** An authenticated call (renewing the access token as needed). A `REAUTH_REQUIRED` answer
 * opens the step-up prompt (`onReauthRequired`) and, once the user has proved it is them,
 * sends the same call once more; a cancelled prompt rejects with the prompt's error. */
export async function call(method, path, body) {
  try {
    return await authed(method, path, body);
  } catch (error) {
    if (error.code !== 'REAUTH_REQUIRED' || !stepUp) throw error;
    if (!stepUpPending) stepUpPending = Promise.resolve(stepUp(error)).finally(() => (stepUpPending = null));
    await stepUpPending;
    return authed(method, path, body);
  }
}

/** `POST /auth/reauth` with `{password}`, `{code}` (TOTP or recovery code) or `{channel,
 * code}` (a `reauth` code): proves a credential again for this session and keeps the new
 * pair. The answer's refresh token retires the stored one, so it is exchanged under the
 * renewal lock: no tab presents the retired token after this one has replaced it. */
export async function reauth(proof) {
  if (!access || access.expiresAt - Date.now() < RENEW_MARGIN_MS) await renew();
  return withLock(async () => {
    try {
      const data = await send('POST', '/api/v1/auth/reauth', proof, access.token);
      keep(data);
      return data;
    } catch (error) {
      if (error.code === 'TOKEN_REVOKED' || error.code === 'TOKEN_INVALID' || error.code === 'ACCOUNT_DISABLED') ended(error);
      throw error;
    }
  });
}

/** A call that needs no token (register, login, the MFA step, the one-time code screens). */
export function anonymous(method, path, body) {
  return send(method, path, body, null);
}

/** Signs out this session (or every session with `all`). The local session ends even if
 * the server cannot be reached, so a shared computer is never left signed in. */
export async function signOut(all = false) {
  try {
    if (access || localStorage.getItem(REFRESH_KEY)) await call('POST', '/api/v1/auth/logout', all ? { all: true } : {});
  } finally {
    access = null;
    localStorage.removeItem(REFRESH_KEY);
  }
}

/** Forgets the session locally without calling the server (after it is known to be gone). */
export function forget() {
  access = null;
  localStorage.removeItem(REFRESH_KEY);
}
