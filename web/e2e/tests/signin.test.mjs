// The signed-out screens: register, sign in by username, email and phone, errors from the
// envelope (in Chinese when the browser prefers it), sign out, and a reload renewing silently.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHufu, launchBrowser, screenshot, unique } from '../harness.mjs';

let hufu;
let browser;

before(async () => {
  hufu = await startHufu();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await hufu?.stop();
});

async function register(page, { username, email, phone, password }) {
  await page.goto(`${hufu.url}/#/register`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Phone').fill(phone);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Account created').waitFor();
}

async function signIn(page, identifier, password) {
  await page.getByLabel('Username, email or phone').fill(identifier);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('register, then sign in by username, email and phone, and sign out', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  const id = unique();
  const user = { username: `alice_${id}`, email: `alice_${id}@example.com`, phone: `139${String(parseInt(id, 16) % 1e8).padStart(8, '0')}`, password: 'correct horse battery' };
  await register(page, user);
  await screenshot(page, 'registered');
  // The sign-in form is pre-filled with the new username.
  assert.equal(await page.getByLabel('Username, email or phone').inputValue(), user.username);

  for (const identifier of [user.username, user.email, user.phone]) {
    await signIn(page, identifier, user.password);
    await page.getByRole('heading', { name: 'Profile' }).waitFor();
    assert.equal(await page.getByTestId('signed-in-as').textContent(), user.username);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByText('You have signed out.').waitFor();
  }
  await screenshot(page, 'signed-out');
  await context.close();
});

test('a wrong password shows the envelope error, and a reload keeps a session', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  const id = unique();
  const user = { username: `bob_${id}`, email: `bob_${id}@example.com`, phone: `138${String(parseInt(id, 16) % 1e8).padStart(8, '0')}`, password: 'another long secret' };
  await register(page, user);
  await signIn(page, user.username, 'not the password');
  await page.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
  await screenshot(page, 'signin-error');

  await signIn(page, user.username, user.password);
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  // The access token is only in memory; the reload renews it with the stored refresh token.
  await page.reload();
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  const stored = await page.evaluate(() => Object.keys(localStorage));
  assert.deepEqual(stored, ['hufu.refresh_token'], 'only the refresh token is stored');
  await context.close();
});

test('a browser that prefers Chinese gets the page and the errors in Chinese', async () => {
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  await page.goto(`${hufu.url}/`);
  await page.getByRole('heading', { name: '登录' }).waitFor();
  await page.getByLabel('用户名、邮箱或手机号').fill(`nobody_${unique()}`);
  await page.getByLabel('密码').fill('whatever it is');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('alert').filter({ hasText: '用户名或密码错误' }).waitFor();
  await screenshot(page, 'signin-error-zh');

  await page.goto(`${hufu.url}/#/register`);
  await page.getByLabel('用户名').fill('x');
  await page.getByLabel('邮箱').fill('not-an-email');
  await page.getByLabel('密码').fill('short');
  await page.getByRole('button', { name: '创建账号' }).click();
  // Each bad field gets the server's own (Chinese) reason under it.
  const invalid = page.locator('input[aria-invalid="true"]');
  await invalid.first().waitFor();
  assert.ok((await invalid.count()) >= 2, 'every bad field is marked');
  await screenshot(page, 'register-errors-zh');
  await context.close();
});
