// i18n.js — the page's own words in English and Chinese. The language is the browser's first
// preference (Chinese for any `zh*`, else English); the same choice goes to the server as
// Accept-Language, so the envelope's `error` texts match the page. Each screen module adds
// its own strings with `addStrings`, so no module edits another's table.

const strings = { en: {}, zh: {} };

function preferred() {
  const languages = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  return String(languages[0] || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** `zh` or `en`. */
export const lang = preferred();

/** Adds a module's strings: `{en: {key: text}, zh: {key: text}}`. */
export function addStrings(table) {
  for (const language of ['en', 'zh']) Object.assign(strings[language], table[language] || {});
}

/** The text for `key` in the page's language; `{name}` placeholders are filled from `vars`.
 * Falls back to English, then to `fallback`, then to the key itself. */
export function t(key, fallbackOrVars, maybeVars) {
  const fallback = typeof fallbackOrVars === 'string' ? fallbackOrVars : undefined;
  const vars = typeof fallbackOrVars === 'object' ? fallbackOrVars : maybeVars;
  let text = strings[lang][key] ?? strings.en[key] ?? fallback ?? key;
  if (vars) text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  return text;
}

addStrings({
  en: {
    'app.name': 'hufu',
    'app.tagline': 'Your account',
    'nav.main': 'Main',
    'nav.signout': 'Sign out',
    'nav.signout_all': 'Sign out everywhere',
    'nav.skip': 'Skip to content',
    'error.network': 'The service cannot be reached. Check your connection and try again.',
    'error.unknown': 'Something went wrong.',
    'error.session_ended': 'Your session has ended. Please sign in again.',
    'signin.title': 'Sign in',
    'signin.identifier': 'Username, email or phone',
    'signin.password': 'Password',
    'signin.submit': 'Sign in',
    'signin.no_account': 'No account yet?',
    'signin.to_register': 'Register',
    'register.title': 'Register',
    'register.username': 'Username',
    'register.email': 'Email',
    'register.phone': 'Phone',
    'register.password': 'Password',
    'register.submit': 'Create account',
    'register.have_account': 'Already registered?',
    'register.to_signin': 'Sign in',
    'register.done': 'Account created. Sign in with your new password.',
    'mfa.title': 'Two-step verification',
    'mfa.hint': 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.',
    'mfa.code': 'Code',
    'mfa.submit': 'Verify',
    'mfa.back': 'Back to sign in',
    'signout.done': 'You have signed out.',
    'signout.all_done': 'You have signed out on every device.',
    'loading': 'Loading…',
    'code.send': 'Send code',
    'code.send_again': 'Send again',
    'code.send_again_in': 'Send again in {seconds} s',
    'code.code': '6-digit code',
    'code.channel': 'Send the code by',
    'code.by_email': 'Email',
    'code.by_phone': 'Phone (SMS)',
    'code.email': 'Email',
    'code.phone': 'Phone number',
    'code.sent_to': 'A code is on its way to {target}. It is valid for {minutes} min.',
  },
  zh: {
    'app.name': '虎符',
    'app.tagline': '我的账号',
    'nav.main': '主导航',
    'nav.signout': '退出登录',
    'nav.signout_all': '退出所有设备',
    'nav.skip': '跳到正文',
    'error.network': '无法连接服务，请检查网络后重试。',
    'error.unknown': '出错了。',
    'error.session_ended': '登录已失效，请重新登录。',
    'signin.title': '登录',
    'signin.identifier': '用户名、邮箱或手机号',
    'signin.password': '密码',
    'signin.submit': '登录',
    'signin.no_account': '还没有账号？',
    'signin.to_register': '注册',
    'register.title': '注册',
    'register.username': '用户名',
    'register.email': '邮箱',
    'register.phone': '手机号',
    'register.password': '密码',
    'register.submit': '创建账号',
    'register.have_account': '已有账号？',
    'register.to_signin': '登录',
    'register.done': '注册成功，请用新密码登录。',
    'mfa.title': '两步验证',
    'mfa.hint': '请输入身份验证器中的 6 位验证码，或一个恢复码。',
    'mfa.code': '验证码',
    'mfa.submit': '验证',
    'mfa.back': '返回登录',
    'signout.done': '已退出登录。',
    'signout.all_done': '已在所有设备上退出登录。',
    'loading': '加载中…',
    'code.send': '发送验证码',
    'code.send_again': '重新发送',
    'code.send_again_in': '{seconds} 秒后可重新发送',
    'code.code': '6 位验证码',
    'code.channel': '验证码发送方式',
    'code.by_email': '邮箱',
    'code.by_phone': '手机短信',
    'code.email': '邮箱',
    'code.phone': '手机号',
    'code.sent_to': '验证码已发送至 {target}，{minutes} 分钟内有效。',
  },
});
