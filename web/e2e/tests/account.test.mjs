// The main flow through the signed-in user's own screens (account.js): register,
// edit the profile, turn on TOTP, sign in with it from two devices, and sign one device out
// from the other's session list; then recovery codes, which work once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createUser,
  screenshot,
  unique,
  totp,
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
  nextTotp,
  currentStep,
} from '../harness.mjs';

useServer();

// --- the main flow --------------------------------------------------------------

test('register, edit the profile, turn on TOTP, sign in with it, and sign out another device', async () => {
  const user = newUser('main');
  const { context, page } = await newPage();

  // Register through the page.
  await page.goto(`${env.hufu.url}/#/register`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Phone').fill(user.phone);
  await page.getByLabel('Password').fill(user.password);
  await screenshot(page, 'account-register');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Account created').waitFor();

  // Sign in: the profile is the first screen.
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('profile-username').textContent(), user.username);
  assert.equal(await page.getByTestId('profile-mfa').textContent(), 'Off');
  await screenshot(page, 'account-profile');

  // Edit nickname and email; only those two are sent.
  const nickname = `Alice ${unique()}`;
  const email = `renamed_${unique()}@example.org`;
  const form = page.getByTestId('profile-form');
  assert.equal(await form.getByLabel('Username').inputValue(), user.username, 'the form is prefilled');
  await form.getByLabel('Nickname').fill(nickname);
  await form.getByLabel('Email').fill(email);
  const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/users/profile') && r.method() === 'PUT');
  await form.getByRole('button', { name: 'Save changes' }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { nickname, email });
  await form.getByText('Your profile has been saved.').waitFor();
  assert.equal(await page.getByTestId('profile-nickname').textContent(), nickname);
  assert.equal(await page.getByTestId('signed-in-as').textContent(), nickname, 'the menu shows the nickname');
  await screenshot(page, 'account-profile-saved');
  const stored = await apiProfile(user);
  assert.equal(stored.nickname, nickname);
  assert.equal(stored.email, email);
  user.email = email;

  // Turn on TOTP.
  await nav(page, 'Two-step verification');
  await page.getByRole('heading', { name: 'Two-step verification', level: 1 }).waitFor();
  await screenshot(page, 'account-security-off');
  await page.getByRole('button', { name: 'Set up' }).click();
  const secretText = await page.getByTestId('totp-secret').textContent();
  assert.match(secretText, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the secret is shown in groups of 4');
  const secret = secretText.replace(/\s+/g, '');
  assert.equal(secret.length, 32);
  const qr = page.getByRole('img', { name: 'QR code for setting up your authenticator app' });
  const drawn = await qr.evaluate((svg) => ({
    tag: svg.tagName.toLowerCase(),
    ns: svg.namespaceURI,
    dark: (svg.querySelector('path').getAttribute('d').match(/M/g) || []).length,
    box: svg.getBoundingClientRect().width,
  }));
  assert.equal(drawn.tag, 'svg');
  assert.equal(drawn.ns, 'http://www.w3.org/2000/svg');
  assert.ok(drawn.dark > 300, `the QR code has many dark modules (${drawn.dark})`);
  assert.ok(drawn.box >= 150, 'the QR code is big enough to scan');
  await screenshot(page, 'account-totp-setup');

  const enableStep = currentStep();
  await page.getByRole('textbox', { name: 'Code', exact: true }).fill(totp(secret, enableStep * 30));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const codes = page.getByTestId('recovery-codes').locator('li');
  await codes.first().waitFor();
  const recovery = await codes.allTextContents();
  assert.equal(recovery.length, 10);
  for (const code of recovery) assert.match(code, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
  await page.getByText('they will not be shown again').waitFor();
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download as text' }).click();
  const download = await downloading;
  const text = readFileSync(await download.path(), 'utf8');
  for (const code of recovery) assert.ok(text.includes(code), 'the download holds every code');
  assert.match(download.suggestedFilename(), /\.txt$/);
  await screenshot(page, 'account-recovery-codes');
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('profile-mfa').textContent(), 'On');
  const kept = recovery[3];

  // Sign out; sign in again with the password and a TOTP code.
  await signOut(page);
  await signIn(page, user.username, user.password);
  const first = await nextTotp(secret, enableStep);
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
  await screenshot(page, 'account-mfa-step');
  await enterCode(page, first.code);
  await profileHeading(page).waitFor();

  // A second device signs in too (through the MFA step, with a later code).
  const second = await newPage();
  await second.page.goto(`${env.hufu.url}/`);
  await signIn(second.page, user.email, user.password);
  await enterCode(second.page, (await nextTotp(secret, first.step)).code);
  await profileHeading(second.page).waitFor();
  const secondRefresh = await second.page.evaluate(() => localStorage.getItem('hufu.refresh_token'));
  assert.ok(secondRefresh);

  // The first page lists both sessions and signs the other one out.
  await nav(page, 'Sessions');
  const rows = page.getByTestId('sessions').locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 2, 'this device and the second one');
  const current = rows.filter({ hasText: 'This device' });
  assert.equal(await current.count(), 1);
  const device = current.locator('td').first().locator('span[title]');
  assert.equal(await device.textContent(), 'Chrome on Linux');
  assert.match(await device.getAttribute('title'), /Mozilla\/5\.0/);
  for (const cell of await rows.first().locator('td').all()) assert.ok(await cell.getAttribute('data-label'));
  assert.equal(await current.getByRole('button').count(), 0, 'this device is signed out from the menu instead');
  await screenshot(page, 'account-sessions');
  const other = rows.filter({ hasNotText: 'This device' });
  await other.getByRole('button', { name: /^Sign out Chrome on Linux/ }).click();
  await page.getByText('That device has been signed out.').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="sessions"] tbody tr').length === 1);
  await screenshot(page, 'account-sessions-revoked');

  // The second device notices on its next check and shows the sign-in screen.
  await signedOutWithin(second.page, 20_000);
  await screenshot(second.page, 'account-second-device-signed-out');
  const refresh = await apiCall('POST', '/api/v1/auth/refresh', { refresh_token: secondRefresh });
  assert.equal(refresh.status, 401);
  assert.equal(refresh.body.error_code, 'REFRESH_TOKEN_INVALID');
  // The first page is still signed in.
  await nav(page, 'Profile');
  await profileHeading(page).waitFor();

  // A recovery code the page showed signs in.
  await signOut(page);
  await signIn(page, user.username, user.password);
  await enterCode(page, kept);
  await profileHeading(page).waitFor();

  assert.deepEqual(page.problems, []);
  assert.deepEqual(second.page.problems, []);
  await second.context.close();
  await context.close();
});

// --- recovery codes ---------------------------------------------------------------------

test('a recovery code signs in once; the second use shows the error', async () => {
  const user = newUser('rec');
  createUser(env.hufu, user);
  const { codes } = await apiEnableTotp(user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);

  await signIn(page, user.username, user.password);
  await enterCode(page, codes[0].toUpperCase());
  await profileHeading(page).waitFor();
  await signOut(page);

  await signIn(page, user.username, user.password);
  await enterCode(page, codes[0]);
  await page.getByRole('alert').filter({ hasText: 'wrong or expired verification code' }).waitFor();
  await screenshot(page, 'account-recovery-code-reused');
  // The step stays open for another try: the next unused code works.
  await enterCode(page, codes[1].replace('-', ''));
  await profileHeading(page).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});
