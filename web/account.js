// account.js — the signed-in user's own screens. (Profile view only in this first step;
// editing, password, sessions and the second factor follow.)

import { h, when } from './dom.js';
import { t, addStrings } from './i18n.js';

addStrings({
  en: { 'profile.title': 'Profile', 'profile.username': 'Username', 'profile.email': 'Email',
    'profile.phone': 'Phone', 'profile.created': 'Member since' },
  zh: { 'profile.title': '个人资料', 'profile.username': '用户名', 'profile.email': '邮箱',
    'profile.phone': '手机号', 'profile.created': '注册时间' },
});

async function profile(view, ctx) {
  const user = ctx.user;
  view.append(
    h('h1', {}, t('profile.title')),
    h('dl', {},
      h('dt', {}, t('profile.username')), h('dd', {}, user.username),
      h('dt', {}, t('profile.email')), h('dd', {}, user.email || '–'),
      h('dt', {}, t('profile.phone')), h('dd', {}, user.phone || '–'),
      h('dt', {}, t('profile.created')), h('dd', {}, when(user.created_at))),
  );
}

export const routes = [{ path: '#/profile', label: 'profile.title', render: profile }];
