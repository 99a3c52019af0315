// The account screens' other paths (account.js): changing the password, profile errors,
// turning the second factor off, a phone-sized screen, and the screens in Chinese.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createUser,
  screenshot,
  unique,
  env,
  useServer,
  newUser,
  apiCall,
  apiProfile,
  apiEnableTotp,
  newPage,
  signIn,
  enterCode,
  signOut,
  nav,
  profileHeading,
  signedOutWithin,
  withApiSession,
} from '../harness.mjs';

useServer();

// --- password ---------------------------------------------------------------------------

test('changing the password: mismatch caught on the page, wrong old password, success signs out the others', async () => {
  const user = newUser('pw');
  createUser(env.hufu, user);
  const other = await newPage();
  await other.page.goto(`${env.hufu.url}/`);
  await signIn(other.page, user.username, user.password);
  await profileHeading(other.page).waitFor();

  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.phone, user.password);
  await profileHeading(page).waitFor();
  const form = page.getByTestId('password-form');
  const newPassword = `a new pass phrase ${unique()}`;

  // A mismatch never reaches the server.
  const requests = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/')) requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  await form.getByLabel('Current password').fill(user.password);
  await form.getByLabel('New password', { exact: true }).fill(newPassword);
  await form.getByLabel('Confirm new password').fill(`${newPassword}!`);
  await form.getByRole('button', { name: 'Change password' }).click();
  const confirmError = form.locator('[data-error-for="confirm_password"]');
  await confirmError.filter({ hasText: 'The two new passwords do not match.' }).waitFor();
  assert.equal(await form.getByLabel('Confirm new password').getAttribute('aria-invalid'), 'true');
  assert.ok(!requests.some((r) => r.includes('/users/password')), `no request was sent: ${requests}`);
  await screenshot(page, 'account-password-mismatch');

  // A wrong old password: the server's error.
  await form.getByLabel('Current password').fill('not my password');
  await form.getByLabel('Confirm new password').fill(newPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
  assert.equal(await confirmError.textContent(), '', 'the old mismatch message is gone');
  await screenshot(page, 'account-password-wrong-old');

  // Success.
  await form.getByLabel('Current password').fill(user.password);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.getByText('Every other device has been signed out').waitFor();
  assert.equal(await form.getByLabel('New password', { exact: true }).inputValue(), '', 'the form is cleared');
  await screenshot(page, 'account-password-changed');

  await signedOutWithin(other.page, 20_000);
  // This page's own session stays.
  await nav(page, 'Sessions');
  await page.getByTestId('sessions').locator('tbody tr').first().waitFor();
  assert.equal(await page.getByTestId('sessions').locator('tbody tr').count(), 1);

  // The new password works, the old one no longer does.
  await signOut(page);
  await signIn(page, user.username, user.password);
  await page.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
  await signIn(page, user.username, newPassword);
  await profileHeading(page).waitFor();
  assert.deepEqual(page.problems, []);
  await other.context.close();
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- profile errors -----------------------------------------------------------------------

test('profile errors show under their field and change nothing', async () => {
  const owner = newUser('owner');
  const user = newUser('prof');
  createUser(env.hufu, owner);
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  const form = page.getByTestId('profile-form');

  // An email someone else has, together with a nickname: refused as a whole.
  await form.getByLabel('Nickname').fill('Should not stick');
  await form.getByLabel('Email').fill(owner.email.toUpperCase());
  await form.getByRole('button', { name: 'Save changes' }).click();
  await form.locator('[data-error-for="email"]').filter({ hasText: 'email already registered' }).waitFor();
  await form.getByRole('alert').filter({ hasText: 'email already registered' }).waitFor();
  assert.equal(await form.getByLabel('Email').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'account-profile-email-taken');
  let stored = await apiProfile(user);
  assert.equal(stored.email, user.email);
  assert.equal(stored.nickname, null);

  // A phone cannot be cleared where phones are required (the default).
  await form.getByLabel('Nickname').fill('');
  await form.getByLabel('Email').fill(user.email);
  await form.getByLabel('Phone').fill('');
  const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/users/profile') && r.method() === 'PUT');
  await form.getByRole('button', { name: 'Save changes' }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { phone: null });
  await form.locator('[data-error-for="phone"]').filter({ hasText: 'phone is required' }).waitFor();
  assert.equal(await form.getByLabel('Phone').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'account-profile-phone-required');
  stored = await apiProfile(user);
  assert.equal(stored.phone, user.phone);

  // Clearing an avatar and a nickname sends null; an https avatar shows as an image (served
  // here by the browser's test routing: the test has no network), a broken one is not drawn.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
  await context.route('https://avatars.example.com/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: png }));
  await form.getByLabel('Phone').fill(user.phone);
  await form.getByLabel('Nickname').fill('Prof');
  await form.getByLabel('Avatar URL (https)').fill('https://avatars.example.com/u/1.png');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await form.getByText('Your profile has been saved.').waitFor();
  const avatar = page.getByRole('img', { name: 'Avatar of Prof' });
  assert.equal(await avatar.getAttribute('src'), 'https://avatars.example.com/u/1.png');
  await page.waitForFunction(() => document.querySelector('img.avatar')?.complete);
  assert.equal(await avatar.evaluate((img) => img.naturalWidth), 1, 'the avatar loaded under the CSP');
  await screenshot(page, 'account-profile-avatar');
  await form.getByLabel('Nickname').fill('');
  await form.getByLabel('Avatar URL (https)').fill('');
  const cleared = page.waitForRequest((r) => r.url().endsWith('/api/v1/users/profile') && r.method() === 'PUT');
  await form.getByRole('button', { name: 'Save changes' }).click();
  assert.deepEqual(JSON.parse((await cleared).postData()), { nickname: null, avatar_url: null });
  await form.getByText('Your profile has been saved.').waitFor();
  assert.equal(await page.getByRole('img', { name: /^Avatar of/ }).count(), 0);
  stored = await apiProfile(user);
  assert.equal(stored.nickname, null);
  assert.equal(stored.avatar_url, null);
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- turning TOTP off ---------------------------------------------------------------------

test('turning TOTP off with the password: the next sign-in asks for no code', async () => {
  const user = newUser('off');
  createUser(env.hufu, user);
  const { codes } = await apiEnableTotp(user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await enterCode(page, codes[0]);
  await profileHeading(page).waitFor();

  await nav(page, 'Two-step verification');
  await page.getByText('Two-step verification is on').waitFor();
  await screenshot(page, 'account-security-on');
  await page.getByLabel('Password').fill(user.password);
  const sent = page.waitForRequest((r) => r.url().endsWith('/mfa/totp/disable'));
  await page.getByRole('button', { name: 'Turn off' }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { password: user.password });
  await page.getByText('Two-step verification is off.').first().waitFor();
  await page.getByRole('button', { name: 'Set up' }).waitFor();
  await screenshot(page, 'account-security-turned-off');

  await signOut(page);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('profile-mfa').textContent(), 'Off');
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- on a phone ---------------------------------------------------------------------------

test('profile and sessions on a phone-sized screen', async () => {
  const user = newUser('phone');
  createUser(env.hufu, user);
  await withApiSession(user.username, user.password, async (token) => {
    await apiCall('PUT', '/api/v1/users/profile', { nickname: '手机用户 Phone', avatar_url: 'https://example.com/a.png' }, token);
  });
  // Another device, so the list has two rows.
  const login = await apiCall('POST', '/api/v1/auth/login', { username: user.username, password: user.password });
  assert.equal(login.status, 200);
  const { context, page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  const width = () => page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok((await width()) <= 390, `no sideways scrolling on the profile (${await width()})`);
  await screenshot(page, 'account-phone-profile');

  await nav(page, 'Sessions');
  await page.getByTestId('sessions').locator('tbody tr').nth(1).waitFor();
  assert.ok((await width()) <= 390, `no sideways scrolling on the sessions (${await width()})`);
  // The table is stacked: the header row is hidden and each cell shows its label.
  assert.equal(await page.getByTestId('sessions').locator('thead').isVisible(), false);
  await screenshot(page, 'account-phone-sessions');

  await nav(page, 'Two-step verification');
  await page.getByRole('button', { name: 'Set up' }).click();
  await page.getByTestId('totp-secret').waitFor();
  assert.ok((await width()) <= 390, `no sideways scrolling on the setup (${await width()})`);
  await screenshot(page, 'account-phone-totp-setup');
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- in Chinese -----------------------------------------------------------------------------

test('the account screens in Chinese', async () => {
  const user = newUser('zh');
  createUser(env.hufu, user);
  const { context, page } = await newPage({ locale: 'zh-CN' });
  await page.goto(`${env.hufu.url}/`);
  await page.getByLabel('用户名、邮箱或手机号').fill(user.username);
  await page.getByLabel('密码').fill(user.password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '个人资料', level: 1 }).waitFor();
  const form = page.getByTestId('password-form');
  await form.getByLabel('新密码', { exact: true }).fill('一个新的长密码 1');
  await form.getByLabel('确认新密码').fill('一个新的长密码 2');
  await form.getByRole('button', { name: '修改密码' }).click();
  await form.locator('[data-error-for="confirm_password"]').filter({ hasText: '两次输入的新密码不一致' }).waitFor();
  await screenshot(page, 'account-zh-profile');

  await nav(page, '登录设备');
  await page.getByRole('heading', { name: '已登录的设备' }).waitFor();
  await page.getByText('Linux 上的 Chrome').waitFor();
  await page.getByText('本设备').waitFor();
  await screenshot(page, 'account-zh-sessions');

  await nav(page, '两步验证');
  await page.getByRole('button', { name: '开始设置' }).click();
  await page.getByRole('img', { name: '用于设置身份验证器的二维码' }).waitFor();
  await page.getByRole('textbox', { name: '验证码', exact: true }).fill('000000');
  await page.getByRole('button', { name: '开启' }).click();
  // A wrong code (000000 is right with chance 1 in a million): the server's Chinese error.
  await page.getByRole('alert').filter({ hasText: '验证码错误或已过期' }).waitFor();
  await screenshot(page, 'account-zh-totp-wrong-code');
  assert.deepEqual(page.problems, []);
  await context.close();
});
