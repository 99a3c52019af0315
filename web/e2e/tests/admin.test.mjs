// The administrators' actions on one user, end to end with two browsers: disabling a user
// signs their open page out by itself and keeps them out until enabled again; granting and
// revoking `admin` shows and hides the admin screens on that user's page; signing a user out
// everywhere; an admin's attempts to lock themselves out are refused with the server's
// words; and the audit log lists what was done. Every outcome is read back through the API.

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
  registerUser,
  apiToken,
  adminGet,
  openAndSignIn,
  mainNav,
} from '../harness.mjs';

let hufu;
let browser;
let admin; // {username, token, id}
let adminPage;

// The page re-reads the profile every 10 s; a change made elsewhere shows within that.
const RECHECK = { timeout: 20_000 };

before(async () => {
  hufu = await startHufu();
  browser = await launchBrowser();
  const username = `root_${unique()}`;
  createUser(hufu, { username, email: `${username}@example.com`, password: PASSWORD, roles: ['admin', 'user'] });
  const token = await apiToken(hufu, username);
  admin = { username, token, id: (await adminGet(hufu, token, '/api/v1/users/profile')).id };
  const context = await browser.newContext({ locale: 'en-US' });
  adminPage = await context.newPage();
  await openAndSignIn(adminPage, hufu, username);
});

after(async () => {
  await browser?.close();
  await hufu?.stop();
});

/** Opens a user's detail from the Users screen by searching for their username. */
async function openFromSearch(page, username) {
  await mainNav(page).getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  await page.getByRole('searchbox', { name: 'Username, email or phone contains' }).fill(username);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('status').filter({ hasText: 'Page 1 of 1 (1 user)' }).waitFor();
  assert.match(page.url(), new RegExp(`#/admin/users\\?q=${username}$`));
  await page.getByRole('link', { name: username, exact: true }).click();
  await page.getByRole('heading', { name: username }).waitFor();
}

test('the issue’s flow: an admin disables a signed-in user, whose page signs out by itself; enabling lets them back', async () => {
  const carol = await registerUser(hufu, 'carol');
  const userContext = await browser.newContext({ locale: 'en-US' });
  const userPage = await userContext.newPage();
  await openAndSignIn(userPage, hufu, carol.username);
  await screenshot(userPage, 'admin-flow-user-profile');
  // A second session of carol's, from node, to learn what the server says once it is revoked.
  const carolToken = await apiToken(hufu, carol.username);

  await mainNav(adminPage).getByRole('link', { name: 'Users' }).click();
  await adminPage.getByRole('heading', { name: 'Users' }).waitFor();
  await screenshot(adminPage, 'admin-flow-users');
  await openFromSearch(adminPage, carol.username);
  await screenshot(adminPage, 'admin-flow-user-detail');

  // Disabling asks first, inline; Cancel takes it back without a call.
  await adminPage.getByRole('button', { name: 'Disable account' }).click();
  const confirm = adminPage.getByRole('button', { name: 'Confirm disable' });
  await confirm.waitFor();
  assert.ok(await confirm.evaluate((el) => el === document.activeElement), 'focus moves to the confirmation');
  await adminPage.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await adminGet(hufu, admin.token, `/api/v1/admin/users/${carol.id}`)).status, 1);
  await adminPage.getByRole('button', { name: 'Disable account' }).click();
  await screenshot(adminPage, 'admin-flow-confirm-disable');
  await confirm.click();
  await adminPage.getByRole('alert').filter({ hasText: 'Account disabled' }).waitFor();
  await adminPage.getByRole('button', { name: 'Enable account' }).waitFor();
  await screenshot(adminPage, 'admin-flow-disabled');
  assert.equal((await adminGet(hufu, admin.token, `/api/v1/admin/users/${carol.id}`)).status, 0);

  // Carol's page notices at its next re-check, with the server's own words.
  const revoked = await request(hufu, 'GET', '/api/v1/users/profile', { token: carolToken });
  assert.equal(revoked.status, 401);
  await userPage.getByRole('heading', { name: 'Sign in' }).waitFor(RECHECK);
  await userPage.getByRole('status').filter({ hasText: revoked.body.error }).waitFor();
  await screenshot(userPage, 'admin-flow-user-signed-out');

  // The right password now meets ACCOUNT_DISABLED, shown from the envelope.
  const refused = await request(hufu, 'POST', '/api/v1/auth/login', { body: { username: carol.username, password: PASSWORD } });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error_code, 'ACCOUNT_DISABLED');
  await userPage.getByLabel('Username, email or phone').fill(carol.username);
  await userPage.getByLabel('Password').fill(PASSWORD);
  await userPage.getByRole('button', { name: 'Sign in' }).click();
  await userPage.getByRole('alert').filter({ hasText: refused.body.error }).waitFor();
  await screenshot(userPage, 'admin-flow-user-refused');

  await adminPage.getByRole('button', { name: 'Enable account' }).click();
  await adminPage.getByRole('alert').filter({ hasText: 'Account enabled' }).waitFor();
  await adminPage.getByRole('button', { name: 'Disable account' }).waitFor();
  await screenshot(adminPage, 'admin-flow-enabled');
  assert.equal((await adminGet(hufu, admin.token, `/api/v1/admin/users/${carol.id}`)).status, 1);

  await userPage.getByRole('button', { name: 'Sign in' }).click();
  await userPage.getByRole('heading', { name: 'Profile' }).waitFor();
  await userContext.close();
});

test('granting admin shows the admin screens on the user’s page; revoking hides them and a direct visit redirects', async () => {
  const dave = await registerUser(hufu, 'dave');
  const userContext = await browser.newContext({ locale: 'en-US' });
  const userPage = await userContext.newPage();
  await openAndSignIn(userPage, hufu, dave.username);
  assert.equal(await mainNav(userPage).getByRole('link', { name: 'Users' }).count(), 0);

  await adminPage.goto(`${hufu.url}/#/admin/user?id=${dave.id}`);
  await adminPage.getByRole('heading', { name: dave.username }).waitFor();
  const adminBox = adminPage.getByRole('checkbox', { name: 'admin' });
  assert.equal(await adminBox.isChecked(), false);
  assert.equal(await adminPage.getByRole('checkbox', { name: 'user' }).isChecked(), true);
  await adminBox.check();
  // A role that is neither known nor his yet, typed and added.
  await adminPage.getByLabel('Add a role').fill('support');
  await adminPage.getByRole('button', { name: 'Add', exact: true }).click();
  assert.equal(await adminPage.getByRole('checkbox', { name: 'support' }).isChecked(), true);
  await adminPage.getByRole('button', { name: 'Save roles' }).click();
  await adminPage.getByRole('alert').filter({ hasText: 'Roles saved.' }).waitFor();
  await screenshot(adminPage, 'admin-roles-granted');
  assert.deepEqual((await adminGet(hufu, admin.token, `/api/v1/admin/users/${dave.id}`)).roles.sort(), ['admin', 'support', 'user']);

  // Dave's page shows the admin screens after a reload (the re-check would too, as the
  // revocation below shows), and they work for him.
  await userPage.reload();
  const usersLink = mainNav(userPage).getByRole('link', { name: 'Users' });
  await usersLink.waitFor();
  await mainNav(userPage).getByRole('link', { name: 'Audit log' }).waitFor();
  await usersLink.click();
  await userPage.getByRole('heading', { name: 'Users' }).waitFor();
  await userPage.getByRole('table', { name: 'Users' }).waitFor();
  await screenshot(userPage, 'admin-roles-user-sees-admin');

  // Revoked: his open admin screen is left at the next re-check, the links go, and a direct
  // visit is sent back to the profile.
  await adminPage.getByRole('checkbox', { name: 'admin' }).uncheck();
  await adminPage.getByRole('button', { name: 'Save roles' }).click();
  await adminPage.getByRole('alert').filter({ hasText: 'Roles saved.' }).waitFor();
  assert.deepEqual((await adminGet(hufu, admin.token, `/api/v1/admin/users/${dave.id}`)).roles.sort(), ['support', 'user']);
  await userPage.getByRole('heading', { name: 'Profile' }).waitFor(RECHECK);
  assert.equal(await mainNav(userPage).getByRole('link', { name: 'Users' }).count(), 0);
  assert.equal(await mainNav(userPage).getByRole('link', { name: 'Audit log' }).count(), 0);
  await userPage.evaluate(() => (location.hash = '#/admin/users'));
  await userPage.getByRole('heading', { name: 'Profile' }).waitFor();
  assert.ok(!userPage.url().includes('#/admin/'), `redirected, at ${userPage.url()}`);
  await screenshot(userPage, 'admin-roles-user-revoked');

  // Signing him out everywhere (inline confirmation) ends his page's session too.
  await adminPage.getByRole('button', { name: 'Sign out all sessions' }).click();
  await adminPage.getByRole('button', { name: 'Confirm sign-out' }).click();
  await adminPage.getByRole('alert').filter({ hasText: 'Sessions signed out: 1.' }).waitFor();
  await screenshot(adminPage, 'admin-sessions-revoked');
  await userPage.getByRole('heading', { name: 'Sign in' }).waitFor(RECHECK);
  assert.equal((await adminGet(hufu, admin.token, `/api/v1/admin/users/${dave.id}`)).status, 1, 'still enabled');
  await userContext.close();
});

test('an admin cannot remove their own admin role or disable themselves: the server’s error shows, nothing changes', async () => {
  await adminPage.goto(`${hufu.url}/#/admin/user?id=${admin.id}`);
  await adminPage.getByRole('heading', { name: admin.username }).waitFor();
  const rolesForm = adminPage.getByRole('form', { name: 'Roles' });
  await rolesForm.getByRole('checkbox', { name: 'admin' }).uncheck();
  await rolesForm.getByRole('button', { name: 'Save roles' }).click();
  const refused = await request(hufu, 'PATCH', `/api/v1/admin/users/${admin.id}`, { token: admin.token, body: { roles: ['user'] } });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.details[0].reason, 'self_lockout');
  await rolesForm.getByRole('alert').filter({ hasText: refused.body.error }).waitFor();
  await rolesForm.getByRole('alert').filter({ hasText: refused.body.details[0].message }).waitFor();
  assert.equal(await rolesForm.getByRole('checkbox', { name: 'user' }).getAttribute('aria-invalid'), 'true');
  await screenshot(adminPage, 'admin-self-lockout-roles');
  assert.ok((await adminGet(hufu, admin.token, `/api/v1/admin/users/${admin.id}`)).roles.includes('admin'));
  assert.equal(await mainNav(adminPage).getByRole('link', { name: 'Users' }).count(), 1);

  const statusForm = adminPage.getByRole('form', { name: 'Account status' });
  await statusForm.getByRole('button', { name: 'Disable account' }).click();
  await statusForm.getByRole('button', { name: 'Confirm disable' }).click();
  const disable = await request(hufu, 'PATCH', `/api/v1/admin/users/${admin.id}`, { token: admin.token, body: { status: 0 } });
  assert.equal(disable.status, 400);
  await statusForm.getByRole('alert').filter({ hasText: disable.body.details[0].message }).waitFor();
  await screenshot(adminPage, 'admin-self-lockout-status');
  assert.equal((await adminGet(hufu, admin.token, `/api/v1/admin/users/${admin.id}`)).status, 1);
  // Still signed in and still an administrator.
  await mainNav(adminPage).getByRole('link', { name: 'Audit log' }).click();
  await adminPage.getByRole('heading', { name: 'Audit log' }).waitFor();
});

test('the audit log filtered by user and event lists the admin’s changes, as many as the API counts', async () => {
  const erin = await registerUser(hufu, 'erin');
  for (const status of [0, 1]) {
    const { status: code } = await request(hufu, 'PATCH', `/api/v1/admin/users/${erin.id}`, { token: admin.token, body: { status } });
    assert.equal(code, 200);
  }
  const api = await adminGet(hufu, admin.token, `/api/v1/admin/audit?user_id=${erin.id}&event=admin_update`);
  assert.equal(api.total, 2);

  // From the user's detail, its link opens the audit log filtered by that user.
  await adminPage.goto(`${hufu.url}/#/admin/user?id=${erin.id}`);
  await adminPage.getByRole('link', { name: 'Audit entries for this user' }).click();
  await adminPage.getByRole('heading', { name: 'Audit log' }).waitFor();
  assert.equal(await adminPage.getByLabel('User ID').inputValue(), String(erin.id));
  const all = await adminGet(hufu, admin.token, `/api/v1/admin/audit?user_id=${erin.id}`);
  await adminPage.getByRole('status').filter({ hasText: `(${all.total} entries)` }).waitFor();

  await adminPage.getByLabel('Event').selectOption({ label: 'Changed by an administrator' });
  await adminPage.getByRole('button', { name: 'Filter' }).click();
  await adminPage.getByRole('status').filter({ hasText: `Page 1 of 1 (${api.total} entries)` }).waitFor();
  assert.match(adminPage.url(), new RegExp(`#/admin/audit\\?user_id=${erin.id}&event=admin_update$`));
  const table = adminPage.getByRole('table', { name: 'Audit entries' });
  const rows = table.locator('tbody').getByRole('row');
  assert.equal(await rows.count(), api.total);
  // Newest first, as the API: enabling, then disabling; the actor is the admin.
  const first = rows.first();
  await first.getByText('Changed by an administrator').waitFor();
  await first.getByText('{"status":{"from":0,"to":1}}').waitFor();
  assert.equal(await first.getByRole('link', { name: String(admin.id) }).getAttribute('href'), `#/admin/user?id=${admin.id}`);
  await rows.nth(1).getByText('"sessions_revoked"', { exact: false }).waitFor();
  await screenshot(adminPage, 'admin-audit-filtered');

  // A reload keeps the filter (it lives in the hash).
  await adminPage.reload();
  await adminPage.getByRole('status').filter({ hasText: `(${api.total} entries)` }).waitFor();
  assert.equal(await adminPage.getByLabel('Event').inputValue(), 'admin_update');

  // A bad user id is the server's 400, shown under the field.
  await adminPage.getByLabel('User ID').fill('abc');
  await adminPage.getByRole('button', { name: 'Filter' }).click();
  const bad = await request(hufu, 'GET', '/api/v1/admin/audit?user_id=abc', { token: admin.token });
  assert.equal(bad.status, 400);
  await adminPage.getByRole('alert').filter({ hasText: bad.body.error }).waitFor();
  assert.equal(await adminPage.getByLabel('User ID').getAttribute('aria-invalid'), 'true');
});
