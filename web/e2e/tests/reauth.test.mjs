// The step-up prompt (account.js's "Confirm it's you", api.js's retry): hufu runs with
// HUFU_REAUTH_WINDOW=1s, so a change made two seconds after signing in answers 403
// REAUTH_REQUIRED; the page asks for the password (or a TOTP code, or a code sent to the
// verified email), calls POST /auth/reauth, keeps the new tokens and sends the change again.
// Email codes are read from the server log (`HUFU_SMTP_URL=log:`); codes.test.mjs covers SMTP.

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
  nav,
  profileHeading,
  nextTotp,
  totp,
  withApiSession,
  logInbox,
} from '../harness.mjs';

// A short resend interval: the reauth code follows the email's `verify` code within seconds.
useServer({ HUFU_REAUTH_WINDOW: '1s', HUFU_SMTP_URL: 'log:', HUFU_CODE_RESEND_INTERVAL: '3s' });

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
// Longer than the window, so the session's proof is stale.
const pastWindow = () => new Promise((r) => setTimeout(r, 2_100));


/** Counts the page's calls of `METHOD /path` (e.g. to see a change sent twice, not thrice). */
function countCalls(page) {
  const calls = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/')) calls.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });
  return (call) => calls.filter((c) => c === call).length;
}

const promptOf = (page, name = 'Confirm it’s you') => page.getByRole('dialog', { name });

test('a stale session asks for the password before changing the email: a wrong one is refused, the right one saves it', async () => {
  const user = newUser('reauth');
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  const calls = countCalls(page);
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  const form = page.getByTestId('profile-form');

  // A nickname needs no fresh proof.
  await pastWindow();
  await form.getByLabel('Nickname').fill('No question asked');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await form.getByText('Your profile has been saved.').waitFor();
  assert.equal(await page.getByRole('dialog').count(), 0, 'no prompt for a nickname');

  const newEmail = `new_${unique()}@example.com`;
  await form.getByLabel('Email').fill(newEmail);
  await form.getByRole('button', { name: 'Save changes' }).click();
  const prompt = promptOf(page);
  await prompt.waitFor();
  // Only the password: this account has neither TOTP nor a verified email or phone.
  assert.equal(await prompt.getByRole('radio').count(), 0);
  const password = prompt.getByLabel('Your password');
  assert.ok(await password.evaluate((el) => el === document.activeElement), 'the password field has the focus');
  await screenshot(page, 'reauth-prompt');

  await password.fill('not my password');
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await prompt.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
  await screenshot(page, 'reauth-wrong-password');
  assert.equal((await apiProfile(user)).email, user.email, 'nothing changed yet');
  assert.equal(calls('PUT /api/v1/users/profile'), 2, 'the nickname, then the refused email');

  await password.fill(user.password);
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await form.getByText('Your profile has been saved.').waitFor();
  await prompt.waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Save changes');
  assert.equal(await page.getByTestId('profile-email').textContent(), newEmail);
  assert.equal((await apiProfile(user)).email, newEmail, 'the server has the new email');
  assert.equal(calls('PUT /api/v1/users/profile'), 3, 'the refused change was sent once more');
  assert.equal(calls('POST /api/v1/auth/reauth'), 2);

  // The page kept the reauth's tokens: the stored refresh token is the new one (the old one
  // was retired, and presenting it would end the session), so a reload signs in silently.
  await page.reload();
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('profile-email').textContent(), newEmail);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('cancelling the prompt (button or Escape) leaves the change undone and says so', async () => {
  const user = newUser('cancel');
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  await pastWindow();
  const form = page.getByTestId('profile-form');
  const save = form.getByRole('button', { name: 'Save changes' });

  await form.getByLabel('Username').fill(`renamed_${unique()}`);
  await save.click();
  await promptOf(page).getByRole('button', { name: 'Cancel' }).click();
  await form.getByRole('alert').filter({ hasText: 'Nothing was changed: you did not confirm it’s you.' }).waitFor();
  assert.equal(await promptOf(page).count(), 0);
  // The focus is back on the button that asked.
  await page.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Save changes');
  await screenshot(page, 'reauth-cancelled');

  await save.click();
  await promptOf(page).waitFor();
  await page.keyboard.press('Escape');
  await promptOf(page).waitFor({ state: 'detached' });
  await form.getByRole('alert').filter({ hasText: 'Nothing was changed' }).waitFor();
  assert.equal((await apiProfile(user)).username, user.username, 'the username is unchanged');
  // The form works again afterwards.
  assert.equal(await save.isEnabled(), true);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('in Chinese at phone size: the prompt fits the screen and the server’s error is in Chinese', async () => {
  const user = newUser('zhreauth');
  createUser(env.hufu, user);
  const { context, page } = await newPage({ locale: 'zh-CN', ...PHONE });
  await page.goto(`${env.hufu.url}/`);
  await page.getByLabel('用户名、邮箱或手机号').fill(user.username);
  await page.getByLabel('密码').fill(user.password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '个人资料', level: 1 }).waitFor();
  await pastWindow();

  const form = page.getByTestId('profile-form');
  const newEmail = `zh_${unique()}@example.com`;
  await form.getByLabel('邮箱').fill(newEmail);
  await form.getByRole('button', { name: '保存' }).click();
  const prompt = promptOf(page, '确认是你本人');
  await prompt.waitFor();
  const box = await prompt.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the prompt fits the phone's width (${JSON.stringify(box)})`);
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, 'no sideways scrolling');

  await prompt.getByLabel('你的密码').fill('错误的密码');
  await prompt.getByRole('button', { name: '确认' }).click();
  await prompt.getByRole('alert').filter({ hasText: '用户名或密码错误' }).waitFor();
  await screenshot(page, 'reauth-zh-phone-wrong');
  await prompt.getByLabel('你的密码').fill(user.password);
  await prompt.getByRole('button', { name: '确认' }).click();
  await form.getByText('资料已保存。').waitFor();
  assert.equal((await apiProfile(user)).email, newEmail);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('setting up TOTP after the window asks too, at setup and again at the enabling code', async () => {
  const user = newUser('totpup');
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  await pastWindow();
  await nav(page, 'Two-step verification');
  await page.getByRole('button', { name: 'Set up' }).click();
  const prompt = promptOf(page);
  await prompt.getByLabel('Your password').fill(user.password);
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  const secret = await page.getByTestId('totp-secret').getAttribute('data-secret');
  assert.match(secret, /^[A-Z2-7]+$/);

  // The enabling code comes more than a second later: the window has passed again.
  await pastWindow();
  // The current step's code: still good if the clock passes a step boundary before the retry.
  const code = totp(secret);
  await page.getByRole('textbox', { name: 'Code', exact: true }).fill(code);
  await page.getByRole('button', { name: 'Turn on' }).click();
  await prompt.getByLabel('Your password').fill(user.password);
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await page.getByTestId('recovery-codes').waitFor();
  await screenshot(page, 'reauth-totp-enabled');
  // Signing in by password now asks for the second factor: TOTP is on.
  const login = await apiCall('POST', '/api/v1/auth/login', { username: user.username, password: user.password });
  assert.equal(login.body.data.mfa_required, true);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('an account with TOTP and a verified email may confirm with an authenticator code or an emailed code', async () => {
  const user = newUser('methods');
  createUser(env.hufu, user);
  const inbox = logInbox(env.hufu);
  // Verify the email through the API (a `verify` code from the log).
  await withApiSession(user.username, user.password, async (token) => {
    const before = inbox.email.count(user.email);
    const sent = await apiCall('POST', '/api/v1/users/codes', { channel: 'email', purpose: 'verify' }, token);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const { code } = await inbox.email.next(user.email, before);
    const verified = await apiCall('POST', '/api/v1/users/verify', { channel: 'email', code }, token);
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
  });
  const { secret, step } = await apiEnableTotp(user);

  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  let used = await nextTotp(secret, step);
  await enterCode(page, used.code);
  await profileHeading(page).waitFor();
  await pastWindow();
  const form = page.getByTestId('profile-form');
  const save = form.getByRole('button', { name: 'Save changes' });

  // By the authenticator app.
  const firstName = `first_${unique()}`;
  await form.getByLabel('Username').fill(firstName);
  await save.click();
  const prompt = promptOf(page);
  await prompt.getByRole('group', { name: 'Confirm with' }).waitFor();
  assert.deepEqual(await prompt.getByRole('radio').evaluateAll((els) => els.map((e) => e.value)), ['password', 'totp', 'email']);
  await prompt.getByRole('radio', { name: 'Authenticator app' }).check();
  assert.equal(await prompt.getByLabel('Your password').isVisible(), false);
  used = await nextTotp(secret, used.step);
  await prompt.getByLabel('Code from your authenticator app, or a recovery code').fill(used.code);
  await screenshot(page, 'reauth-totp-choice');
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await form.getByText('Your profile has been saved.').waitFor();
  assert.equal(await page.getByTestId('profile-username').textContent(), firstName);

  // By a code sent to the verified email, with the send countdown.
  await pastWindow();
  const secondName = `second_${unique()}`;
  await form.getByLabel('Username').fill(secondName);
  await save.click();
  await prompt.getByRole('radio', { name: 'Code by email' }).check();
  const before = inbox.email.count(user.email);
  const send = prompt.getByTestId('reauth-send-email');
  await send.click();
  await prompt.getByRole('status').filter({ hasText: `A code is on its way to ${user.email}` }).waitFor();
  assert.match(await send.textContent(), /^Send again in \d+ s$/);
  assert.equal(await send.isDisabled(), true);
  const mail = await inbox.email.next(user.email, before);
  assert.equal(mail.purpose, 'reauth');
  // A wrong code first: the server's error, and the prompt stays.
  await prompt.getByLabel('6-digit code').fill(mail.code === '000000' ? '111111' : '000000');
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await prompt.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
  await prompt.getByLabel('6-digit code').fill(mail.code);
  await screenshot(page, 'reauth-email-code');
  await prompt.getByRole('button', { name: 'Confirm' }).click();
  await form.getByText('Your profile has been saved.').waitFor();
  // The profile as the server has it (this account needs a second factor to sign in from node).
  await page.reload();
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('profile-username').textContent(), secondName);
  assert.deepEqual(page.problems, []);
  await context.close();
});
