// account-helpers.mjs — what the account screens' tests share (tests/account*.test.mjs): one
// hufu and one browser per test file, API calls from node (to check what the page did), the
// sign-in steps through the page, and TOTP codes for steps hufu has not seen yet.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHufu, launchBrowser, totp, unique, checkTotpVector } from './harness.mjs';

/** `{hufu, browser}` of the running test file, set by `useServer()`. */
export const env = {};

/** Starts hufu and the browser before the file's tests and stops them after. */
export function useServer() {
  before(async () => {
    checkTotpVector();
    env.hufu = await startHufu();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.hufu?.stop();
  });
}

/** The code of a TOTP step after the last one used (`{code, step}`), without waiting longer
 * than needed: hufu accepts one step either side of its clock (for phones that drift) but
 * each step only once and never an older one, so the next step's code is usable at once and
 * only the one after that needs the clock to move on. */
export async function nextTotp(secret, lastStep) {
  for (;;) {
    const now = Math.floor(Date.now() / 1000 / 30);
    const step = Math.max(now - 1, lastStep + 1);
    if (step <= now + 1) return { code: totp(secret, step * 30), step };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The step a code was computed for a moment ago (for `nextTotp`). */
export function currentStep() {
  return Math.floor(Date.now() / 1000 / 30);
}

/** A user nobody else has (phones too: each is derived from the random suffix). */
export function newUser(prefix) {
  const id = unique();
  return {
    username: `${prefix}_${id}`,
    email: `${prefix}_${id}@example.com`,
    phone: `13${5 + (parseInt(id.slice(0, 2), 16) % 5)}${String(parseInt(id, 16) % 1e8).padStart(8, '0')}`,
    password: `pass phrase ${id}`,
  };
}

/** One API call outside the browser: resolves to `{status, body}`. */
export async function apiCall(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${env.hufu.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Signs in through the API (an account without TOTP), runs `fn(token)`, then signs that
 * session out again so it does not show up in the page's session list. */
export async function withApiSession(identifier, password, fn) {
  const login = await apiCall('POST', '/api/v1/auth/login', { username: identifier, password });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.ok(login.body.data.token, 'signed in without a second factor');
  const { token } = login.body.data;
  try {
    return await fn(token);
  } finally {
    await apiCall('POST', '/api/v1/auth/logout', {}, token);
  }
}

/** The user's profile as the API reports it. */
export function apiProfile(user) {
  return withApiSession(user.username, user.password, async (token) => {
    const answer = await apiCall('GET', '/api/v1/users/profile', undefined, token);
    assert.equal(answer.status, 200);
    return answer.body.data;
  });
}

/** Turns TOTP on through the API: `{secret, codes, step}` (`step` is the enabling code's). */
export async function apiEnableTotp(user) {
  return withApiSession(user.username, user.password, async (token) => {
    const setup = await apiCall('POST', '/api/v1/users/mfa/totp/setup', undefined, token);
    assert.equal(setup.status, 200);
    const step = currentStep();
    const used = totp(setup.body.data.secret, step * 30);
    const enable = await apiCall('POST', '/api/v1/users/mfa/totp/enable', { code: used }, token);
    assert.equal(enable.status, 200, JSON.stringify(enable.body));
    return { secret: setup.body.data.secret, codes: enable.body.data.recovery_codes, step };
  });
}

/** A new browser context (English unless told) and page; `page.problems` collects script
 * errors and page files that failed to load. */
export async function newPage(options = {}) {
  const context = await env.browser.newContext({ locale: 'en-US', ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  // Script errors, and page files that failed to load (API errors are expected in some tests;
  // the favicon is not served).
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (response.status() >= 400 && !path.startsWith('/api/') && path !== '/favicon.ico') problems.push(`${response.status()} ${path}`);
  });
  page.problems = problems;
  return { context, page };
}

/** Fills and submits the sign-in screen (the next screen is for the caller to wait for). */
export async function signIn(page, identifier, password) {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username, email or phone').fill(identifier);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The MFA step screen of app.js. */
export async function enterCode(page, code) {
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
  await page.getByRole('textbox', { name: 'Code', exact: true }).fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
}

export async function signOut(page) {
  await page.getByRole('navigation').getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByText('You have signed out.').waitFor();
}

export function nav(page, name) {
  return page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
}

export const profileHeading = (page) => page.getByRole('heading', { name: 'Profile', level: 1 });

/** Resolves once the page shows the sign-in screen (the periodic check signed it out). */
export async function signedOutWithin(page, ms) {
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor({ timeout: ms });
}
