// harness.mjs — what every end-to-end test needs: a real hufu (the binary in HUFU_BIN, on a
// fresh SQLite database in a temporary directory, on a random port of 127.0.0.1), users made
// through its command line, headless Chromium from Debian, screenshots saved as artefacts,
// and TOTP codes computed here (RFC 6238) so the tests never trust the page's own numbers.

import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
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
