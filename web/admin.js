// admin.js — the administrators' screens: the user list with search and paging, one user's
// detail with its actions (disable/enable, roles, sign out everywhere), and the audit log.
// Every route here is `admin: true`, so the shell shows them only to users whose current
// roles include `admin`; the server checks the same on every call (403 otherwise), and any
// error it answers is shown from the envelope.
//
// The lists keep their filters and page in the hash's query (`#/admin/users?q=bob&page=2`),
// so a reload, a bookmark or the back button brings the same list back. A search or a page
// change pushes the new hash without redrawing the screen (focus stays where it was); back
// and forward redraw it from the hash through the shell's router.

import * as api from './api.js';
import { h, field, selectField, form, showError, showSuccess, clearErrors, when } from './dom.js';
import { t, addStrings } from './i18n.js';
import { deviceName } from './device.js';
// The audit events of the contract (section 4), in its order; each has a human name below.
// The server makes this module from its own event list (src/http/routes/web.rs), so it is
// loaded with the page and the audit screen needs no extra request to draw its filter.
import { EVENTS } from './events.js';

// Roles offered as checkboxes even when the user has neither: the one hufu knows (`admin`)
// and the default one. Any other role the user has is listed too.
const KNOWN_ROLES = ['user', 'admin'];
const PER_PAGE_CHOICES = ['10', '20', '50', '100'];
// The server's default page size (docs/admin.md, docs/audit.md), shown when the hash has none.
const DEFAULT_PER_PAGE = '20';

addStrings({
  en: {
    'admin.users.title': 'Users',
    'admin.users.search': 'Search users',
    'admin.users.q': 'Username, email or phone contains',
    'admin.users.status': 'Status',
    'admin.users.status_any': 'Any',
    'admin.users.per_page': 'Per page',
    'admin.users.submit': 'Search',
    'admin.users.empty': 'No users match.',
    'admin.users.count': 'Page {page} of {pages} ({total} users)',
    'admin.users.count_one': 'Page {page} of {pages} (1 user)',
    'admin.users.table': 'Users',
    'admin.col.id': 'ID',
    'admin.col.username': 'Username',
    'admin.col.email': 'Email',
    'admin.col.phone': 'Phone',
    'admin.col.status': 'Status',
    'admin.col.roles': 'Roles',
    'admin.col.created': 'Created',
    'admin.status.1': 'Active',
    'admin.status.0': 'Disabled',
    'admin.pager': 'Pages',
    'admin.pager.prev': 'Previous',
    'admin.pager.next': 'Next',
    'admin.user.title': 'User',
    'admin.user.back': 'Back to users',
    'admin.user.nickname': 'Nickname',
    'admin.user.mfa': 'Two-step verification',
    'admin.user.wechat': 'WeChat',
    'admin.user.updated': 'Updated',
    'admin.user.yes': 'On',
    'admin.user.no': 'Off',
    'admin.user.wechat_yes': 'Bound',
    'admin.user.wechat_no': 'Not bound',
    'admin.user.you': 'you',
    'admin.user.audit': 'Audit entries for this user',
    'admin.account.title': 'Account status',
    'admin.account.disable': 'Disable account',
    'admin.account.disable_warn': 'Disabling {username} signs them out on every device at once, and they cannot sign in until an administrator enables the account again.',
    'admin.account.confirm_disable': 'Confirm disable',
    'admin.account.enable': 'Enable account',
    'admin.account.disabled_done': 'Account disabled; every session of {username} was signed out.',
    'admin.account.enabled_done': 'Account enabled; {username} can sign in again.',
    'admin.cancel': 'Cancel',
    'admin.roles.title': 'Roles',
    'admin.roles.legend': 'Roles of {username}',
    'admin.roles.new': 'Add a role',
    'admin.roles.add': 'Add',
    'admin.roles.hint': 'Role names: 1–32 of a–z, 0–9, _ and -. The admin role opens these screens.',
    'admin.roles.save': 'Save roles',
    'admin.roles.done': 'Roles saved.',
    'admin.roles.unchanged': 'Nothing to change.',
    'admin.sessions.title': 'Sessions',
    'admin.sessions.hint': 'Signs {username} out on every device. The account stays enabled; they can sign in again.',
    'admin.sessions.revoke': 'Sign out all sessions',
    'admin.sessions.confirm': 'Confirm sign-out',
    'admin.sessions.done': 'Sessions signed out: {count}.',
    'admin.audit.title': 'Audit log',
    'admin.audit.filter': 'Filter the audit log',
    'admin.audit.user_id': 'User ID',
    'admin.audit.event': 'Event',
    'admin.audit.event_any': 'Any event',
    'admin.audit.submit': 'Filter',
    'admin.audit.empty': 'No entries match.',
    'admin.audit.count': 'Page {page} of {pages} ({total} entries)',
    'admin.audit.count_one': 'Page {page} of {pages} (1 entry)',
    'admin.audit.table': 'Audit entries',
    'admin.col.at': 'Time',
    'admin.col.event': 'Event',
    'admin.col.user': 'User',
    'admin.col.actor': 'Actor',
    'admin.col.ip': 'IP',
    'admin.col.device': 'Device',
    'admin.col.detail': 'Detail',
    'event.register': 'Registered',
    'event.login': 'Signed in',
    'event.login_failed': 'Sign-in refused',
    'event.locked': 'Sign-in locked',
    'event.logout': 'Signed out',
    'event.refresh': 'Session renewed',
    'event.refresh_reuse': 'Refresh token reused',
    'event.password_changed': 'Password changed',
    'event.mfa_enabled': 'Two-step verification on',
    'event.mfa_disabled': 'Two-step verification off',
    'event.wechat_login': 'Signed in with WeChat',
    'event.wechat_bound': 'WeChat bound',
    'event.wechat_unbound': 'WeChat unbound',
    'event.profile_updated': 'Profile updated',
    'event.admin_update': 'Changed by an administrator',
    'event.sessions_revoked': 'Sessions signed out',
    'event.code_login': 'Signed in with a code',
    'event.password_reset': 'Password reset with a code',
    'event.identifier_verified': 'Email or phone verified',
    'event.identifier_reclaimed': 'Email or phone moved to the account that proved it',
    'event.reauth': 'Identity confirmed again',
  },
  zh: {
    'admin.users.title': '用户管理',
    'admin.users.search': '搜索用户',
    'admin.users.q': '用户名、邮箱或手机号包含',
    'admin.users.status': '状态',
    'admin.users.status_any': '全部',
    'admin.users.per_page': '每页',
    'admin.users.submit': '搜索',
    'admin.users.empty': '没有匹配的用户。',
    'admin.users.count': '第 {page} / {pages} 页（共 {total} 个用户）',
    'admin.users.count_one': '第 {page} / {pages} 页（共 1 个用户）',
    'admin.users.table': '用户',
    'admin.col.id': 'ID',
    'admin.col.username': '用户名',
    'admin.col.email': '邮箱',
    'admin.col.phone': '手机号',
    'admin.col.status': '状态',
    'admin.col.roles': '角色',
    'admin.col.created': '注册时间',
    'admin.status.1': '正常',
    'admin.status.0': '已禁用',
    'admin.pager': '分页',
    'admin.pager.prev': '上一页',
    'admin.pager.next': '下一页',
    'admin.user.title': '用户详情',
    'admin.user.back': '返回用户列表',
    'admin.user.nickname': '昵称',
    'admin.user.mfa': '两步验证',
    'admin.user.wechat': '微信',
    'admin.user.updated': '更新时间',
    'admin.user.yes': '已开启',
    'admin.user.no': '未开启',
    'admin.user.wechat_yes': '已绑定',
    'admin.user.wechat_no': '未绑定',
    'admin.user.you': '本人',
    'admin.user.audit': '查看该用户的审计日志',
    'admin.account.title': '账号状态',
    'admin.account.disable': '禁用账号',
    'admin.account.disable_warn': '禁用后 {username} 会立即在所有设备上退出登录，在管理员重新启用之前无法登录。',
    'admin.account.confirm_disable': '确认禁用',
    'admin.account.enable': '启用账号',
    'admin.account.disabled_done': '账号已禁用，{username} 的所有会话均已退出。',
    'admin.account.enabled_done': '账号已启用，{username} 可以重新登录。',
    'admin.cancel': '取消',
    'admin.roles.title': '角色',
    'admin.roles.legend': '{username} 的角色',
    'admin.roles.new': '添加角色',
    'admin.roles.add': '添加',
    'admin.roles.hint': '角色名：1–32 个小写字母、数字、_ 或 -。admin 角色可使用这些管理页面。',
    'admin.roles.save': '保存角色',
    'admin.roles.done': '角色已保存。',
    'admin.roles.unchanged': '没有需要修改的内容。',
    'admin.sessions.title': '会话',
    'admin.sessions.hint': '让 {username} 在所有设备上退出登录。账号仍然可用，可以重新登录。',
    'admin.sessions.revoke': '退出所有会话',
    'admin.sessions.confirm': '确认退出',
    'admin.sessions.done': '已退出 {count} 个会话。',
    'admin.audit.title': '审计日志',
    'admin.audit.filter': '筛选审计日志',
    'admin.audit.user_id': '用户 ID',
    'admin.audit.event': '事件',
    'admin.audit.event_any': '全部事件',
    'admin.audit.submit': '筛选',
    'admin.audit.empty': '没有匹配的记录。',
    'admin.audit.count': '第 {page} / {pages} 页（共 {total} 条）',
    'admin.audit.count_one': '第 {page} / {pages} 页（共 1 条）',
    'admin.audit.table': '审计记录',
    'admin.col.at': '时间',
    'admin.col.event': '事件',
    'admin.col.user': '用户',
    'admin.col.actor': '操作人',
    'admin.col.ip': 'IP',
    'admin.col.device': '设备',
    'admin.col.detail': '详情',
    'event.register': '注册',
    'event.login': '登录',
    'event.login_failed': '登录失败',
    'event.locked': '登录被锁定',
    'event.logout': '退出登录',
    'event.refresh': '续期会话',
    'event.refresh_reuse': '刷新令牌被重复使用',
    'event.password_changed': '修改密码',
    'event.mfa_enabled': '开启两步验证',
    'event.mfa_disabled': '关闭两步验证',
    'event.wechat_login': '微信登录',
    'event.wechat_bound': '绑定微信',
    'event.wechat_unbound': '解绑微信',
    'event.profile_updated': '修改资料',
    'event.admin_update': '管理员修改',
    'event.sessions_revoked': '退出会话',
    'event.code_login': '验证码登录',
    'event.password_reset': '验证码重置密码',
    'event.identifier_verified': '验证邮箱或手机号',
    'event.identifier_reclaimed': '邮箱或手机号转移至验证者账户',
    'event.reauth': '再次验证身份',
  },
});

// The last users list shown (with its query), so "Back to users" returns to the same page.
let lastUsersHash = '#/admin/users';

/** The query part of the current hash (`#/admin/users?q=bob` → `q=bob`) as parameters. */
function hashParams() {
  const hash = location.hash;
  const at = hash.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : hash.slice(at + 1));
}

/** `path?k=v…` with the non-empty values of `state`, for the hash and for the API alike. */
function withQuery(path, state) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value !== undefined && value !== null && String(value) !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** The page-size choices, plus the current value when a hand-edited hash has another one
 * (the server then judges it: over 100 is its 400, shown under the field). */
function perPageField(value) {
  const choices = PER_PAGE_CHOICES.includes(value) ? PER_PAGE_CHOICES : [...PER_PAGE_CHOICES, value];
  return selectField('per_page', t('admin.users.per_page'), choices.map((n) => [n, n]), value);
}

function statusBadge(status) {
  return h('span', { class: status === 1 ? 'badge ok' : 'badge off' }, t(`admin.status.${status === 1 ? 1 : 0}`));
}

function roleBadges(roles) {
  return (roles || []).map((role) => h('span', { class: 'badge role' }, role));
}

function userLink(id, text) {
  return h('a', { href: `#/admin/user?id=${encodeURIComponent(id)}` }, text ?? String(id));
}

/** A filtered, paged list whose state lives in the hash. `filters(state)` gives the form's
 * fields (named like the API's parameters); `columns` are `[labelKey, item => cell]`. */
async function listScreen(view, { title, path, endpoint, names, formLabel, submitLabel, filters, columns, tableLabel, emptyKey, countKey, onShown }) {
  const initial = hashParams();
  let state = {};
  for (const name of names) state[name] = initial.get(name) ?? '';
  state.page = initial.get('page') ?? '';
  state.per_page = initial.get('per_page') ?? '';

  const filterForm = form(
    { role: 'search', 'aria-label': formLabel, class: 'filters' },
    [...filters(state), perPageField(state.per_page || DEFAULT_PER_PAGE), h('div', { class: 'filters-submit' }, h('button', { type: 'submit', class: 'primary' }, submitLabel))],
    async (values) => {
      state = {};
      for (const name of names) state[name] = values[name].trim();
      state.page = ''; // a new search starts at its first page
      state.per_page = values.per_page === DEFAULT_PER_PAGE ? '' : values.per_page;
      history.pushState(null, '', withQuery(path, state));
      await load();
    },
  );
  // The summary (a status region) announces each new page; the table itself is not live,
  // or a screen reader would read out every row.
  const results = h('div', { class: 'table-wrap' });
  const summary = h('span', { class: 'pager-summary', role: 'status' });
  const prev = h('button', { type: 'button', onclick: () => go(-1) }, t('admin.pager.prev'));
  const next = h('button', { type: 'button', onclick: () => go(1) }, t('admin.pager.next'));
  const pager = h('nav', { class: 'pager', 'aria-label': t('admin.pager') }, prev, summary, next);
  let shown = null; // the last page answered: {page, pages}
  let busy = false;

  // Tables of many columns get a wider page than the one-column forms (see style.css).
  view.classList.add('wide');
  view.append(h('h1', {}, title), filterForm, results, pager);

  async function go(step) {
    if (busy || !shown) return;
    const target = shown.page + step;
    if (target < 1 || target > shown.pages) return;
    state = { ...state, page: target === 1 ? '' : String(target) };
    history.pushState(null, '', withQuery(path, state));
    await load();
    // Keep the keyboard where it was; a button that became disabled hands focus to the other.
    const clicked = step < 0 ? prev : next;
    if (clicked.disabled) (clicked === prev ? next : prev).focus();
  }

  async function load() {
    busy = true;
    results.setAttribute('aria-busy', 'true');
    clearErrors(filterForm);
    try {
      const data = await api.call('GET', withQuery(endpoint, state));
      const pages = Math.max(1, Math.ceil(data.total / data.per_page));
      shown = { page: data.page, pages };
      results.replaceChildren(
        data.items.length === 0
          ? h('p', { class: 'muted' }, t(emptyKey))
          : h(
            'table',
            { class: 'stack', 'aria-label': tableLabel },
            h('thead', {}, h('tr', {}, columns.map(([key]) => h('th', { scope: 'col' }, t(key))))),
            h('tbody', {}, data.items.map((item) => h('tr', {}, columns.map(([key, cell]) => h('td', { 'data-label': t(key) }, cell(item)))))),
          ),
      );
      summary.textContent = t(data.total === 1 ? `${countKey}_one` : countKey, { page: data.page, pages, total: data.total });
      prev.disabled = data.page <= 1;
      next.disabled = data.page >= pages;
      pager.hidden = false;
      if (onShown) onShown();
    } catch (error) {
      // A bad parameter (e.g. per_page over 100 in a hand-edited hash) is named by the
      // server; its text goes under that field, the envelope's error above the button.
      shown = null;
      results.replaceChildren();
      pager.hidden = true;
      showError(filterForm, error);
    } finally {
      busy = false;
      results.removeAttribute('aria-busy');
    }
  }

  await load();
}

async function usersScreen(view) {
  await listScreen(view, {
    title: t('admin.users.title'),
    path: '#/admin/users',
    endpoint: '/api/v1/admin/users',
    names: ['q', 'status'],
    formLabel: t('admin.users.search'),
    submitLabel: t('admin.users.submit'),
    filters: (state) => [
      field('q', t('admin.users.q'), { type: 'search', value: state.q, autocomplete: 'off', spellcheck: 'false' }),
      selectField('status', t('admin.users.status'), [
        ['', t('admin.users.status_any')],
        ['1', t('admin.status.1')],
        ['0', t('admin.status.0')],
      ], state.status),
    ],
    columns: [
      ['admin.col.id', (u) => h('span', { class: 'mono nowrap' }, String(u.id))],
      ['admin.col.username', (u) => userLink(u.id, u.username)],
      ['admin.col.email', (u) => u.email || '–'],
      ['admin.col.phone', (u) => u.phone || '–'],
      ['admin.col.status', (u) => statusBadge(u.status)],
      ['admin.col.roles', (u) => h('span', { class: 'badges' }, roleBadges(u.roles))],
      ['admin.col.created', (u) => when(u.created_at)],
    ],
    tableLabel: t('admin.users.table'),
    emptyKey: 'admin.users.empty',
    countKey: 'admin.users.count',
    onShown: () => (lastUsersHash = location.hash),
  });
}

async function auditScreen(view) {
  const eventName = (code) => t(`event.${code}`, code);
  await listScreen(view, {
    title: t('admin.audit.title'),
    path: '#/admin/audit',
    endpoint: '/api/v1/admin/audit',
    names: ['user_id', 'event'],
    formLabel: t('admin.audit.filter'),
    submitLabel: t('admin.audit.submit'),
    filters: (state) => [
      field('user_id', t('admin.audit.user_id'), { inputmode: 'numeric', value: state.user_id, autocomplete: 'off', spellcheck: 'false' }),
      selectField(
        'event',
        t('admin.audit.event'),
        [['', t('admin.audit.event_any')], ...EVENTS.map((code) => [code, eventName(code)])],
        state.event,
      ),
    ],
    columns: [
      ['admin.col.at', (e) => h('time', { datetime: e.at }, when(e.at))],
      ['admin.col.event', (e) => h('span', {}, eventName(e.event), h('code', { class: 'muted event-code' }, e.event))],
      ['admin.col.user', (e) => (e.user_id == null ? '–' : userLink(e.user_id))],
      ['admin.col.actor', (e) => (e.actor_id == null ? '–' : userLink(e.actor_id))],
      ['admin.col.ip', (e) => h('span', { class: 'mono nowrap' }, e.ip || '–')],
      ['admin.col.device', (e) => h('span', { title: e.user_agent || null }, deviceName(e.user_agent) || '–')],
      // Detail is data someone typed or sent (a user agent, a field name): shown as text.
      ['admin.col.detail', (e) => (e.detail == null ? '–' : h('code', { class: 'detail' }, JSON.stringify(e.detail)))],
    ],
    tableLabel: t('admin.audit.table'),
    emptyKey: 'admin.audit.empty',
    countKey: 'admin.audit.count',
  });
}

/** `form()` for one action: when the server's `error` already says what the single field's
 * detail says (hufu repeats the first detail there), the text is shown once, not twice. */
function actionForm(attrs, children, onsubmit) {
  return form(attrs, children, async (values, el) => {
    try {
      await onsubmit(values, el);
    } catch (error) {
      showError(el, error);
      const message = el.querySelector(':scope > .form-message').textContent;
      el.querySelectorAll('.field-error').forEach((slot) => {
        if (slot.textContent === message) slot.textContent = '';
      });
    }
  });
}

/** A two-step destructive action in `formEl`: the first button reveals a warning and the
 * real (submit) button; Cancel hides them again. Focus follows each step. */
function confirmStep(firstLabel, warning, confirmLabel) {
  const first = h('button', { type: 'button', class: 'danger' }, firstLabel);
  const confirm = h('button', { type: 'submit', class: 'danger' }, confirmLabel);
  const cancel = h('button', { type: 'button' }, t('admin.cancel'));
  const box = h('div', { class: 'confirm', hidden: true }, h('p', {}, warning), h('div', { class: 'actions' }, confirm, cancel));
  first.addEventListener('click', () => {
    first.hidden = true;
    box.hidden = false;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    box.hidden = true;
    first.hidden = false;
    first.focus();
  });
  return [h('div', { class: 'actions' }, first), box];
}

async function userScreen(view, ctx) {
  const id = hashParams().get('id') || '';
  view.append(h('p', { class: 'back' }, h('a', { href: lastUsersHash }, t('admin.user.back'))));
  // An id that is not a number is the server's 404 too (docs/admin.md), shown as it says.
  let user = await api.call('GET', `/api/v1/admin/users/${encodeURIComponent(id)}`);
  const heading = h('h1', {}, user.username);
  const body = h('div', {});
  view.append(heading, body);

  const isSelf = () => ctx.user && ctx.user.id === user.id;

  /** Redraws the detail after a change; `flash` = {section, text} shows that section's
   * result in its form and puts the focus on the form's first visible button. */
  function draw(flash) {
    const sections = { status: statusSection(), roles: rolesSection(), sessions: sessionsSection() };
    body.replaceChildren(
      details(),
      sections.status,
      sections.roles,
      sections.sessions,
      h('p', {}, h('a', { href: `#/admin/audit?user_id=${encodeURIComponent(user.id)}` }, t('admin.user.audit'))),
    );
    if (flash) {
      const formEl = sections[flash.section].querySelector('form');
      showSuccess(formEl, flash.text);
      const button = [...formEl.querySelectorAll('button')].find((b) => !b.closest('[hidden]'));
      if (button) button.focus();
    }
  }

  function details() {
    const row = (key, value) => [h('dt', {}, t(key)), h('dd', {}, value)];
    return h(
      'dl',
      {},
      row('admin.col.id', h('span', { class: 'mono' }, String(user.id))),
      row('admin.col.username', [user.username, isSelf() ? [' ', h('span', { class: 'badge this' }, t('admin.user.you'))] : null]),
      row('admin.user.nickname', user.nickname || '–'),
      row('admin.col.email', user.email || '–'),
      row('admin.col.phone', user.phone || '–'),
      row('admin.col.status', statusBadge(user.status)),
      row('admin.col.roles', h('span', { class: 'badges' }, roleBadges(user.roles))),
      row('admin.user.mfa', t(user.mfa_enabled ? 'admin.user.yes' : 'admin.user.no')),
      row('admin.user.wechat', t(user.wechat_bound ? 'admin.user.wechat_yes' : 'admin.user.wechat_no')),
      row('admin.col.created', when(user.created_at)),
      row('admin.user.updated', when(user.updated_at)),
    );
  }

  async function patch(body) {
    user = await api.call('PATCH', `/api/v1/admin/users/${encodeURIComponent(user.id)}`, body);
    // The admin's own roles changed: the shell re-reads the profile so the nav follows.
    if (isSelf()) await ctx.refreshUser();
  }

  function statusSection() {
    const active = user.status === 1;
    const controls = active
      ? confirmStep(t('admin.account.disable'), t('admin.account.disable_warn', { username: user.username }), t('admin.account.confirm_disable'))
      : [h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('admin.account.enable')))];
    return h(
      'section',
      { 'aria-labelledby': 'admin-status-title' },
      h('h2', { id: 'admin-status-title' }, t('admin.account.title')),
      actionForm(
        { 'aria-labelledby': 'admin-status-title' },
        [...controls, h('div', { class: 'field-error', 'data-error-for': 'status', role: 'status' })],
        async () => {
          await patch({ status: active ? 0 : 1 });
          draw({
            section: 'status',
            text: t(active ? 'admin.account.disabled_done' : 'admin.account.enabled_done', { username: user.username }),
          });
        },
      ),
    );
  }

  function rolesSection() {
    const list = h('div', { class: 'role-list' });
    const addRoleBox = (role, checked) => {
      const boxId = `admin-role-${role}`;
      list.append(
        h(
          'div',
          { class: 'check' },
          h('input', { type: 'checkbox', id: boxId, name: 'roles', value: role, checked }),
          h('label', { for: boxId }, role),
        ),
      );
    };
    for (const role of [...KNOWN_ROLES, ...user.roles.filter((r) => !KNOWN_ROLES.includes(r))]) {
      addRoleBox(role, user.roles.includes(role));
    }
    const newRole = field('new_role', t('admin.roles.new'), { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', 'aria-describedby': 'admin-roles-hint' });
    const input = newRole.querySelector('input');
    const add = () => {
      const role = input.value.trim();
      if (!role) return input.focus();
      const existing = [...list.querySelectorAll('input')].find((box) => box.value === role);
      if (existing) existing.checked = true;
      else addRoleBox(role, true);
      input.value = '';
      input.focus();
    };
    // Enter in the text box adds the role rather than saving the whole form.
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        add();
      }
    });
    const legend = t('admin.roles.legend', { username: user.username });
    return h(
      'section',
      { 'aria-labelledby': 'admin-roles-title' },
      h('h2', { id: 'admin-roles-title' }, t('admin.roles.title')),
      actionForm(
        { 'aria-labelledby': 'admin-roles-title' },
        [
          h('fieldset', { class: 'roles' }, h('legend', {}, legend), list),
          h('div', { class: 'add-role' }, newRole, h('button', { type: 'button', onclick: add }, t('admin.roles.add'))),
          h('p', { class: 'muted', id: 'admin-roles-hint' }, t('admin.roles.hint')),
          h('div', { class: 'field-error', 'data-error-for': 'roles', role: 'status' }),
          h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('admin.roles.save'))),
        ],
        async (values, formEl) => {
          const roles = [...formEl.querySelectorAll('input[name="roles"]')].filter((box) => box.checked).map((box) => box.value);
          // A name typed but not added yet counts as added: that is what the admin meant.
          const typed = input.value.trim();
          if (typed && !roles.includes(typed)) roles.push(typed);
          const before = JSON.stringify([...user.roles].sort());
          await patch({ roles });
          const changed = JSON.stringify([...user.roles].sort()) !== before;
          draw({ section: 'roles', text: t(changed ? 'admin.roles.done' : 'admin.roles.unchanged') });
        },
      ),
    );
  }

  function sessionsSection() {
    return h(
      'section',
      { 'aria-labelledby': 'admin-sessions-title' },
      h('h2', { id: 'admin-sessions-title' }, t('admin.sessions.title')),
      actionForm(
        { 'aria-labelledby': 'admin-sessions-title' },
        confirmStep(t('admin.sessions.revoke'), t('admin.sessions.hint', { username: user.username }), t('admin.sessions.confirm')),
        async () => {
          const data = await api.call('DELETE', `/api/v1/admin/users/${encodeURIComponent(user.id)}/sessions`);
          draw({ section: 'sessions', text: t('admin.sessions.done', { count: data.revoked }) });
        },
      ),
    );
  }

  draw();
}

export const routes = [
  { path: '#/admin/users', label: 'admin.users.title', admin: true, render: usersScreen },
  { path: '#/admin/user', title: 'admin.user.title', admin: true, render: userScreen },
  { path: '#/admin/audit', label: 'admin.audit.title', admin: true, render: auditScreen },
];
