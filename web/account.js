// account.js — the signed-in user's own screens: the profile (view and edit, change the
// password), the signed-in devices (sessions) and the second factor (TOTP with recovery codes);
// and the step-up prompt ("Confirm it's you") that api.js opens when a change needs it.
// Each screen is built with dom.js (no HTML strings); every call goes through api.js.

import * as api from './api.js';
import { h, field, form, choiceField, codeField, showSuccess, showError, clearErrors, errorText, when, sendCodeButton, sendCode } from './dom.js';
import { t, addStrings } from './i18n.js';
import { deviceName } from './device.js';
import qrcode from './qrcode.js';

addStrings({
  en: {
    'profile.title': 'Profile',
    'profile.username': 'Username',
    'profile.nickname': 'Nickname',
    'profile.email': 'Email',
    'profile.phone': 'Phone',
    'profile.avatar': 'Avatar',
    'profile.avatar_url': 'Avatar URL (https)',
    'profile.avatar_alt': 'Avatar of {name}',
    'profile.roles': 'Roles',
    'profile.no_roles': 'none',
    'profile.mfa': 'Two-step verification',
    'profile.wechat': 'WeChat',
    'profile.created': 'Member since',
    'profile.on': 'On',
    'profile.off': 'Off',
    'profile.bound': 'Bound',
    'profile.not_bound': 'Not bound',
    'profile.edit': 'Edit your details',
    'profile.edit_hint': 'Clear nickname, phone or avatar URL to remove it.',
    'profile.save': 'Save changes',
    'profile.saved': 'Your profile has been saved.',
    'profile.unchanged': 'Nothing has changed.',
    'profile.verified': 'Verified',
    'profile.unverified': 'Unverified',
    'profile.verify': 'Verify',
    'profile.verify_email': 'Verify {target}',
    'profile.verify_phone': 'Verify {target}',
    'profile.verify_title_email': 'Verify your email',
    'profile.verify_title_phone': 'Verify your phone number',
    'profile.verify_submit': 'Confirm',
    'profile.verify_cancel': 'Cancel',
    'profile.verified_email': 'Your email is verified.',
    'profile.verified_phone': 'Your phone number is verified.',
    'profile.send_change_email': 'Send code to the new address',
    'profile.send_change_phone': 'Send code to the new number',
    'profile.change_hint': 'Optional: a code sent to the new address or number proves it is yours, and it is saved as verified.',
    'profile.email_code': 'Code from the message to the new address',
    'profile.phone_code': 'Code from the SMS to the new number',
    'password.title': 'Change password',
    'password.old': 'Current password',
    'password.old_hint': 'Leave empty only if you have never set a password (signed up with WeChat).',
    'password.new': 'New password',
    'password.confirm': 'Confirm new password',
    'password.mismatch': 'The two new passwords do not match.',
    'password.submit': 'Change password',
    'password.done': 'Your password has been changed. Every other device has been signed out.',
    'sessions.title': 'Sessions',
    'sessions.heading': 'Signed-in devices',
    'sessions.hint': 'Each place your account is signed in. Sign out any you do not recognise.',
    'sessions.device': 'Device',
    'sessions.ip': 'IP address',
    'sessions.created': 'Signed in',
    'sessions.last_used': 'Last used',
    'sessions.action': 'Action',
    'sessions.this': 'This device',
    'sessions.this_hint': 'Use “Sign out” in the menu',
    'sessions.revoke': 'Sign out',
    'sessions.revoke_label': 'Sign out {device} ({ip})',
    'sessions.revoked': 'That device has been signed out.',
    'sessions.none': 'No sessions.',
    'sessions.unknown': 'Unknown device',
    'security.title': 'Two-step verification',
    'security.off': 'Two-step verification is off. Turn it on to ask for a code from an authenticator app after your password.',
    'security.on': 'Two-step verification is on: signing in with your password also asks for a code.',
    'security.setup': 'Set up',
    'security.scan': '1. Scan this code with your authenticator app',
    'security.qr_label': 'QR code for setting up your authenticator app',
    'security.key_hint': 'Cannot scan? Enter this key in the app instead:',
    'security.copy': 'Copy key',
    'security.copied': 'Copied.',
    'security.copy_failed': 'Could not copy; select the key and copy it yourself.',
    'security.verify': '2. Enter the 6-digit code the app shows',
    'security.code': 'Code',
    'security.enable': 'Turn on',
    'security.codes_title': 'Your recovery codes',
    'security.codes_warning': 'Save these codes somewhere safe now: they will not be shown again. Each one signs you in once if you lose your phone.',
    'security.download': 'Download as text',
    'security.saved': 'I have saved them',
    'security.enabled': 'Two-step verification is on.',
    'security.codes_file': 'hufu recovery codes for {name}',
    'security.disable_title': 'Turn off two-step verification',
    'security.disable_hint': 'Enter a code from your app (or a recovery code), or your password.',
    'security.disable_code': 'Code or recovery code',
    'security.disable_password': 'Password',
    'security.disable': 'Turn off',
    'security.disabled': 'Two-step verification is off.',
    'security.wechat_bound': 'A WeChat account is bound to this account; WeChat sign-in does not ask for a code.',
    'security.wechat_unbound': 'No WeChat account is bound.',
    'reauth.title': 'Confirm it’s you',
    'reauth.hint': 'This change needs proof that it is you: your last sign-in was a while ago.',
    'reauth.method': 'Confirm with',
    'reauth.by_password': 'Password',
    'reauth.by_totp': 'Authenticator app',
    'reauth.by_email': 'Code by email',
    'reauth.by_sms': 'Code by SMS',
    'reauth.password': 'Your password',
    'reauth.totp_code': 'Code from your authenticator app, or a recovery code',
    'reauth.send_email': 'Send me a code by email',
    'reauth.send_sms': 'Send me a code by SMS',
    'reauth.submit': 'Confirm',
    'reauth.cancel': 'Cancel',
    'reauth.cancelled': 'Nothing was changed: you did not confirm it’s you.',
  },
  zh: {
    'profile.title': '个人资料',
    'profile.username': '用户名',
    'profile.nickname': '昵称',
    'profile.email': '邮箱',
    'profile.phone': '手机号',
    'profile.avatar': '头像',
    'profile.avatar_url': '头像地址（https）',
    'profile.avatar_alt': '{name} 的头像',
    'profile.roles': '角色',
    'profile.no_roles': '无',
    'profile.mfa': '两步验证',
    'profile.wechat': '微信',
    'profile.created': '注册时间',
    'profile.on': '已开启',
    'profile.off': '未开启',
    'profile.bound': '已绑定',
    'profile.not_bound': '未绑定',
    'profile.edit': '修改资料',
    'profile.edit_hint': '清空昵称、手机号或头像地址即可删除。',
    'profile.save': '保存',
    'profile.saved': '资料已保存。',
    'profile.unchanged': '没有任何修改。',
    'profile.verified': '已验证',
    'profile.unverified': '未验证',
    'profile.verify': '验证',
    'profile.verify_email': '验证 {target}',
    'profile.verify_phone': '验证 {target}',
    'profile.verify_title_email': '验证邮箱',
    'profile.verify_title_phone': '验证手机号',
    'profile.verify_submit': '确认',
    'profile.verify_cancel': '取消',
    'profile.verified_email': '邮箱已验证。',
    'profile.verified_phone': '手机号已验证。',
    'profile.send_change_email': '向新邮箱发送验证码',
    'profile.send_change_phone': '向新手机号发送验证码',
    'profile.change_hint': '可选：向新邮箱或手机号发送验证码，证明它属于你，保存后即为已验证。',
    'profile.email_code': '发到新地址的验证码',
    'profile.phone_code': '发到新号码的验证码',
    'password.title': '修改密码',
    'password.old': '当前密码',
    'password.old_hint': '仅当从未设置过密码（通过微信注册）时留空。',
    'password.new': '新密码',
    'password.confirm': '确认新密码',
    'password.mismatch': '两次输入的新密码不一致。',
    'password.submit': '修改密码',
    'password.done': '密码已修改，其他设备均已退出登录。',
    'sessions.title': '登录设备',
    'sessions.heading': '已登录的设备',
    'sessions.hint': '你的账号在以下位置登录。不认识的设备请将其退出。',
    'sessions.device': '设备',
    'sessions.ip': 'IP 地址',
    'sessions.created': '登录时间',
    'sessions.last_used': '最近使用',
    'sessions.action': '操作',
    'sessions.this': '本设备',
    'sessions.this_hint': '请使用菜单中的“退出登录”',
    'sessions.revoke': '退出',
    'sessions.revoke_label': '退出 {device}（{ip}）',
    'sessions.revoked': '该设备已退出登录。',
    'sessions.none': '没有登录设备。',
    'sessions.unknown': '未知设备',
    'security.title': '两步验证',
    'security.off': '两步验证未开启。开启后，用密码登录时还需输入身份验证器中的验证码。',
    'security.on': '两步验证已开启：用密码登录时还需输入验证码。',
    'security.setup': '开始设置',
    'security.scan': '1. 用身份验证器扫描此二维码',
    'security.qr_label': '用于设置身份验证器的二维码',
    'security.key_hint': '无法扫描？请在应用中手动输入此密钥：',
    'security.copy': '复制密钥',
    'security.copied': '已复制。',
    'security.copy_failed': '无法复制，请手动选中密钥复制。',
    'security.verify': '2. 输入应用显示的 6 位验证码',
    'security.code': '验证码',
    'security.enable': '开启',
    'security.codes_title': '你的恢复码',
    'security.codes_warning': '请立即将这些恢复码保存在安全的地方：它们不会再次显示。手机丢失时，每个恢复码可登录一次。',
    'security.download': '下载为文本',
    'security.saved': '我已保存',
    'security.enabled': '两步验证已开启。',
    'security.codes_file': '{name} 的虎符恢复码',
    'security.disable_title': '关闭两步验证',
    'security.disable_hint': '请输入应用中的验证码（或一个恢复码），或者你的密码。',
    'security.disable_code': '验证码或恢复码',
    'security.disable_password': '密码',
    'security.disable': '关闭',
    'security.disabled': '两步验证已关闭。',
    'security.wechat_bound': '此账号已绑定微信；微信登录不需要验证码。',
    'security.wechat_unbound': '未绑定微信账号。',
    'reauth.title': '确认是你本人',
    'reauth.hint': '此项修改需要确认是你本人操作：距上次登录已有一段时间。',
    'reauth.method': '确认方式',
    'reauth.by_password': '密码',
    'reauth.by_totp': '身份验证器',
    'reauth.by_email': '邮箱验证码',
    'reauth.by_sms': '短信验证码',
    'reauth.password': '你的密码',
    'reauth.totp_code': '身份验证器中的验证码，或一个恢复码',
    'reauth.send_email': '向我的邮箱发送验证码',
    'reauth.send_sms': '向我的手机发送验证码',
    'reauth.submit': '确认',
    'reauth.cancel': '取消',
    'reauth.cancelled': '未做任何修改：你没有确认是本人操作。',
  },
});

// ---------------------------------------------------------------------------------------
// Profile

/** The fields of the edit form, in order: `[name, label key, input attributes]`. */
const PROFILE_FIELDS = [
  ['nickname', 'profile.nickname', { autocomplete: 'nickname', maxlength: 64 }],
  ['email', 'profile.email', { type: 'email', autocomplete: 'email' }],
  ['phone', 'profile.phone', { type: 'tel', autocomplete: 'tel' }],
  ['avatar_url', 'profile.avatar_url', { type: 'url', inputmode: 'url', spellcheck: 'false' }],
  ['username', 'profile.username', { autocomplete: 'username', spellcheck: 'false' }],
];

function isHttps(url) {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

/** "Verified"/"Unverified" next to an email or phone, and for an unverified one a "Verify"
 * button (when `onVerify(channel)` is given). */
function verification(user, channel, onVerify) {
  const key = channel === 'email' ? 'email' : 'phone';
  if (!user[key]) return null;
  const verified = user[`${key}_verified`] === true;
  return [
    ' ',
    h(
      'span',
      { class: verified ? 'badge verified' : 'badge unverified', 'data-testid': `${key}-verified`, 'data-verified': String(verified) },
      t(verified ? 'profile.verified' : 'profile.unverified'),
    ),
    !verified && onVerify
      ? [
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              'data-testid': `verify-${key}`,
              'aria-label': t(`profile.verify_${key}`, { target: user[key] }),
              onclick: () => onVerify(channel),
            },
            t('profile.verify'),
          ),
        ]
      : null,
  ];
}

/** The read-only summary of a user; `onVerify(channel)` starts proving an unverified email
 * (`email`) or phone (`sms`). */
function summary(user, onVerify) {
  const name = user.nickname || user.username;
  const row = (label, value, testid, extra) => [h('dt', {}, label), h('dd', {}, h('span', { 'data-testid': testid }, value), extra)];
  return h(
    'div',
    { class: 'profile-summary' },
    user.avatar_url && isHttps(user.avatar_url)
      ? h('img', {
          class: 'avatar',
          src: user.avatar_url,
          alt: t('profile.avatar_alt', { name }),
          width: 72,
          height: 72,
          referrerpolicy: 'no-referrer',
          decoding: 'async',
          // A URL that serves no image: the address is still listed below.
          onerror: (event) => event.currentTarget.remove(),
        })
      : null,
    h(
      'dl',
      {},
      row(t('profile.username'), user.username, 'profile-username'),
      row(t('profile.nickname'), user.nickname || '–', 'profile-nickname'),
      row(t('profile.email'), user.email || '–', 'profile-email', verification(user, 'email', onVerify)),
      row(t('profile.phone'), user.phone || '–', 'profile-phone', verification(user, 'sms', onVerify)),
      row(t('profile.avatar'), user.avatar_url ? h('span', { class: 'mono' }, user.avatar_url) : '–', 'profile-avatar'),
      row(t('profile.roles'), user.roles && user.roles.length ? user.roles.join(', ') : t('profile.no_roles'), 'profile-roles'),
      row(t('profile.mfa'), user.mfa_enabled ? t('profile.on') : t('profile.off'), 'profile-mfa'),
      row(t('profile.wechat'), user.wechat_bound ? t('profile.bound') : t('profile.not_bound'), 'profile-wechat'),
      row(t('profile.created'), when(user.created_at), 'profile-created'),
    ),
  );
}

/** What the edit form changes: only fields that differ from `user`; an emptied field is
 * `null` (the server clears nickname, avatar and an optional phone, and refuses the rest
 * with a `required` error under the field). */
function profileChanges(values, user) {
  const body = {};
  for (const [name] of PROFILE_FIELDS) {
    const next = (values[name] || '').trim();
    const before = user[name] || '';
    if (next === before) continue;
    body[name] = next === '' ? null : next;
  }
  return body;
}

/** Adds a hint under a field's input, read out with it (after its error slot's text). */
function withHint(wrapper, text) {
  const input = wrapper.querySelector('input');
  const hint = h('p', { class: 'muted hint', id: `${input.id}-hint` }, text);
  wrapper.append(hint);
  input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby')} ${hint.id}`);
  return wrapper;
}

/** Under the email or phone field of the edit form: "Send code to the new address/number"
 * (shown once the value differs from the stored one) and the field for that code, shown after
 * a send or when the server asks for it (`HUFU_REQUIRE_VERIFIED`). */
function changeCode(name, ctx, getForm) {
  const channel = name === 'email' ? 'email' : 'sms';
  const codeName = `${name}_code`;
  const button = sendCodeButton(
    { type: 'button', class: 'small', 'data-testid': `${name}-send-change`, hidden: true },
    t(`profile.send_change_${name}`),
  );
  const code = codeField(codeName, t(`profile.${codeName}`));
  code.hidden = true;
  code.querySelector('input').required = false;
  const box = h('div', { class: 'change-code', 'data-testid': `${name}-change` }, button, code);
  button.addEventListener('click', async () => {
    const el = getForm();
    const input = el.elements[name];
    const target = input.value.trim();
    clearErrors(el);
    button.disabled = true;
    try {
      await sendCode(button, () => api.call('POST', '/api/v1/users/codes', { channel, purpose: 'change', target }));
      code.hidden = false;
      code.querySelector('input').focus();
    } catch (error) {
      // The send names its target `target`; here that is the email or phone field.
      const details = (error.details || []).map((d) => (d.field === 'target' ? { ...d, field: name } : d));
      showError(el, { envelope: error.envelope, network: error.network, message: error.message, details: details.length ? details : [{ field: name, message: errorText(error) }] });
      if (!('counting' in button.dataset)) button.disabled = false;
    }
  });
  return {
    box,
    /** Shows the send button only for a new, non-empty value. */
    update(value) {
      const changed = value.trim() !== '' && value.trim() !== (ctx.user[name] || '');
      button.hidden = !changed;
      if (!changed) code.hidden = true;
    },
    /** Shows the code field (the server asked for it). */
    reveal() {
      button.hidden = false;
      code.hidden = false;
    },
    /** After a save: the code is spent. */
    reset() {
      code.querySelector('input').value = '';
      code.hidden = true;
      button.hidden = true;
    },
  };
}

function profile(view, ctx) {
  const verifyArea = h('div', { class: 'verify-area', 'data-testid': 'verify-area' });
  let shown = summary(ctx.user, startVerify);
  const redraw = (user) => {
    const next = summary(user, startVerify);
    shown.replaceWith(next);
    shown = next;
  };

  /** Proves the user's own email (`email`) or phone (`sms`): sends a `verify` code, then a
   * code field; the answer is the user with the identifier verified. */
  async function startVerify(channel) {
    const key = channel === 'email' ? 'email' : 'phone';
    const note = h('p', { class: 'muted', role: 'status', 'data-testid': 'verify-sent' });
    const resend = sendCodeButton({ type: 'button', 'data-testid': 'verify-resend' });
    const panel = form(
      { 'aria-label': t(`profile.verify_title_${key}`), 'data-testid': `verify-${key}-form` },
      [
        h('h2', {}, t(`profile.verify_title_${key}`)),
        note,
        codeField(),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'primary' }, t('profile.verify_submit')),
          resend,
          h('button', { type: 'button', class: 'link', onclick: () => verifyArea.replaceChildren() }, t('profile.verify_cancel')),
        ),
      ],
      async ({ code }) => {
        const updated = await api.call('POST', '/api/v1/users/verify', { channel, code: code.trim() });
        ctx.setUser(updated);
        redraw(updated);
        const done = h('p', { class: 'form-message success', role: 'status', tabindex: '-1' }, t(`profile.verified_${key}`));
        verifyArea.replaceChildren(done);
        done.focus();
      },
    );
    const send = async () => {
      clearErrors(panel);
      resend.disabled = true;
      try {
        const sent = await sendCode(resend, () => api.call('POST', '/api/v1/users/codes', { channel, purpose: 'verify' }));
        note.textContent = t('code.sent_to', { target: ctx.user[key], minutes: Math.max(1, Math.round((sent.expires_in || 300) / 60)) });
      } catch (error) {
        showError(panel, error);
        if (!('counting' in resend.dataset)) resend.disabled = false;
      }
    };
    resend.addEventListener('click', send);
    verifyArea.replaceChildren(panel);
    panel.querySelector('h2').tabIndex = -1;
    await send();
    panel.elements.code.focus();
  }

  let edit;
  const changes = { email: changeCode('email', ctx, () => edit), phone: changeCode('phone', ctx, () => edit) };
  const fieldFor = ([name, label, attrs]) => {
    const wrapper = field(name, t(label), { ...attrs, value: ctx.user[name] || '' });
    if (!changes[name]) return wrapper;
    wrapper.querySelector('input').addEventListener('input', (event) => changes[name].update(event.target.value));
    return [wrapper, changes[name].box];
  };
  edit = form(
    { 'aria-label': t('profile.edit'), 'data-testid': 'profile-form' },
    [
      h('p', { class: 'muted' }, t('profile.edit_hint')),
      h('p', { class: 'muted' }, t('profile.change_hint')),
      ...PROFILE_FIELDS.map(fieldFor),
      h('button', { type: 'submit', class: 'primary' }, t('profile.save')),
    ],
    async (values, el) => {
      const body = profileChanges(values, ctx.user);
      if (Object.keys(body).length === 0) return showSuccess(el, t('profile.unchanged'));
      // A code travels with the new value it was sent to (and proves it).
      for (const name of ['email', 'phone']) {
        const code = (values[`${name}_code`] || '').trim();
        if (typeof body[name] === 'string' && code !== '') body[`${name}_code`] = code;
      }
      let updated;
      try {
        updated = await api.call('PUT', '/api/v1/users/profile', body);
      } catch (error) {
        // HUFU_REQUIRE_VERIFIED: the server asks for the code; show its field for the error.
        for (const detail of error.details || []) {
          if (detail.field === 'email_code') changes.email.reveal();
          if (detail.field === 'phone_code') changes.phone.reveal();
        }
        throw error;
      }
      ctx.setUser(updated);
      // Show the stored forms (a phone normalised, text trimmed).
      for (const [name] of PROFILE_FIELDS) el.elements[name].value = updated[name] || '';
      changes.email.reset();
      changes.phone.reset();
      redraw(updated);
      showSuccess(el, t('profile.saved'));
    },
  );

  const password = form(
    { 'aria-label': t('password.title'), 'data-testid': 'password-form' },
    [
      withHint(field('old_password', t('password.old'), { type: 'password', autocomplete: 'current-password' }), t('password.old_hint')),
      field('new_password', t('password.new'), { type: 'password', autocomplete: 'new-password', required: true }),
      field('confirm_password', t('password.confirm'), { type: 'password', autocomplete: 'new-password', required: true }),
      h('button', { type: 'submit', class: 'primary' }, t('password.submit')),
    ],
    async ({ old_password, new_password, confirm_password }, el) => {
      if (new_password !== confirm_password) {
        const text = t('password.mismatch');
        throw { message: text, details: [{ field: 'confirm_password', message: text }] };
      }
      const body = { new_password };
      // A WeChat-only account sets its first password without an old one.
      if (old_password !== '') body.old_password = old_password;
      await api.call('PUT', '/api/v1/users/password', body);
      el.reset();
      showSuccess(el, t('password.done'));
    },
  );

  view.append(
    h('h1', {}, t('profile.title')),
    shown,
    verifyArea,
    h('h2', {}, t('profile.edit')),
    edit,
    h('h2', {}, t('password.title')),
    password,
  );
}

// ---------------------------------------------------------------------------------------
// Sessions

async function sessions(view, ctx) {
  // tabindex so focus can land here after a revoke (the clicked button is gone by then).
  const message = h('div', { class: 'form-message', role: 'alert', tabindex: '-1' });
  const holder = h('div', { class: 'table-wrap' });
  view.append(h('h1', {}, t('sessions.heading')), h('p', { class: 'muted' }, t('sessions.hint')), message, holder);

  async function load() {
    const list = await api.call('GET', '/api/v1/users/sessions');
    holder.replaceChildren(list.length ? table(list) : h('p', {}, t('sessions.none')));
  }

  function table(list) {
    const currentId = api.currentSessionId();
    const headers = ['sessions.device', 'sessions.ip', 'sessions.created', 'sessions.last_used', 'sessions.action'];
    return h(
      'table',
      { class: 'stack', 'data-testid': 'sessions' },
      h('thead', {}, h('tr', {}, headers.map((key) => h('th', { scope: 'col' }, t(key))))),
      h(
        'tbody',
        {},
        list.map((s) => {
          const current = s.current === true || (s.current === undefined && String(s.id) === String(currentId));
          const device = deviceName(s.user_agent) || t('sessions.unknown');
          const cell = (key, ...content) => h('td', { 'data-label': t(key) }, ...content);
          return h(
            'tr',
            { 'data-session-id': s.id, class: current ? 'current' : null },
            cell(
              'sessions.device',
              h('span', { title: s.user_agent || null }, device),
              current ? [' ', h('span', { class: 'badge this' }, t('sessions.this'))] : null,
            ),
            cell('sessions.ip', h('span', { class: 'mono ip' }, s.ip || '–')),
            cell('sessions.created', when(s.created_at)),
            cell('sessions.last_used', when(s.last_used_at)),
            cell(
              'sessions.action',
              current
                ? h('span', { class: 'muted' }, t('sessions.this_hint'))
                : h(
                    'button',
                    {
                      type: 'button',
                      class: 'danger',
                      'aria-label': t('sessions.revoke_label', { device, ip: s.ip || '–' }),
                      onclick: (event) => revoke(event.currentTarget, s.id),
                    },
                    t('sessions.revoke'),
                  ),
            ),
          );
        }),
      ),
    );
  }

  async function revoke(button, id) {
    button.disabled = true;
    message.textContent = '';
    message.className = 'form-message';
    try {
      await api.call('DELETE', `/api/v1/users/sessions/${encodeURIComponent(id)}`);
      message.textContent = t('sessions.revoked');
      message.className = 'form-message success';
    } catch (error) {
      // A 404 means it was already gone: the reload below shows that.
      message.textContent = errorText(error);
      message.className = 'form-message error';
    }
    try {
      await load();
    } catch (error) {
      message.textContent = errorText(error);
      message.className = 'form-message error';
    }
    message.focus();
  }

  await load();
}

// ---------------------------------------------------------------------------------------
// Second factor

/** The QR code of `text` as an SVG built node by node (one path of unit squares). */
export function qrSvg(text, label) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const quiet = 4; // the quiet zone the standard asks for, in modules
  const size = count + quiet * 2;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('width', '224');
  svg.setAttribute('height', '224');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('class', 'qr');
  const background = document.createElementNS(NS, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  svg.append(background);
  let d = '';
  let dark = 0;
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (!qr.isDark(row, col)) continue;
      dark += 1;
      d += `M${col + quiet} ${row + quiet}h1v1h-1z`;
    }
  }
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(path);
  svg.dataset.modules = String(count);
  svg.dataset.dark = String(dark);
  return svg;
}

/** `ABCDEFGH…` as `ABCD EFGH …`, easier to type from. */
function groups(secret) {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

function security(view, ctx) {
  const user = ctx.user;
  view.append(h('h1', {}, t('security.title')));
  if (user.mfa_enabled) disableScreen(view, ctx);
  else setupStart(view, ctx);
  view.append(
    h('h2', {}, t('profile.wechat')),
    h('p', { 'data-testid': 'wechat-state' }, user.wechat_bound ? t('security.wechat_bound') : t('security.wechat_unbound')),
  );
}

function setupStart(view, ctx) {
  const area = h('div', { 'data-testid': 'mfa-setup' });
  const start = form(
    { 'aria-label': t('security.setup') },
    [h('p', {}, t('security.off')), h('button', { type: 'submit', class: 'primary' }, t('security.setup'))],
    async () => {
      const setup = await api.call('POST', '/api/v1/users/mfa/totp/setup');
      area.replaceChildren(...setupSteps(setup, ctx, area));
      const heading = area.querySelector('h2');
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
    },
  );
  area.append(start);
  view.append(area);
}

function setupSteps(setup, ctx, area) {
  const copyStatus = h('span', { class: 'muted', role: 'status' });
  const canCopy = !!(navigator.clipboard && navigator.clipboard.writeText);
  const verify = form(
    { 'aria-label': t('security.verify') },
    [
      field('code', t('security.code'), {
        autocomplete: 'one-time-code',
        inputmode: 'numeric',
        required: true,
        spellcheck: 'false',
        maxlength: 8,
      }),
      h('button', { type: 'submit', class: 'primary' }, t('security.enable')),
    ],
    async ({ code }) => {
      const data = await api.call('POST', '/api/v1/users/mfa/totp/enable', { code: code.replace(/\s+/g, '') });
      // The profile now says mfa_enabled; a failure here only delays that until the next check.
      const refreshed = ctx.refreshUser().catch(() => {});
      area.replaceChildren(...recoveryCodes(data.recovery_codes, ctx, refreshed));
      const heading = area.querySelector('h2');
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
      }
    },
  );
  return [
    h('h2', {}, t('security.scan')),
    h('div', { class: 'qr-wrap' }, qrSvg(setup.otpauth_uri, t('security.qr_label'))),
    h('p', {}, t('security.key_hint')),
    h(
      'p',
      { class: 'secret' },
      h('code', { 'data-testid': 'totp-secret', 'data-secret': setup.secret }, groups(setup.secret)),
      canCopy
        ? [
            ' ',
            h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  try {
                    await navigator.clipboard.writeText(setup.secret);
                    copyStatus.textContent = t('security.copied');
                  } catch {
                    copyStatus.textContent = t('security.copy_failed');
                  }
                },
              },
              t('security.copy'),
            ),
            ' ',
            copyStatus,
          ]
        : null,
    ),
    h('h2', {}, t('security.verify')),
    verify,
  ];
}

function recoveryCodes(codes, ctx, refreshed) {
  const name = ctx.user ? ctx.user.username : '';
  const download = () => {
    const text = `${t('security.codes_file', { name })}\n\n${codes.join('\n')}\n`;
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    const link = h('a', { href: url, download: `hufu-recovery-codes-${name || 'account'}.txt`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return [
    h('h2', {}, t('security.codes_title')),
    h('p', { class: 'form-message success', role: 'status' }, t('security.enabled')),
    h('p', { class: 'warning' }, h('strong', {}, t('security.codes_warning'))),
    h('ol', { class: 'codes', 'data-testid': 'recovery-codes' }, codes.map((code) => h('li', {}, h('code', {}, code)))),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', onclick: download }, t('security.download')),
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: async () => {
            await refreshed;
            ctx.navigate('#/profile', t('security.enabled'), 'success');
          },
        },
        t('security.saved'),
      ),
    ),
  ];
}

function disableScreen(view, ctx) {
  view.append(
    h('p', { 'data-testid': 'mfa-state' }, t('security.on')),
    h('h2', {}, t('security.disable_title')),
    form(
      { 'aria-label': t('security.disable_title') },
      [
        h('p', { class: 'muted' }, t('security.disable_hint')),
        field('code', t('security.disable_code'), { autocomplete: 'one-time-code', spellcheck: 'false' }),
        field('password', t('security.disable_password'), { type: 'password', autocomplete: 'current-password' }),
        h('button', { type: 'submit', class: 'danger' }, t('security.disable')),
      ],
      async ({ code, password }) => {
        const body = code.trim() !== '' ? { code: code.trim() } : { password };
        await api.call('POST', '/api/v1/users/mfa/totp/disable', body);
        await ctx.refreshUser();
        ctx.navigate('#/security', t('security.disabled'), 'success');
      },
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Step-up: "Confirm it's you"

// Closes the prompt on screen (with the error its caller gets), or null.
let closePrompt = null;
// What last took the focus: the button that submitted a form loses it when the form disables
// its buttons for the call, before the prompt opens; it is where the focus goes back.
let lastFocused = null;
document.addEventListener('focusin', (event) => (lastFocused = event.target));

// A session ended while the prompt was open (another tab signed out, it was revoked): the
// prompt goes with it, and the change it guarded fails with the reason.
api.onSessionEnded((reason) => {
  if (closePrompt) closePrompt(reason);
});

/** The step-up prompt api.js opens when a change answers `REAUTH_REQUIRED`: a modal dialog
 * asking for the password, or (when `user` has them) a TOTP/recovery code or a `reauth` code
 * sent to the verified email or phone; it calls `api.reauth` (which keeps the new tokens).
 * Resolves once proved; rejects when cancelled (Cancel, Escape) with an error whose text
 * says nothing was changed, for the form that asked to show. */
export function confirmIdentity(user) {
  return new Promise((resolve, reject) => {
    const methods = [['password', t('reauth.by_password')]];
    if (user && user.mfa_enabled) methods.push(['totp', t('reauth.by_totp')]);
    if (user && user.email && user.email_verified) methods.push(['email', t('reauth.by_email')]);
    if (user && user.phone && user.phone_verified) methods.push(['sms', t('reauth.by_sms')]);
    let method = 'password';
    const returnTo = document.activeElement && document.activeElement !== document.body ? document.activeElement : lastFocused;
    let el;

    const panels = {
      password: field('password', t('reauth.password'), { type: 'password', autocomplete: 'current-password', required: true }),
    };
    if (user && user.mfa_enabled) {
      panels.totp = field('totp_code', t('reauth.totp_code'), { autocomplete: 'one-time-code', spellcheck: 'false', required: true });
    }
    for (const channel of ['email', 'sms']) {
      if (!methods.some(([m]) => m === channel)) continue;
      const key = channel === 'email' ? 'email' : 'phone';
      const button = sendCodeButton({ type: 'button', class: 'small', 'data-testid': `reauth-send-${channel}` }, t(`reauth.send_${channel}`));
      const note = h('p', { class: 'code-sent', role: 'status' });
      const code = codeField(`${channel}_code`);
      button.addEventListener('click', async () => {
        clearErrors(el);
        button.disabled = true;
        try {
          const sent = await sendCode(button, () => api.call('POST', '/api/v1/users/codes', { channel, purpose: 'reauth' }));
          note.textContent = t('code.sent_to', { target: user[key], minutes: Math.max(1, Math.round((sent.expires_in || 300) / 60)) });
          code.querySelector('input').focus();
        } catch (error) {
          showError(el, error);
          if (!('counting' in button.dataset)) button.disabled = false;
        }
      });
      panels[channel] = h('div', { class: 'reauth-code' }, button, note, code);
    }
    const choose = (next) => {
      method = next;
      for (const [name, panel] of Object.entries(panels)) panel.hidden = name !== method;
      clearErrors(el);
    };

    el = form(
      { 'aria-label': t('reauth.title'), 'data-testid': 'reauth-form' },
      [
        methods.length > 1 ? choiceField('method', t('reauth.method'), methods, method, choose) : null,
        ...Object.values(panels),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'primary' }, t('reauth.submit')),
          h('button', { type: 'button', onclick: () => close(cancelled()) }, t('reauth.cancel')),
        ),
      ],
      async (values) => {
        const name = method === 'password' ? 'password' : method === 'totp' ? 'totp_code' : `${method}_code`;
        const proof =
          method === 'password'
            ? { password: values.password }
            : method === 'totp'
              ? { code: values.totp_code.replace(/\s+/g, '') }
              : { channel: method, code: values[name].trim() };
        try {
          await api.reauth(proof);
        } catch (error) {
          if (!api.hasSession()) return close(error);
          // Under this prompt's own field for what the server names (`password` or `code`).
          const input = el.elements[name];
          input.select();
          input.focus();
          const details = (error.details || []).map((d) => (d.field === 'password' || d.field === 'code' ? { ...d, field: name } : d));
          throw { envelope: error.envelope, network: error.network, message: error.message, details };
        }
        close(null);
      },
    );
    choose(method);

    const titleId = `reauth-title-${Date.now()}`;
    const dialog = h(
      'dialog',
      { class: 'reauth', 'aria-labelledby': titleId, 'aria-describedby': `${titleId}-hint`, 'data-testid': 'reauth' },
      h('h2', { id: titleId }, t('reauth.title')),
      h('p', { class: 'muted', id: `${titleId}-hint` }, t('reauth.hint')),
      el,
    );
    let outcome = cancelled();
    function close(result) {
      outcome = result;
      if (dialog.open) dialog.close();
    }
    // Escape closes the dialog too (a `cancel`, then this `close`): the change stays undone.
    dialog.addEventListener('close', () => {
      closePrompt = null;
      dialog.remove();
      restoreFocus(returnTo);
      if (outcome) reject(outcome);
      else resolve();
    });
    closePrompt = close;
    document.body.append(dialog);
    dialog.showModal();
    el.elements.password.focus();
  });
}

/** Gives the focus back to what had it before the prompt (the form's submit button). That
 * form keeps its buttons disabled until the retried call ends, and a disabled button cannot
 * take the focus: then it gets it as soon as it is enabled, unless the user moved on. */
function restoreFocus(el) {
  if (!el || !el.isConnected || typeof el.focus !== 'function') return;
  if (!el.disabled) return el.focus();
  const watch = new MutationObserver(() => {
    if (el.disabled) return;
    watch.disconnect();
    const current = document.activeElement;
    if (el.isConnected && (!current || current === document.body)) el.focus();
  });
  watch.observe(el, { attributes: true, attributeFilter: ['disabled'] });
}

/** The error of a cancelled prompt: the form that asked shows its text. */
function cancelled() {
  return { code: 'REAUTH_CANCELLED', message: t('reauth.cancelled'), details: [] };
}

export const routes = [
  { path: '#/profile', label: 'profile.title', render: profile },
  { path: '#/sessions', label: 'sessions.title', render: sessions },
  { path: '#/security', label: 'security.title', render: security },
];
