// admin-helpers.mjs — what the administrators' screen tests share: users registered through
// the public API (in parallel, so seeding a few dozen stays quick), the API read back from
// node to check what the page claims, and signing in through the page.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { unique } from './harness.mjs';

export const PASSWORD = 'a long enough password';

let phoneBase = randomInt(0, 1_000_000);

/** A mainland mobile number no other user of this run has. */
export function freshPhone() {
  phoneBase = (phoneBase + 1) % 1_000_000;
  return `139${String(phoneBase).padStart(6, '0')}${String(randomInt(0, 100)).padStart(2, '0')}`;
}

/** One HTTP call to hufu from node: `{status, body}` (the envelope). */
export async function request(hufu, method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${hufu.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Registers `count` users named `${prefix}_NN` through the API; resolves to their user
 * objects (with `password`), in the order of NN. */
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

/** Signs in through the page and waits for the profile screen. */
export async function signIn(page, hufu, identifier, password = PASSWORD) {
  await page.goto(`${hufu.url}/`);
  await page.getByLabel('Username, email or phone').fill(identifier);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
}

/** The main navigation. */
export function nav(page) {
  return page.getByRole('navigation', { name: 'Main' });
}
