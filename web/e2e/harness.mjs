// harness.mjs — what the end-to-end tests share: a real hufu (the binary in HUFU_BIN, on a
// fresh SQLite database in a temporary directory, on a random port of 127.0.0.1), users made
// through its command line or registered through its API, headless Chromium from Debian,
// screenshots saved as artefacts, TOTP codes computed here (RFC 6238) so the tests never
// trust the page's own numbers, API calls from node to check what the page claims, and the
// page's sign-in and navigation steps.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

/** The hufu binary: HUFU_BIN (cargo test sets it), else the debug build. */
export const hufuBin = process.env.HUFU_BIN || join(repo, 'target', 'debug', 'hufu');
/** Where screenshots go: HUFU_E2E_ARTEFACTS, else target/e2e-screenshots. */
export const artefacts = process.env.HUFU_E2E_ARTEFACTS || join(repo, 'target', 'e2e-screenshots');
const chromiumPath = process.env.HUFU_E2E_CHROMIUM || '/usr/bin/chromium';

/** Starts hufu and resolves once it serves: `{url, env, run(args, stdin), stop()}`. */
export async function startHufu(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hufu-e2e-'));
  const env = {
    ...process.env,
    HUFU_LISTEN: '127.0.0.1:0',
    HUFU_DATABASE_URL: `sqlite://${join(dir, 'hufu.db')}`,
    HUFU_DATA_DIR: dir,
    HUFU_LOG_FORMAT: 'json',
    RUST_LOG: 'info',
    HUFU_LOG: 'info',
    // Every browser of a test comes from 127.0.0.1, so the per-IP limits (20 logins a minute)
    // would refuse a long test; a test about limits sets its own.
    HUFU_RATE_LIMIT_LOGIN: '1000',
    HUFU_RATE_LIMIT_REGISTER: '1000',
    HUFU_RATE_LIMIT_REFRESH: '1000',
    ...extraEnv,
  };
  // The database and secrets exist before the server starts, so the command line and the
  // server agree on them (`hufu migrate` creates both).
  const migrate = spawnSync(hufuBin, ['migrate'], { env, encoding: 'utf8' });
  if (migrate.status !== 0) throw new Error(`hufu migrate failed: ${migrate.stderr}`);
  const child = spawn(hufuBin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolveUrl, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`hufu did not start within 30 s:\n${seen}`)), 30_000);
    const onData = (chunk) => {
      seen += chunk.toString();
      const match = seen.match(/"listen":"(127\.0\.0\.1:\d+)"/) || seen.match(/listen=(127\.0\.0\.1:\d+)/);
      if (match && seen.includes('hufu is serving')) {
        clearTimeout(timer);
        resolveUrl(`http://${match[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hufu exited with ${code} before serving:\n${seen}`));
    });
  });
  return {
    url,
    env,
    /** Runs `hufu ARGS…` against the same database; `stdin` is written to its input. */
    run(args, stdin = '') {
      const result = spawnSync(hufuBin, args, { env, input: stdin, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`hufu ${args.join(' ')} failed: ${result.stderr}`);
      return result.stdout;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a user through the command line (`--role admin` for an administrator). */
export function createUser(hufu, { username, email, password, phone, roles = [] }) {
  const args = ['user', 'create', '--username', username, '--email', email, '--password-stdin'];
  if (phone) args.push('--phone', phone);
  for (const role of roles) args.push('--role', role);
  hufu.run(args, `${password}\n`);
}

/** Headless Chromium as the issue prescribes. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

let shotCounter = 0;
/** Saves a full-page screenshot as `NN-name.png` in the artefacts folder. */
export async function screenshot(page, name) {
  mkdirSync(artefacts, { recursive: true });
  shotCounter += 1;
  const file = join(artefacts, `${String(shotCounter).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A unique suffix, so names never collide between tests on one server. */
export function unique() {
  return randomBytes(4).toString('hex');
}

/** Base32 (RFC 4648, no padding needed) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of `secret` at `unixSeconds`. */
export function totp(secret, unixSeconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const digest = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const number = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

/** A code for a step hufu has not seen used yet: hufu refuses a step twice, so a test that
 * enters codes one after another waits for the next step when it needs a fresh one. */
export async function freshTotp(secret, lastUsed) {
  for (;;) {
    const code = totp(secret);
    if (code !== lastUsed) return code;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Checks the RFC 6238 test vector (SHA-1, secret "12345678901234567890"), so a broken
 * generator fails loudly instead of making the page look wrong. */
export function checkTotpVector() {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const code = totp(secret, 59);
  if (code !== '287082') throw new Error(`TOTP generator is wrong: ${code}`);
}

// ---------------------------------------------------------------------------------------
// One server and browser per test file (the account screens' tests)

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

// ---------------------------------------------------------------------------------------
// Users

/** The password of the users `registerUsers` makes. */
export const PASSWORD = 'a long enough password';

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

let phoneBase = randomInt(0, 1_000_000);

/** A mainland mobile number no other user of this run has. */
export function freshPhone() {
  phoneBase = (phoneBase + 1) % 1_000_000;
  return `139${String(phoneBase).padStart(6, '0')}${String(randomInt(0, 100)).padStart(2, '0')}`;
}

/** Registers `count` users named `${prefix}_NN` through the API (in parallel, so seeding a
 * few dozen stays quick); resolves to their user objects (with `password`), in the order of NN. */
export async function registerUsers(hufu, prefix, count) {
  const made = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const username = `${prefix}_${String(i).padStart(2, '0')}`;
      const { status, body } = await request(hufu, 'POST', '/api/v1/auth/register', {
        body: { username, email: `${username}@example.com`, phone: freshPhone(), password: PASSWORD },
      });
      assert.equal(status, 201, `register ${username}: ${JSON.stringify(body)}`);
      return { ...body.data, password: PASSWORD };
    }),
  );
  return made;
}

/** Registers one user called `${prefix}_${unique()}`. */
export async function registerUser(hufu, prefix) {
  const [user] = await registerUsers(hufu, `${prefix}_${unique()}`, 1);
  return user;
}

// ---------------------------------------------------------------------------------------
// The API from node, to check what the page did

/** One HTTP call to hufu from node: `{status, body}` (the envelope; null if not JSON). */
export async function request(hufu, method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${hufu.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** `request` to the server of `useServer()`. */
export function apiCall(method, path, body, token) {
  return request(env.hufu, method, path, { token, body });
}

/** Signs in through the API from node; resolves to the access token. */
export async function apiToken(hufu, username, password = PASSWORD) {
  const { status, body } = await request(hufu, 'POST', '/api/v1/auth/login', { body: { username, password } });
  assert.equal(status, 200, `login ${username}: ${JSON.stringify(body)}`);
  return body.data.token;
}

/** GET as the administrator; asserts 200 and resolves to `data`. */
export async function adminGet(hufu, token, path) {
  const { status, body } = await request(hufu, 'GET', path, { token });
  assert.equal(status, 200, `GET ${path}: ${JSON.stringify(body)}`);
  return body.data;
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

// ---------------------------------------------------------------------------------------
// The page's steps

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

/** Opens the page, signs in and waits for the profile screen. */
export async function openAndSignIn(page, hufu, identifier, password = PASSWORD) {
  await page.goto(`${hufu.url}/`);
  await signIn(page, identifier, password);
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
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

/** Follows the navigation's link called `name`. */
export function nav(page, name) {
  return page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
}

/** The main navigation (by its label: the admin lists have a pager navigation too). */
export function mainNav(page) {
  return page.getByRole('navigation', { name: 'Main' });
}

export const profileHeading = (page) => page.getByRole('heading', { name: 'Profile', level: 1 });

/** Resolves once the page shows the sign-in screen (the periodic check signed it out). */
export async function signedOutWithin(page, ms) {
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor({ timeout: ms });
}
