// The one-time code screens (contract section 10): a forgotten password, signing in with a
// code (a new phone makes an account; an account with TOTP goes on to the MFA step), proving
// one's email and phone on the profile, changing them with a code, HUFU_REQUIRE_VERIFIED, and
// the "Send code" countdowns (resend_after, and Retry-After on 429). Codes are read the way a
// person reads them: SMS through hufu's signed webhook to a gateway here, email from a real
// SMTP server here (STARTTLS, a certificate from our own CA), both on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createUser,
  screenshot,
  unique,
  env,
  useServer,
  startHufu,
  newUser,
  freshPhone,
  apiCall,
  apiProfile,
  apiEnableTotp,
  newPage,
  signIn,
  signOut,
  profileHeading,
  nextTotp,
  startSmsGateway,
  startSmtpServer,
  logInbox,
} from '../harness.mjs';

const MAIL_FROM = 'hufu e2e <no-reply@hufu.test>';
// How codes travel: SMS through the signed webhook to the gateway here (`webhook`) and email
// through the SMTP server here (`smtp`); `log` for either reads that channel's codes from the
// server log instead, for a build without that provider.
const SMS = process.env.HUFU_E2E_SMS || 'webhook';
const EMAIL = process.env.HUFU_E2E_EMAIL || 'smtp';
const RESEND_SECONDS = 4;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let gateway = null;
let smtp = null;
let deliveryEnv = {};

/** Where codes arrive for `hufu`: `{sms, email}`, each with `count(target)` and
 * `next(target, after)`. */
function boxes(hufu) {
  const logged = SMS === 'log' || EMAIL === 'log' ? logInbox(hufu) : null;
  return { sms: SMS === 'log' ? logged.sms : gateway, email: EMAIL === 'log' ? logged.email : smtp };
}

useServer(async () => {
  deliveryEnv = {
    HUFU_CODE_RESEND_INTERVAL: `${RESEND_SECONDS}s`,
    // Every browser is 127.0.0.1: the per-IP send limit (5 a minute) would refuse this file.
    HUFU_RATE_LIMIT_CODE: '1000',
  };
  if (SMS === 'log') {
    deliveryEnv.HUFU_SMS_PROVIDER = 'log';
  } else {
    gateway = await startSmsGateway();
    Object.assign(deliveryEnv, {
      HUFU_SMS_PROVIDER: 'webhook',
      HUFU_SMS_WEBHOOK_URL: gateway.url,
      HUFU_SMS_WEBHOOK_SECRET: gateway.secret,
    });
  }
  if (EMAIL === 'log') {
    deliveryEnv.HUFU_SMTP_URL = 'log:';
  } else {
    smtp = await startSmtpServer();
    Object.assign(deliveryEnv, { HUFU_SMTP_URL: smtp.url, HUFU_MAIL_FROM: MAIL_FROM, HUFU_SMTP_CA_FILE: smtp.ca });
  }
  return {
    env: deliveryEnv,
    stop: async () => {
      await gateway?.stop();
      await smtp?.stop();
    },
  };
});

let inbox = null;
function box() {
  inbox = inbox || boxes(env.hufu);
  return inbox;
}

/** Checks what a real delivery looked like (nothing to check for `log`). */
function checkSms(message, { phone, purpose, lang }) {
  assert.match(message.code, /^\d{6}$/);
  assert.equal(message.phone, phone);
  assert.equal(message.purpose, purpose);
  if (SMS === 'webhook') {
    assert.equal(message.lang, lang);
    assert.deepEqual(gateway.rejected, [], 'every webhook post carried a valid signature');
  }
}

function checkMail(message, { to, lang }) {
  assert.match(message.code || '', /^\d{6}$/, `a code in the text: ${message.text}`);
  if (EMAIL === 'smtp') {
    assert.deepEqual(message.to, [to.toLowerCase()]);
    assert.equal(message.secure, true, 'sent over STARTTLS');
    assert.equal(message.from, 'no-reply@hufu.test');
    assert.ok(message.html.includes(message.code), 'the HTML part carries the code too');
    if (lang === 'zh') assert.match(`${message.subject}${message.text}`, /[\u4e00-\u9fff]/, 'the message is in Chinese');
    else assert.doesNotMatch(message.subject, /[\u4e00-\u9fff]/, 'the subject is in English');
    assert.deepEqual(smtp.refused, []);
  }
}

/** The "Send code" button of the signed-out code screens. */
const sendButton = (page) => page.getByTestId('send-code');

/** Waits until `button` counts down ("Send again in N s" / "N 秒后可重新发送") and is
 * disabled; resolves to N. */
async function countdownOf(button) {
  await button.filter({ hasText: /\d/ }).waitFor();
  assert.equal(await button.isDisabled(), true, 'disabled while counting');
  return Number((await button.textContent()).match(/\d+/)[0]);
}

// --- forgotten password -------------------------------------------------------------------

test('a forgotten password is reset with a code sent by email (English)', async () => {
  const user = newUser('forgot');
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password', level: 1 }).waitFor();
  assert.equal(await page.getByRole('radio', { name: 'Email' }).isChecked(), true, 'email is the first choice here');
  await screenshot(page, 'codes-reset-start');

  await page.getByRole('textbox', { name: 'Email' }).fill(user.email);
  const before = box().email.count(user.email);
  await sendButton(page).click();
  const mail = await box().email.next(user.email, before);
  checkMail(mail, { to: user.email, lang: 'en' });
  const left = await countdownOf(sendButton(page));
  assert.ok(left >= 1 && left <= RESEND_SECONDS, `counts down resend_after (${left})`);
  assert.match(await page.getByTestId('code-sent').textContent(), new RegExp(`A code is on its way to ${user.email.replace(/[.]/g, '\\.')}`));
  await screenshot(page, 'codes-reset-sent');

  // A wrong code: the envelope's error; nothing changes.
  const resetForm = page.getByTestId('reset-form');
  const wrong = mail.code === '000000' ? '111111' : '000000';
  const newPassword = `reset pass phrase ${unique()}`;
  await resetForm.getByLabel('6-digit code').fill(wrong);
  await resetForm.getByLabel('New password', { exact: true }).fill(newPassword);
  await resetForm.getByLabel('Confirm new password').fill(newPassword);
  await resetForm.getByRole('button', { name: 'Set new password' }).click();
  await resetForm.getByRole('alert').filter({ hasText: 'wrong, expired or used code' }).waitFor();
  await screenshot(page, 'codes-reset-wrong-code');

  await resetForm.getByLabel('6-digit code').fill(mail.code);
  await resetForm.getByRole('button', { name: 'Set new password' }).click();
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  await page.getByText('Your password has been reset').waitFor();
  await screenshot(page, 'codes-reset-done');

  // The old password is gone, the new one signs in.
  await signIn(page, user.username, user.password);
  await page.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
  await signIn(page, user.username, newPassword);
  await profileHeading(page).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('重置密码：手机短信验证码，手机屏幕，中文错误', async () => {
  const user = newUser('wangji');
  createUser(env.hufu, user);
  const { context, page } = await newPage({ locale: 'zh-CN', ...PHONE });
  await page.goto(`${env.hufu.url}/`);
  await page.getByRole('link', { name: '忘记密码？' }).click();
  await page.getByRole('heading', { name: '重置密码', level: 1 }).waitFor();
  await page.getByRole('radio', { name: '手机短信' }).check();
  await page.getByRole('textbox', { name: '手机号' }).fill(user.phone);
  const before = box().sms.count(user.phone);
  await sendButton(page).click();
  const sms = await box().sms.next(user.phone, before);
  checkSms(sms, { phone: user.phone, purpose: 'reset_password', lang: 'zh' });
  await sendButton(page).filter({ hasText: /秒后可重新发送/ }).waitFor();
  await screenshot(page, 'codes-reset-zh-phone-sent');

  const resetForm = page.getByTestId('reset-form');
  const newPassword = `新的密码 ${unique()}`;
  await resetForm.getByLabel('6 位验证码').fill(sms.code);
  await resetForm.getByLabel('新密码', { exact: true }).fill(newPassword);
  await resetForm.getByLabel('确认新密码').fill(`${newPassword}x`);
  await resetForm.getByRole('button', { name: '设置新密码' }).click();
  await resetForm.locator('[data-error-for="confirm_password"]').filter({ hasText: '两次输入的新密码不一致' }).waitFor();

  // Too short a password: the server's reason, in Chinese, under the field.
  await resetForm.getByLabel('新密码', { exact: true }).fill('短');
  await resetForm.getByLabel('确认新密码').fill('短');
  await resetForm.getByRole('button', { name: '设置新密码' }).click();
  await resetForm.locator('[data-error-for="new_password"]').filter({ hasText: /[\u4e00-\u9fff]/ }).waitFor();
  assert.equal(await resetForm.getByLabel('新密码', { exact: true }).getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'codes-reset-zh-phone-error');

  await resetForm.getByLabel('新密码', { exact: true }).fill(newPassword);
  await resetForm.getByLabel('确认新密码').fill(newPassword);
  await resetForm.getByRole('button', { name: '设置新密码' }).click();
  await page.getByRole('heading', { name: '登录', level: 1 }).waitFor();
  await page.getByText('密码已重置').waitFor();
  assert.equal(await page.getByLabel('用户名、邮箱或手机号').inputValue(), user.phone, 'the sign-in form is prefilled');
  await page.getByLabel('密码').fill(newPassword);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '个人资料', level: 1 }).waitFor();
  // The page fits the phone: nothing wider than the screen.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await screenshot(page, 'codes-reset-zh-phone-signed-in');
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- signing in with a code -----------------------------------------------------------------

test('signing in with a code: a new phone number makes an account (phone size)', async () => {
  const phone = freshPhone();
  const { context, page } = await newPage(PHONE);
  await page.goto(`${env.hufu.url}/`);
  await page.getByRole('link', { name: 'Sign in with a code' }).click();
  await page.getByRole('heading', { name: 'Sign in with a code', level: 1 }).waitFor();
  assert.equal(await page.getByRole('radio', { name: 'Phone (SMS)' }).isChecked(), true, 'the phone is the first choice');
  await page.getByRole('textbox', { name: 'Phone number' }).fill(phone);
  await screenshot(page, 'codes-login-phone-start');
  let before = box().sms.count(phone);
  await sendButton(page).click();
  const first = await box().sms.next(phone, before);
  checkSms(first, { phone, purpose: 'login', lang: 'en' });
  assert.ok((await countdownOf(sendButton(page))) <= RESEND_SECONDS);
  await screenshot(page, 'codes-login-phone-countdown');

  // The countdown ends; "Send again" sends a new code, and the first one is dead.
  await page.getByRole('button', { name: 'Send again', exact: true }).waitFor({ timeout: (RESEND_SECONDS + 3) * 1000 });
  before = box().sms.count(phone);
  await page.getByRole('button', { name: 'Send again', exact: true }).click();
  const second = await box().sms.next(phone, before);
  await countdownOf(sendButton(page));
  const codeForm = page.getByTestId('code-login-form');
  if (first.code !== second.code) {
    await codeForm.getByLabel('6-digit code').fill(first.code);
    await codeForm.getByRole('button', { name: 'Sign in' }).click();
    await codeForm.getByRole('alert').filter({ hasText: 'wrong, expired or used code' }).waitFor();
  }
  await codeForm.getByLabel('6-digit code').fill(second.code);
  await codeForm.getByRole('button', { name: 'Sign in' }).click();
  await profileHeading(page).waitFor();
  await page.getByText(/Welcome! Your account u_[a-z0-9]{10} has been created/).waitFor();
  assert.equal(await page.getByTestId('profile-phone').textContent(), phone);
  assert.equal(await page.getByTestId('phone-verified').textContent(), 'Verified');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await screenshot(page, 'codes-login-phone-new-user');

  // A second code sign-in of the same number is no new account.
  await signOut(page);
  await page.getByRole('link', { name: 'Sign in with a code' }).click();
  await page.getByRole('textbox', { name: 'Phone number' }).fill(phone);
  // The resend interval from the last send may still run: wait it out like a person would.
  await page.waitForTimeout(RESEND_SECONDS * 1000);
  before = box().sms.count(phone);
  await sendButton(page).click();
  const third = await box().sms.next(phone, before);
  await codeForm.getByLabel('6-digit code').fill(third.code);
  await codeForm.getByRole('button', { name: 'Sign in' }).click();
  await profileHeading(page).waitFor();
  assert.equal(await page.getByText('Welcome!').count(), 0, 'no welcome the second time');
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('验证码登录：邮箱，开启了两步验证的账号继续输入动态码', async () => {
  const user = newUser('mail');
  createUser(env.hufu, user);
  const { secret, step } = await apiEnableTotp(user);
  const { context, page } = await newPage({ locale: 'zh-CN' });
  await page.goto(`${env.hufu.url}/`);
  await page.getByRole('link', { name: '验证码登录' }).click();
  await page.getByRole('heading', { name: '验证码登录', level: 1 }).waitFor();
  await page.getByRole('radio', { name: '邮箱' }).check();
  await page.getByRole('textbox', { name: '邮箱' }).fill(user.email);
  const before = box().email.count(user.email);
  await sendButton(page).click();
  const mail = await box().email.next(user.email, before);
  checkMail(mail, { to: user.email, lang: 'zh' });
  await screenshot(page, 'codes-login-email-zh-sent');

  const codeForm = page.getByTestId('code-login-form');
  const wrong = mail.code === '000000' ? '111111' : '000000';
  await codeForm.getByLabel('6 位验证码').fill(wrong);
  await codeForm.getByRole('button', { name: '登录' }).click();
  await codeForm.getByRole('alert').filter({ hasText: '验证码错误或已失效' }).waitFor();
  await screenshot(page, 'codes-login-email-zh-wrong');
  await codeForm.getByLabel('6 位验证码').fill(mail.code);
  await codeForm.getByRole('button', { name: '登录' }).click();

  // TOTP is on: the existing second step.
  await page.getByRole('heading', { name: '两步验证', level: 1 }).waitFor();
  await screenshot(page, 'codes-login-email-zh-mfa');
  await page.getByRole('textbox', { name: '验证码', exact: true }).fill((await nextTotp(secret, step)).code);
  await page.getByRole('button', { name: '验证' }).click();
  await page.getByRole('heading', { name: '个人资料', level: 1 }).waitFor();
  assert.equal(await page.getByTestId('signed-in-as').textContent(), user.username);
  // The code proved the email.
  assert.equal(await page.getByTestId('email-verified').textContent(), '已验证');
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- the profile: verified badges, Verify -------------------------------------------------------

test('the profile marks email and phone unverified, and Verify proves each with a code', async () => {
  const user = newUser('verify');
  createUser(env.hufu, user);
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/`);
  await signIn(page, user.username, user.password);
  await profileHeading(page).waitFor();
  assert.equal(await page.getByTestId('email-verified').textContent(), 'Unverified');
  assert.equal(await page.getByTestId('phone-verified').textContent(), 'Unverified');
  await screenshot(page, 'codes-profile-unverified');

  // Email.
  let before = box().email.count(user.email);
  await page.getByRole('button', { name: `Verify ${user.email}` }).click();
  const mail = await box().email.next(user.email, before);
  checkMail(mail, { to: user.email, lang: 'en' });
  const emailForm = page.getByTestId('verify-email-form');
  await emailForm.getByRole('heading', { name: 'Verify your email' }).waitFor();
  assert.ok((await countdownOf(emailForm.getByTestId('verify-resend'))) <= RESEND_SECONDS, 'the resend button counts down');
  await screenshot(page, 'codes-profile-verify-email');
  await emailForm.getByLabel('6-digit code').fill(mail.code);
  await emailForm.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Your email is verified.').waitFor();
  assert.equal(await page.getByTestId('email-verified').textContent(), 'Verified');
  assert.equal(await page.getByRole('button', { name: `Verify ${user.email}` }).count(), 0, 'no Verify for a verified email');

  // Phone, with a wrong code first.
  before = box().sms.count(user.phone);
  await page.getByRole('button', { name: `Verify ${user.phone}` }).click();
  const sms = await box().sms.next(user.phone, before);
  checkSms(sms, { phone: user.phone, purpose: 'verify', lang: 'en' });
  const phoneForm = page.getByTestId('verify-phone-form');
  await phoneForm.getByLabel('6-digit code').fill(sms.code === '000000' ? '111111' : '000000');
  await phoneForm.getByRole('button', { name: 'Confirm' }).click();
  await phoneForm.getByRole('alert').filter({ hasText: 'wrong, expired or used code' }).waitFor();
  await screenshot(page, 'codes-profile-verify-phone-wrong');
  await phoneForm.getByLabel('6-digit code').fill(sms.code);
  await phoneForm.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Your phone number is verified.').waitFor();
  assert.equal(await page.getByTestId('phone-verified').textContent(), 'Verified');
  await screenshot(page, 'codes-profile-verified');

  const stored = await apiProfile(user);
  assert.equal(stored.email_verified, true);
  assert.equal(stored.phone_verified, true);
  assert.deepEqual(page.problems, []);
  await context.close();
});

// --- the profile: changing email and phone ------------------------------------------------------

test('修改邮箱时验证码随保存一起发送（已验证）；不带验证码修改手机号（未验证）后再验证', async () => {
  const user = newUser('gaiyou');
  createUser(env.hufu, user);
  const { context, page } = await newPage({ locale: 'zh-CN', ...PHONE });
  await page.goto(`${env.hufu.url}/`);
  await page.getByLabel('用户名、邮箱或手机号').fill(user.username);
  await page.getByLabel('密码').fill(user.password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.getByRole('heading', { name: '个人资料', level: 1 }).waitFor();
  const form = page.getByTestId('profile-form');
  assert.equal(await form.getByTestId('email-send-change').isVisible(), false, 'no send button for an unchanged email');

  // A new email: send a code to it, and the code travels with the save.
  const email = `new_${unique()}@example.org`;
  await form.getByLabel('邮箱', { exact: true }).fill(email);
  await form.getByRole('button', { name: '向新邮箱发送验证码' }).click();
  const mail = await box().email.next(email, 0);
  checkMail(mail, { to: email, lang: 'zh' });
  await countdownOf(form.getByTestId('email-send-change'));
  await form.getByLabel('发到新地址的验证码').fill(mail.code);
  await screenshot(page, 'codes-change-email-zh');
  const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/users/profile') && r.method() === 'PUT');
  await form.getByRole('button', { name: '保存' }).click();
  assert.deepEqual(JSON.parse((await sent).postData()), { email, email_code: mail.code });
  await form.getByText('资料已保存。').waitFor();
  assert.equal(await page.getByTestId('profile-email').textContent(), email);
  assert.equal(await page.getByTestId('email-verified').textContent(), '已验证');

  // A new phone saved without a code: stored unverified.
  const phone = freshPhone();
  await form.getByLabel('手机号', { exact: true }).fill(phone);
  await form.getByTestId('phone-send-change').waitFor();
  const saved = page.waitForRequest((r) => r.url().endsWith('/api/v1/users/profile') && r.method() === 'PUT');
  await form.getByRole('button', { name: '保存' }).click();
  assert.deepEqual(JSON.parse((await saved).postData()), { phone });
  await form.getByText('资料已保存。').waitFor();
  assert.equal(await page.getByTestId('phone-verified').textContent(), '未验证');
  await screenshot(page, 'codes-change-phone-unverified-zh');

  // …and then proved with 验证.
  await page.getByRole('button', { name: `验证 ${phone}` }).click();
  const sms = await box().sms.next(phone, 0);
  checkSms(sms, { phone, purpose: 'verify', lang: 'zh' });
  const phoneForm = page.getByTestId('verify-phone-form');
  await phoneForm.getByLabel('6 位验证码').fill(sms.code);
  await phoneForm.getByRole('button', { name: '确认' }).click();
  await page.getByText('手机号已验证。').waitFor();
  assert.equal(await page.getByTestId('phone-verified').textContent(), '已验证');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await screenshot(page, 'codes-change-phone-verified-zh');

  const stored = await apiProfile({ ...user, username: user.username });
  assert.equal(stored.email, email);
  assert.equal(stored.email_verified, true);
  assert.equal(stored.phone, phone);
  assert.equal(stored.phone_verified, true);
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('with HUFU_REQUIRE_VERIFIED a new email without its code is refused on the code field', async () => {
  const strict = await startHufu({ ...deliveryEnv, HUFU_REQUIRE_VERIFIED: 'email,phone' });
  const strictBox = boxes(strict);
  try {
    const user = newUser('strict');
    createUser(strict, user);
    const { context, page } = await newPage(PHONE);
    await page.goto(`${strict.url}/`);
    await signIn(page, user.username, user.password);
    await profileHeading(page).waitFor();
    const form = page.getByTestId('profile-form');
    const email = `strict_${unique()}@example.org`;
    await form.getByLabel('Email', { exact: true }).fill(email);
    await form.getByRole('button', { name: 'Save changes' }).click();
    const codeError = form.locator('[data-error-for="email_code"]');
    await codeError.filter({ hasText: /\S/ }).waitFor();
    assert.ok(await codeError.isVisible(), 'the error is shown on the (revealed) code field');
    assert.equal(await form.getByLabel('Code from the message to the new address').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'codes-require-verified-refused');

    await form.getByRole('button', { name: 'Send code to the new address' }).click();
    const mail = await strictBox.email.next(email, 0);
    await form.getByLabel('Code from the message to the new address').fill(mail.code);
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.getByText('Your profile has been saved.').waitFor();
    assert.equal(await page.getByTestId('email-verified').textContent(), 'Verified');
    await screenshot(page, 'codes-require-verified-saved');
    assert.deepEqual(page.problems, []);
    await context.close();
  } finally {
    await strict.stop();
  }
});

// --- 429 ------------------------------------------------------------------------------------------

test('a send refused with 429 shows the error and counts down the Retry-After', async () => {
  const phone = freshPhone();
  // Someone (another device) just asked for a code for this number.
  const earlier = await apiCall('POST', '/api/v1/auth/codes', { channel: 'sms', target: phone, purpose: 'login' });
  assert.equal(earlier.status, 200, JSON.stringify(earlier.body));
  const { context, page } = await newPage();
  await page.goto(`${env.hufu.url}/#/code`);
  await page.getByRole('textbox', { name: 'Phone number' }).fill(phone);
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/codes'));
  await sendButton(page).click();
  const response = await refused;
  assert.equal(response.status(), 429);
  const retryAfter = Number(response.headers()['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= RESEND_SECONDS, `Retry-After ${retryAfter}`);
  await page.getByTestId('send-form').getByRole('alert').filter({ hasText: 'too many requests, slow down' }).waitFor();
  const left = await countdownOf(sendButton(page));
  assert.ok(left <= retryAfter, `counts down the Retry-After (${left} ≤ ${retryAfter})`);
  assert.equal(await page.getByTestId('code-login-form').isVisible(), false, 'no code field for a send that did not happen');
  await screenshot(page, 'codes-rate-limited');

  await page.getByRole('button', { name: 'Send again', exact: true }).waitFor({ timeout: (retryAfter + 3) * 1000 });
  const before = box().sms.count(phone);
  await page.getByRole('button', { name: 'Send again', exact: true }).click();
  const sms = await box().sms.next(phone, before);
  await page.getByTestId('code-login-form').getByLabel('6-digit code').fill(sms.code);
  await page.getByTestId('code-login-form').getByRole('button', { name: 'Sign in' }).click();
  await profileHeading(page).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});
