// app.js — the page's shell: the hash router, the header and navigation, the signed-out
// screens (sign in, the MFA step, register, a forgotten password and sign-in with a one-time
// code), and keeping the signed-in user current.
// The signed-in screens come from account.js (profile, password, sessions, second factor)
// and admin.js (users, audit log), each a list of routes `{path, label, admin, render}`;
// `render(main, ctx)` builds the screen into `main`.

import * as api from './api.js';
import { h, field, form, choiceField, codeField, sendCodeButton, sendCode } from './dom.js';
import { t, lang, addStrings } from './i18n.js';
import { routes as accountRoutes, confirmIdentity } from './account.js';
import { routes as adminRoutes } from './admin.js';

// How often a signed-in page re-reads the profile, so a session revoked elsewhere (sign out
// everywhere, an admin disabling the account) signs this page out without a click. The
// profile read is served from memory, so this costs the server almost nothing.
const CHECK_INTERVAL_MS = 10_000;

const signedInRoutes = [...accountRoutes, ...adminRoutes];
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const notice = document.getElementById('notice');

let user = null; // the signed-in user's profile, or null
let pendingMfa = null; // {mfa_token, identifier} between the password and the code

addStrings({
  en: {
    'signin.forgot': 'Forgot password?',
    'signin.with_code': 'Sign in with a code',
    'reset.title': 'Reset your password',
    'reset.hint': 'We send a code to the email or phone number of your account.',
    'reset.new': 'New password',
    'reset.confirm': 'Confirm new password',
    'reset.mismatch': 'The two new passwords do not match.',
    'reset.submit': 'Set new password',
    'reset.done': 'Your password has been reset and every device signed out. Sign in with the new password.',
    'codein.title': 'Sign in with a code',
    'codein.hint': 'We send a one-time code to your phone or email. A phone number without an account gets a new one.',
    'codein.submit': 'Sign in',
    'codein.welcome': 'Welcome! Your account {username} has been created. Set a password below to sign in with it too.',
    'code.back': 'Back to sign in',
  },
  zh: {
    'signin.forgot': '忘记密码？',
    'signin.with_code': '验证码登录',
    'reset.title': '重置密码',
    'reset.hint': '我们会向你账号的邮箱或手机号发送验证码。',
    'reset.new': '新密码',
    'reset.confirm': '确认新密码',
    'reset.mismatch': '两次输入的新密码不一致。',
    'reset.submit': '设置新密码',
    'reset.done': '密码已重置，所有设备均已退出登录。请用新密码登录。',
    'codein.title': '验证码登录',
    'codein.hint': '我们会向你的手机或邮箱发送一次性验证码。未注册的手机号将自动创建账号。',
    'codein.submit': '登录',
    'codein.welcome': '欢迎！已为你创建账号 {username}。可在下方设置密码，以便也能用密码登录。',
    'code.back': '返回登录',
  },
});

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
document.title = t('app.name');

/** Shows a short message above the screen (announced to screen readers). */
function notify(text, kind = 'info') {
  notice.textContent = text || '';
  notice.className = text ? `notice ${kind}` : '';
}

function isAdmin() {
  return !!user && Array.isArray(user.roles) && user.roles.includes('admin');
}

/** The context each screen gets. */
const ctx = {
  get user() {
    return user;
  },
  isAdmin,
  notify,
  navigate,
  /** Re-reads the profile (after an edit) and redraws the navigation. */
  async refreshUser() {
    user = await api.call('GET', '/api/v1/users/profile');
    drawNav();
    return user;
  },
  /** Replaces the known profile with one an endpoint returned. */
  setUser(next) {
    user = next;
    drawNav();
  },
  /** Ends the page's session after the server has ended it (password change, TOTP off…). */
  signedOut(message) {
    api.forget();
    user = null;
    navigate('#/signin', message);
  },
};

function navigate(path, message, kind = 'info') {
  if (location.hash !== path) {
    history.pushState(null, '', path);
  }
  notify(message, kind);
  render();
}

window.addEventListener('popstate', () => {
  notify('');
  render();
});
window.addEventListener('hashchange', () => render());

function drawNav() {
  if (!user) {
    nav.replaceChildren();
    return;
  }
  const links = signedInRoutes
    .filter((route) => route.label && (!route.admin || isAdmin()))
    .map((route) =>
      h(
        'a',
        { href: route.path, 'aria-current': location.hash.startsWith(route.path) ? 'page' : null },
        t(route.label),
      ),
    );
  nav.replaceChildren(
    h('span', { class: 'who', 'data-testid': 'signed-in-as' }, user.nickname || user.username),
    ...links,
    h('button', { type: 'button', class: 'link', onclick: () => doSignOut(false) }, t('nav.signout')),
    h('button', { type: 'button', class: 'link', onclick: () => doSignOut(true) }, t('nav.signout_all')),
  );
}

async function doSignOut(all) {
  try {
    await api.signOut(all);
  } catch {
    // The local session is gone either way (api.signOut forgets it in `finally`).
  }
  user = null;
  navigate('#/signin', t(all ? 'signout.all_done' : 'signout.done'));
}

/** Draws the screen for the current hash. */
async function render() {
  const hash = location.hash.startsWith('#/') ? location.hash : user ? '#/profile' : '#/signin';
  const path = hash.split('?')[0];
  if (user) {
    const route = signedInRoutes.find((r) => r.path === path) || signedInRoutes[0];
    if (route.admin && !isAdmin()) return navigate(signedInRoutes[0].path);
    // A signed-out screen's address (or an unknown one) shows the default screen: say so in
    // the address bar, so the navigation marks it and Back does not return to "sign in".
    if (route.path !== path) history.replaceState(null, '', route.path);
    drawNav();
    await show(route.title ? t(route.title) : t(route.label), (el) => route.render(el, ctx));
    return;
  }
  drawNav();
  if (path === '#/register') return show(t('register.title'), registerScreen);
  if (path === '#/mfa' && pendingMfa) return show(t('mfa.title'), mfaScreen);
  if (path === '#/reset') return show(t('reset.title'), resetScreen);
  if (path === '#/code') return show(t('codein.title'), codeSignInScreen);
  return show(t('signin.title'), signInScreen);
}

async function show(title, build) {
  document.title = `${title} · ${t('app.name')}`;
  const view = h('section', { class: 'view', 'aria-labelledby': 'view-title' });
  main.replaceChildren(view);
  try {
    await build(view);
  } catch (error) {
    view.append(h('p', { class: 'form-message error', role: 'alert' }, (error && error.envelope && error.envelope.error) || t('error.unknown')));
  }
  // Move focus to the new screen's heading so keyboard and screen-reader users land there.
  const heading = view.querySelector('h1');
  if (heading) {
    heading.id = heading.id || 'view-title';
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function signInScreen(view) {
  const prefill = sessionStorage.getItem('hufu.last_identifier') || '';
  view.append(
    h('h1', {}, t('signin.title')),
    form(
      { 'aria-label': t('signin.title') },
      [
        field('username', t('signin.identifier'), { autocomplete: 'username', required: true, value: prefill }),
        field('password', t('signin.password'), { type: 'password', autocomplete: 'current-password', required: true }),
        h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
      ],
      async ({ username, password }) => {
        const data = await api.anonymous('POST', '/api/v1/auth/login', { username, password });
        sessionStorage.setItem('hufu.last_identifier', username);
        if (data.mfa_required) {
          pendingMfa = { mfa_token: data.mfa_token };
          return navigate('#/mfa');
        }
        await signedIn(data);
      },
    ),
    h(
      'p',
      { class: 'actions links' },
      h('a', { href: '#/reset', 'data-testid': 'to-reset' }, t('signin.forgot')),
      h('a', { href: '#/code', 'data-testid': 'to-code' }, t('signin.with_code')),
    ),
    h('p', {}, t('signin.no_account'), ' ', h('a', { href: '#/register' }, t('signin.to_register'))),
  );
}

/** The first step of the code screens: choose email or phone, enter it, "Send code" (a
 * countdown after each send). `onSent({channel, target}, sent)` opens the second step. */
function sendStep(purpose, initialChannel, onSent) {
  const attrsFor = (channel) =>
    channel === 'email'
      ? { label: t('code.email'), type: 'email', autocomplete: 'email', inputmode: 'email' }
      : { label: t('code.phone'), type: 'tel', autocomplete: 'tel', inputmode: 'tel' };
  const first = attrsFor(initialChannel);
  const target = field('target', first.label, { type: first.type, autocomplete: first.autocomplete, required: true, spellcheck: 'false' });
  const input = target.querySelector('input');
  const label = target.querySelector('label');
  const switchTo = (channel) => {
    const next = attrsFor(channel);
    label.textContent = next.label;
    input.type = next.type;
    input.autocomplete = next.autocomplete;
    input.inputMode = next.inputmode;
    input.value = '';
    input.focus();
  };
  const button = sendCodeButton({ class: 'primary', 'data-testid': 'send-code' });
  return form(
    { 'aria-label': t('code.send'), 'data-testid': 'send-form' },
    [
      choiceField(
        'channel',
        t('code.channel'),
        [
          ['sms', t('code.by_phone')],
          ['email', t('code.by_email')],
        ],
        initialChannel,
        switchTo,
      ),
      target,
      button,
    ],
    async (values) => {
      const request = { channel: values.channel, target: values.target.trim() };
      const sent = await sendCode(button, () => api.anonymous('POST', '/api/v1/auth/codes', { ...request, purpose }));
      onSent(request, sent);
    },
  );
}

/** The line that says where the code went, announced when it appears. */
function sentNote() {
  // Not a `.form-message`: that class is the form's own error area (dom.js).
  return h('p', { class: 'code-sent', role: 'status', 'data-testid': 'code-sent' });
}

function showSentNote(note, request, sent) {
  note.textContent = t('code.sent_to', { target: request.target, minutes: Math.max(1, Math.round((sent.expires_in || 300) / 60)) });
}

function resetScreen(view) {
  let request = null; // {channel, target} of the last send
  const note = sentNote();
  const second = form(
    { 'aria-label': t('reset.title'), 'data-testid': 'reset-form', hidden: true },
    [
      note,
      codeField(),
      field('new_password', t('reset.new'), { type: 'password', autocomplete: 'new-password', required: true }),
      field('confirm_password', t('reset.confirm'), { type: 'password', autocomplete: 'new-password', required: true }),
      h('button', { type: 'submit', class: 'primary' }, t('reset.submit')),
    ],
    async ({ code, new_password, confirm_password }) => {
      if (new_password !== confirm_password) {
        const text = t('reset.mismatch');
        throw { message: text, details: [{ field: 'confirm_password', message: text }] };
      }
      await api.anonymous('POST', '/api/v1/auth/password/reset', { ...request, code: code.trim(), new_password });
      sessionStorage.setItem('hufu.last_identifier', request.target);
      navigate('#/signin', t('reset.done'), 'success');
    },
  );
  view.append(
    h('h1', {}, t('reset.title')),
    h('p', { class: 'muted' }, t('reset.hint')),
    sendStep('reset_password', 'email', (sentTo, sent) => {
      request = sentTo;
      showSentNote(note, sentTo, sent);
      second.hidden = false;
      second.elements.code.focus();
    }),
    second,
    h('p', {}, h('a', { href: '#/signin' }, t('code.back'))),
  );
}

function codeSignInScreen(view) {
  let request = null;
  const note = sentNote();
  const second = form(
    { 'aria-label': t('codein.title'), 'data-testid': 'code-login-form', hidden: true },
    [note, codeField(), h('button', { type: 'submit', class: 'primary' }, t('codein.submit'))],
    async ({ code }) => {
      const data = await api.anonymous('POST', '/api/v1/auth/login/code', { ...request, code: code.trim() });
      sessionStorage.setItem('hufu.last_identifier', request.target);
      if (data.mfa_required) {
        pendingMfa = { mfa_token: data.mfa_token };
        return navigate('#/mfa');
      }
      const welcome = data.is_new_user ? t('codein.welcome', { username: data.user.username }) : undefined;
      await signedIn(data, welcome);
    },
  );
  view.append(
    h('h1', {}, t('codein.title')),
    h('p', { class: 'muted' }, t('codein.hint')),
    sendStep('login', 'sms', (sentTo, sent) => {
      request = sentTo;
      showSentNote(note, sentTo, sent);
      second.hidden = false;
      second.elements.code.focus();
    }),
    second,
    h('p', {}, h('a', { href: '#/signin' }, t('code.back'))),
  );
}

function mfaScreen(view) {
  view.append(
    h('h1', {}, t('mfa.title')),
    h('p', {}, t('mfa.hint')),
    form(
      { 'aria-label': t('mfa.title') },
      [
        field('code', t('mfa.code'), { autocomplete: 'one-time-code', required: true, spellcheck: 'false' }),
        h('button', { type: 'submit', class: 'primary' }, t('mfa.submit')),
      ],
      async ({ code }) => {
        const data = await api.anonymous('POST', '/api/v1/auth/mfa', {
          mfa_token: pendingMfa.mfa_token,
          code: code.trim(),
        });
        pendingMfa = null;
        await signedIn(data);
      },
    ),
    h('p', {}, h('a', { href: '#/signin', onclick: () => (pendingMfa = null) }, t('mfa.back'))),
  );
}

function registerScreen(view) {
  view.append(
    h('h1', {}, t('register.title')),
    form(
      { 'aria-label': t('register.title') },
      [
        field('username', t('register.username'), { autocomplete: 'username', required: true }),
        field('email', t('register.email'), { type: 'email', autocomplete: 'email', required: true }),
        field('phone', t('register.phone'), { type: 'tel', autocomplete: 'tel' }),
        field('password', t('register.password'), { type: 'password', autocomplete: 'new-password', required: true }),
        h('button', { type: 'submit', class: 'primary' }, t('register.submit')),
      ],
      async ({ username, email, phone, password }) => {
        const body = { username, email, password };
        // Sent only when given, so a deployment with optional phones accepts an empty one.
        if (phone.trim() !== '') body.phone = phone.trim();
        const created = await api.anonymous('POST', '/api/v1/auth/register', body);
        sessionStorage.setItem('hufu.last_identifier', created.username);
        navigate('#/signin', t('register.done'), 'success');
      },
    ),
    h('p', {}, t('register.have_account'), ' ', h('a', { href: '#/signin' }, t('register.to_signin'))),
  );
}

async function signedIn(loginData, message) {
  api.keep(loginData);
  user = loginData.user;
  navigate('#/profile', message, 'success');
}

// A change the server refused with REAUTH_REQUIRED: "Confirm it's you", then api.js retries it.
api.onReauthRequired(() => confirmIdentity(user));

// A session ended by the server (revoked, disabled, refresh refused) or by another tab.
api.onSessionEnded((reason) => {
  if (!user) return;
  user = null;
  const text = reason && reason.envelope && reason.envelope.error ? reason.envelope.error : t('error.session_ended');
  navigate('#/signin', text, 'error');
});

async function checkSession() {
  if (!user || document.visibilityState !== 'visible') return;
  try {
    await ctx.refreshUser();
    // The admin role was removed while an admin screen was open: leave it, as a fresh visit
    // would (the server already refuses its calls).
    const route = signedInRoutes.find((r) => r.path === location.hash.split('?')[0]);
    if (route && route.admin && !isAdmin()) navigate('#/profile');
  } catch {
    // A revoked session has already signed the page out (onSessionEnded); a network
    // failure is retried at the next check.
  }
}
setInterval(checkSession, CHECK_INTERVAL_MS);
document.addEventListener('visibilitychange', checkSession);

document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

// Start: renew silently when a refresh token is stored (a reload, a new tab).
(async () => {
  main.replaceChildren(h('p', { class: 'loading' }, t('loading')));
  if (api.hasSession()) {
    try {
      await api.renew();
      user = await api.call('GET', '/api/v1/users/profile');
    } catch (error) {
      user = null;
      if (!error.network) api.forget();
      else notify(t('error.network'), 'error');
    }
  }
  render();
})();
