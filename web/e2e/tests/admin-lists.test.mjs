// The administrators' lists: searching and paging the users (state in the hash, so reload
// and back work), the status filter, a bad page size refused by the server and shown; a
// non-admin sees no admin screens; and the users list and audit log on a phone, in English
// and in Chinese.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHufu,
  createUser,
  launchBrowser,
  screenshot,
  unique,
  PASSWORD,
  request,
  registerUsers,
  registerUser,
  apiToken,
  adminGet,
  openAndSignIn,
  mainNav,
} from '../harness.mjs';

let hufu;
let browser;
let admin; // {username, token}
let prefix;
let seeded;

before(async () => {
  hufu = await startHufu();
  browser = await launchBrowser();
  const username = `root_${unique()}`;
  createUser(hufu, { username, email: `${username}@example.com`, password: PASSWORD, roles: ['admin', 'user'] });
  admin = { username, token: await apiToken(hufu, username) };
  prefix = `pg_${unique()}`;
  seeded = await registerUsers(hufu, prefix, 25);
  // Three of them disabled, for the status filter.
  for (const user of seeded.slice(0, 3)) {
    const { status } = await request(hufu, 'PATCH', `/api/v1/admin/users/${user.id}`, { token: admin.token, body: { status: 0 } });
    assert.equal(status, 200);
  }
});

after(async () => {
  await browser?.close();
  await hufu?.stop();
});

function bodyRows(page, name) {
  return page.getByRole('table', { name }).locator('tbody').getByRole('row');
}

function summary(page, text) {
  return page.getByRole('navigation', { name: 'Pages' }).getByRole('status').filter({ hasText: text });
}

/** How far anything on the page sticks out sideways: the page itself, or a table inside its
 * scrolling wrapper (which would hide, not show, a cut-off email). */
function sideways(page) {
  return page.evaluate(() => {
    let worst = document.documentElement.scrollWidth - window.innerWidth;
    for (const table of document.querySelectorAll('table')) {
      const wrap = table.parentElement;
      worst = Math.max(worst, wrap.scrollWidth - wrap.clientWidth);
    }
    return worst;
  });
}

test('search and paging: counts, Previous/Next disabled at the ends, state in the hash, q and status narrow', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  await openAndSignIn(page, hufu, admin.username);
  await mainNav(page).getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  const api = await adminGet(hufu, admin.token, `/api/v1/admin/users?q=${prefix}&per_page=10`);
  assert.equal(api.total, 25);

  await page.getByRole('searchbox', { name: 'Username, email or phone contains' }).fill(prefix);
  await page.getByLabel('Per page').selectOption('10');
  await page.getByRole('button', { name: 'Search' }).click();
  await summary(page, 'Page 1 of 3 (25 users)').waitFor();
  assert.ok(page.url().endsWith(`#/admin/users?q=${prefix}&per_page=10`), page.url());
  const rows = bodyRows(page, 'Users');
  assert.equal(await rows.count(), 10);
  // Newest first, like the API: the same usernames in the same order.
  assert.deepEqual(await rows.getByRole('link').allTextContents(), api.items.map((u) => u.username));
  const prev = page.getByRole('button', { name: 'Previous' });
  const next = page.getByRole('button', { name: 'Next' });
  assert.equal(await prev.isDisabled(), true);
  assert.equal(await next.isDisabled(), false);
  await screenshot(page, 'admin-users-page1');

  await next.click();
  await summary(page, 'Page 2 of 3 (25 users)').waitFor();
  assert.equal(await rows.count(), 10);
  assert.equal(await prev.isDisabled(), false);
  await next.click();
  await summary(page, 'Page 3 of 3 (25 users)').waitFor();
  assert.equal(await rows.count(), 5);
  assert.equal(await next.isDisabled(), true);
  // The keyboard is not lost when Next becomes disabled.
  assert.ok(await prev.evaluate((el) => el === document.activeElement), 'focus moved to Previous');
  assert.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('page'), '3', page.url());
  await screenshot(page, 'admin-users-page3');
  await prev.click();
  await summary(page, 'Page 2 of 3 (25 users)').waitFor();

  // Reload and back both rebuild the list from the hash.
  await page.reload();
  await summary(page, 'Page 2 of 3 (25 users)').waitFor();
  assert.equal(await page.getByRole('searchbox', { name: 'Username, email or phone contains' }).inputValue(), prefix);
  assert.equal(await page.getByLabel('Per page').inputValue(), '10');
  await page.goBack();
  await summary(page, 'Page 3 of 3 (25 users)').waitFor();
  assert.equal(await rows.count(), 5);

  // q narrows the list to one user.
  const one = seeded[7].username;
  await page.getByRole('searchbox', { name: 'Username, email or phone contains' }).fill(one);
  await page.getByRole('button', { name: 'Search' }).click();
  await summary(page, 'Page 1 of 1 (1 user)').waitFor();
  assert.deepEqual(await rows.getByRole('link').allTextContents(), [one]);
  assert.equal(await prev.isDisabled(), true);
  assert.equal(await next.isDisabled(), true);

  // The status filter shows only the disabled ones.
  await page.getByRole('searchbox', { name: 'Username, email or phone contains' }).fill(prefix);
  await page.getByLabel('Status').selectOption({ label: 'Disabled' });
  await page.getByRole('button', { name: 'Search' }).click();
  await summary(page, 'Page 1 of 1 (3 users)').waitFor();
  assert.deepEqual(
    (await rows.getByRole('link').allTextContents()).sort(),
    seeded.slice(0, 3).map((u) => u.username).sort(),
  );
  for (const cell of await rows.getByRole('cell').filter({ hasText: /^(Active|Disabled)$/ }).allTextContents()) {
    assert.equal(cell, 'Disabled');
  }
  assert.match(page.url(), /[?&]status=0(&|$)/);
  await screenshot(page, 'admin-users-disabled-filter');

  // A page size the server refuses (a hand-edited hash) shows its error under the field.
  await page.evaluate(() => (location.hash = '#/admin/users?per_page=500'));
  const refused = await request(hufu, 'GET', '/api/v1/admin/users?per_page=500', { token: admin.token });
  assert.equal(refused.status, 400);
  await page.getByRole('alert').filter({ hasText: refused.body.error }).waitFor();
  assert.equal(await page.getByLabel('Per page').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByRole('table', { name: 'Users' }).count(), 0);
  await screenshot(page, 'admin-users-bad-per-page');
  await context.close();
});

test('a non-admin sees no admin screens, and a direct visit goes back to the profile', async () => {
  const plain = await registerUser(hufu, 'plain');
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  await openAndSignIn(page, hufu, plain.username);
  await mainNav(page).getByRole('link', { name: 'Profile' }).waitFor();
  assert.equal(await mainNav(page).getByRole('link', { name: 'Users' }).count(), 0);
  assert.equal(await mainNav(page).getByRole('link', { name: 'Audit log' }).count(), 0);
  for (const hash of ['#/admin/users', '#/admin/audit', `#/admin/user?id=${plain.id}`]) {
    await page.evaluate((h) => (location.hash = h), hash);
    await page.getByRole('heading', { name: 'Profile' }).waitFor();
    await page.waitForURL((url) => !url.hash.startsWith('#/admin/'));
  }
  await screenshot(page, 'admin-non-admin');
  // And the server agrees.
  const token = await apiToken(hufu, plain.username);
  const forbidden = await request(hufu, 'GET', '/api/v1/admin/users', { token });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error_code, 'FORBIDDEN');
  await context.close();
});

test('on a phone (390×844): the users list and the audit log, in English and Chinese', async () => {
  for (const locale of ['en-US', 'zh-CN']) {
    const context = await browser.newContext({ locale, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const zh = locale === 'zh-CN';
    await page.goto(`${hufu.url}/`);
    await page.getByLabel(zh ? '用户名、邮箱或手机号' : 'Username, email or phone').fill(admin.username);
    await page.getByLabel(zh ? '密码' : 'Password').fill(PASSWORD);
    await page.getByRole('button', { name: zh ? '登录' : 'Sign in' }).click();
    await mainNav(page).getByRole('link', { name: zh ? '用户管理' : 'Users' }).click();
    await page.getByRole('heading', { name: zh ? '用户管理' : 'Users' }).waitFor();
    await page.evaluate((p) => (location.hash = `#/admin/users?q=${p}&per_page=10`), prefix);
    await page.getByRole('navigation', { name: zh ? '分页' : 'Pages' })
      .getByRole('status').filter({ hasText: zh ? '第 1 / 3 页（共 25 个用户）' : 'Page 1 of 3 (25 users)' }).waitFor();
    // Nothing is wider than the phone: the table became cards.
    const overflow = await sideways(page);
    assert.ok(overflow <= 0, `the users list scrolls sideways by ${overflow}px`);
    await screenshot(page, `admin-phone-users-${zh ? 'zh' : 'en'}`);

    await mainNav(page).getByRole('link', { name: zh ? '审计日志' : 'Audit log' }).click();
    await page.getByRole('heading', { name: zh ? '审计日志' : 'Audit log' }).waitFor();
    await page.getByLabel(zh ? '事件' : 'Event').selectOption('admin_update');
    await page.getByLabel(zh ? '每页' : 'Per page').selectOption('10');
    await page.getByRole('button', { name: zh ? '筛选' : 'Filter' }).click();
    await page.getByRole('table', { name: zh ? '审计记录' : 'Audit entries' })
      .getByText(zh ? '管理员修改' : 'Changed by an administrator').first().waitFor();
    const audit = await sideways(page);
    assert.ok(audit <= 0, `the audit log scrolls sideways by ${audit}px`);
    await screenshot(page, `admin-phone-audit-${zh ? 'zh' : 'en'}`);
    await context.close();
  }
});
