// harness.mjs — what the end-to-end tests share: a real hufu (the binary in HUFU_BIN, on a
// fresh SQLite database in a temporary directory, on a random port of 127.0.0.1), users made
// through its command line or registered through its API, headless Chromium from Debian,
// screenshots saved as artefacts, TOTP codes computed here (RFC 6238) so the tests never
// trust the page's own numbers, API calls from node to check what the page claims, and the
// page's sign-in and navigation steps; and for the one-time code screens, where a person
// reads their codes: an SMS gateway (hufu's signed webhook) and an SMTP server speaking
// STARTTLS, both on 127.0.0.1.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

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
  // Every log line, for a test that reads what the server said (`log` delivery of codes).
  const logLines = [];
  const logListeners = new Set();
  let partial = '';
  const tap = (chunk) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const line of lines) {
      logLines.push(line);
      for (const listener of logListeners) listener(line);
    }
  };
  child.stdout.on('data', tap);
  child.stderr.on('data', tap);
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
    /** The server's log so far, line by line. */
    logLines,
    /** `fn(line)` for every log line from now on; returns a function that stops it. */
    onLog(fn) {
      logListeners.add(fn);
      return () => logListeners.delete(fn);
    },
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

/** Starts hufu and the browser before the file's tests and stops them after. `extraEnv` is
 * more of hufu's settings, or an async function that makes them (after starting what they
 * point at) and may return `{env, stop}`. */
export function useServer(extraEnv = {}) {
  let stopExtra = null;
  before(async () => {
    checkTotpVector();
    let settings = extraEnv;
    if (typeof extraEnv === 'function') {
      const made = await extraEnv();
      settings = made.env;
      stopExtra = made.stop;
    }
    env.hufu = await startHufu(settings);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.hufu?.stop();
    await stopExtra?.();
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

// ---------------------------------------------------------------------------------------
// One-time codes as a person receives them: by SMS (hufu's signed webhook to a gateway) and
// by email (SMTP with STARTTLS). Each records what arrived; `next(...)` waits for a message.

/** Resolves with the first of `list` (now or later) that `match` accepts; `list.waiters` are
 * told of each new entry. Rejects after `ms`, naming what did arrive. */
function waitFor(list, match, ms, what) {
  const found = list.find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolveFound, reject) => {
    const timer = setTimeout(() => {
      list.waiters.delete(check);
      reject(new Error(`no ${what} within ${ms} ms; received: ${JSON.stringify(list.map((m) => m.summary || m))}`));
    }, ms);
    const check = (entry) => {
      if (!match(entry)) return;
      clearTimeout(timer);
      list.waiters.delete(check);
      resolveFound(entry);
    };
    list.waiters.add(check);
  });
}

/** `count(target)` and `next(target, after)` over a recorder whose entries name their target
 * through `targetOf`: `next` waits for the message to `target` numbered `after` (0-based among
 * that target's messages), so `const n = box.count(t); …send…; await box.next(t, n)` is the
 * message the send caused. */
function mailbox(messages, targetOf, what) {
  const norm = (target) => String(target).toLowerCase();
  const mine = (target) => messages.filter((m) => norm(targetOf(m)) === norm(target));
  return {
    count: (target) => mine(target).length,
    next(target, after = 0, ms = 15_000) {
      return waitFor(messages, (m) => norm(targetOf(m)) === norm(target) && mine(target).indexOf(m) >= after, ms, `${what} to ${target}`);
    },
  };
}

function recorder() {
  const list = [];
  list.waiters = new Set();
  list.record = (entry) => {
    list.push(entry);
    for (const waiter of [...list.waiters]) waiter(entry);
  };
  return list;
}

/** Checks `X-Hufu-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`
 * (contract section 12) and that `t` is within five minutes of now. */
export function checkSignature(header, body, secret, now = Date.now() / 1000) {
  const parts = Object.fromEntries(
    String(header || '')
      .split(',')
      .map((part) => part.trim().split('=', 2)),
  );
  if (!/^\d+$/.test(parts.t || '') || !/^[0-9a-f]{64}$/.test(parts.v1 || '')) return false;
  if (Math.abs(now - Number(parts.t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}

/** An SMS gateway for `HUFU_SMS_PROVIDER=webhook` on 127.0.0.1 (random port): checks each
 * POST's signature with `secret` (401 and counted in `rejected` when it is wrong) and records
 * `{phone, code, purpose, lang}`. `{url, secret, messages, rejected, count(phone),
 * next(phone, after), stop()}`. */
export async function startSmsGateway(secret = randomBytes(16).toString('hex')) {
  const messages = recorder();
  const rejected = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || !checkSignature(req.headers['x-hufu-signature'], body, secret)) {
        rejected.push({ method: req.method, signature: req.headers['x-hufu-signature'] || null });
        res.writeHead(401).end();
        return;
      }
      let message;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        rejected.push({ body: body.toString('utf8') });
        res.writeHead(400).end();
        return;
      }
      messages.record({ ...message, summary: `${message.purpose} to ${message.phone} (${message.lang})` });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/sms`,
    secret,
    messages,
    rejected,
    ...mailbox(messages, (m) => m.phone, 'SMS'),
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** A CA and a certificate for 127.0.0.1 signed by it (openssl), in `dir`: `{ca, cert, key}`
 * paths. hufu trusts the CA through HUFU_SMTP_CA_FILE, as it would a company's own. */
export function makeCertificates(dir) {
  const run = (args) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=hufu e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'smtp.key', '-out', 'smtp.csr', '-subj', '/CN=127.0.0.1']);
  const ext = join(dir, 'smtp.ext');
  spawnSync('sh', ['-c', `printf '%s\\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' > '${ext}'`]);
  run(['x509', '-req', '-in', 'smtp.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'smtp.pem', '-days', '2', '-extfile', ext]);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'smtp.pem'), key: join(dir, 'smtp.key') };
}

/** An SMTP server on 127.0.0.1 (random port) offering STARTTLS with a certificate from
 * `makeCertificates`, taking mail only over TLS and only after AUTH with `user`/`pass`; each
 * message is parsed (mailparser) and recorded as `{to, from, subject, text, html, code, secure}`
 * (`code`: the six digits in its text). `{port, url, ca, messages, refused, count(to),
 * next(to, after), stop()}`. */
export async function startSmtpServer({ user = 'hufu', pass = randomBytes(8).toString('hex') } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hufu-smtp-'));
  const certs = makeCertificates(dir);
  const messages = recorder();
  const refused = [];
  const server = new SMTPServer({
    key: readFileSync(certs.key),
    cert: readFileSync(certs.cert),
    secure: false, // plain first, then STARTTLS (port 587's way)
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false, // AUTH only after STARTTLS
    logger: false,
    onAuth(auth, session, callback) {
      if (auth.username === user && auth.password === pass) return callback(null, { user });
      refused.push('auth');
      return callback(new Error('invalid credentials'));
    },
    onMailFrom(address, session, callback) {
      if (!session.secure) {
        refused.push('plain');
        return callback(Object.assign(new Error('STARTTLS first'), { responseCode: 530 }));
      }
      return callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const text = mail.text || '';
          const code = (text.match(/\b(\d{6})\b/) || [])[1] || null;
          messages.record({
            to: (mail.to?.value || []).map((a) => a.address.toLowerCase()),
            envelopeTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: mail.from?.value?.[0]?.address || null,
            subject: mail.subject || '',
            text,
            html: mail.html || '',
            code,
            secure: session.secure,
            summary: `"${mail.subject}" to ${session.envelope.rcptTo.map((r) => r.address).join(',')}`,
          });
          callback();
        })
        .catch(callback);
    },
  });
  server.on('error', () => {});
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.server.address();
  return {
    port,
    user,
    pass,
    url: `smtp://${user}:${pass}@127.0.0.1:${port}`,
    ca: certs.ca,
    messages,
    refused,
    ...mailbox(messages, (m) => m.envelopeTo[0], 'email'),
    async stop() {
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The codes of `log` delivery (`HUFU_SMS_PROVIDER=log`, `HUFU_SMTP_URL=log:`) read from the
 * server's log, with the interface of `startSmsGateway` / `startSmtpServer` (`count`, `next`;
 * messages `{phone|to, code, purpose}`). A stand-in for builds without the real delivery. */
export function logInbox(hufu) {
  const sms = recorder();
  const email = recorder();
  const read = (line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    const f = { ...entry, ...(entry.fields || {}) };
    const message = String(f.message || '');
    if (!message.includes('log delivery') || !f.code) return;
    if (message.startsWith('SMS')) sms.record({ phone: f.to, code: f.code, purpose: f.purpose, summary: `${f.purpose} to ${f.to}` });
    else email.record({ to: [f.to], envelopeTo: [String(f.to).toLowerCase()], code: f.code, purpose: f.purpose, summary: `${f.purpose} to ${f.to}` });
  };
  hufu.logLines.forEach(read);
  hufu.onLog(read);
  return {
    sms: { messages: sms, rejected: [], ...mailbox(sms, (m) => m.phone, 'SMS') },
    email: { messages: email, refused: [], ...mailbox(email, (m) => m.envelopeTo[0], 'email') },
  };
}
