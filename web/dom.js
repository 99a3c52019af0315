// dom.js — building the page's elements. Everything is made with createElement and text
// nodes, never by assigning HTML strings, so nothing a user typed (a nickname, a user agent)
// can become markup. Each screen module builds its view with `h` and the form helpers here.

import { t } from './i18n.js';

/** `h('button', {class: 'primary', onclick: f}, 'Save')`: an element with attributes,
 * properties (`on*` become listeners) and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let fieldCounter = 0;

/** A labelled input. `name` is the API field it fills; errors for that field (from the
 * envelope's `details`) are shown under it by `showFieldErrors`. */
export function field(name, label, attrs = {}) {
  return labelled('input', name, label, attrs);
}

/** The input of a six-digit one-time code. */
export function codeField(name = 'code', label = t('code.code')) {
  return field(name, label, {
    autocomplete: 'one-time-code',
    inputmode: 'numeric',
    required: true,
    spellcheck: 'false',
    maxlength: 6,
    pattern: '[0-9]{6}',
  });
}

/** A labelled `<select>` of `[value, text]` options, with the same error slot as `field`. */
export function selectField(name, label, options, value) {
  const choices = options.map(([optionValue, text]) => h('option', { value: optionValue, selected: optionValue === value }, text));
  return labelled('select', name, label, {}, choices);
}

function labelled(tag, name, label, attrs, children = []) {
  const id = `f-${name}-${++fieldCounter}`;
  const control = h(tag, { id, name, 'aria-describedby': `${id}-error`, ...attrs }, ...children);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    h('div', { class: 'field-error', id: `${id}-error`, 'data-error-for': name, role: 'status' }),
  );
}

/** A group of radio buttons (`[value, text]` options) under a legend, with the same error
 * slot as `field`; `onchange(value)` runs when the choice changes. */
export function choiceField(name, legend, options, value, onchange) {
  const id = `f-${name}-${++fieldCounter}`;
  const choices = options.map(([optionValue, text]) => {
    const input = h('input', {
      type: 'radio',
      name,
      value: optionValue,
      id: `${id}-${optionValue}`,
      checked: optionValue === value,
      onchange: onchange ? () => onchange(optionValue) : null,
    });
    return h('label', { class: 'choice', for: input.id }, input, ' ', text);
  });
  return h(
    'fieldset',
    { class: 'field choices', 'aria-describedby': `${id}-error` },
    h('legend', {}, legend),
    h('div', { class: 'choice-row' }, ...choices),
    h('div', { class: 'field-error', id: `${id}-error`, 'data-error-for': name, role: 'status' }),
  );
}

// ---------------------------------------------------------------------------------------
// "Send code" buttons

/** A "Send code" button (`type` is `submit` when it is its form's own action). After a send it
 * counts down the seconds until another may be sent (`countDown`). */
export function sendCodeButton(attrs = {}, label = t('code.send')) {
  return h('button', { type: 'submit', 'data-label': label, ...attrs }, label);
}

/** Disables `button` for `seconds`, its text counting down ("Send again in 42 s"); then it is
 * "Send again". The count stops by itself when the button leaves the page. */
export function countDown(button, seconds) {
  clearInterval(Number(button.dataset.timer));
  let left = Math.max(0, Math.ceil(seconds));
  const finish = () => {
    clearInterval(Number(button.dataset.timer));
    delete button.dataset.timer;
    delete button.dataset.counting;
    button.disabled = false;
    button.textContent = t('code.send_again');
  };
  if (left === 0) return finish();
  const draw = () => (button.textContent = t('code.send_again_in', { seconds: left }));
  button.dataset.counting = '';
  button.disabled = true;
  draw();
  const timer = setInterval(() => {
    left -= 1;
    if (!button.isConnected) return clearInterval(timer);
    if (left <= 0) finish();
    else draw();
  }, 1000);
  button.dataset.timer = String(timer);
}

/** Runs a send (`send()` resolves to the answer `{expires_in, resend_after}`) for `button`:
 * counts down `resend_after`, or on 429 the `Retry-After` (then the error is rethrown, for the
 * form to show). */
export async function sendCode(button, send) {
  try {
    const sent = await send();
    countDown(button, (sent && sent.resend_after) || 0);
    return sent;
  } catch (error) {
    if (error && error.status === 429 && error.retryAfter) countDown(button, error.retryAfter);
    throw error;
  }
}

/** A form whose submit runs `onsubmit(values, form)` with the inputs' values by name; the
 * submit button is disabled while it runs, and the form's message area shows any error. */
export function form(attrs, children, onsubmit) {
  const message = h('div', { class: 'form-message', role: 'alert' });
  const el = h('form', { novalidate: true, ...attrs }, ...children, message);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = el.querySelectorAll('button');
    buttons.forEach((b) => (b.disabled = true));
    clearErrors(el);
    try {
      await onsubmit(values(el), el);
    } catch (error) {
      showError(el, error);
    } finally {
      // A "Send code" button that is counting down stays disabled until its count ends.
      buttons.forEach((b) => (b.disabled = 'counting' in b.dataset));
    }
  });
  return el;
}

/** The named inputs of a form as an object; empty strings stay empty strings. */
export function values(el) {
  const out = {};
  for (const input of el.querySelectorAll('input[name], select[name], textarea[name]')) {
    if (input.type === 'radio') {
      if (input.checked) out[input.name] = input.value;
    } else {
      out[input.name] = input.type === 'checkbox' ? input.checked : input.value;
    }
  }
  return out;
}

export function clearErrors(el) {
  el.querySelectorAll('.field-error').forEach((e) => (e.textContent = ''));
  el.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const message = el.querySelector(':scope > .form-message');
  if (message) {
    message.textContent = '';
    message.className = 'form-message';
  }
}

/** Shows an error in a form: the envelope's `error` text in the message area, and each of
 * its `details` under the field it names (focusing the first bad field). */
export function showError(el, error) {
  const message = el.querySelector(':scope > .form-message');
  if (message) {
    message.textContent = errorText(error);
    message.className = 'form-message error';
  }
  let first = null;
  for (const detail of error.details || []) {
    const slot = el.querySelector(`[data-error-for="${CSS.escape(detail.field)}"]`);
    if (!slot) continue;
    slot.textContent = detailText(detail);
    const input = el.querySelector(`[name="${CSS.escape(detail.field)}"]`);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      first = first || input;
    }
  }
  if (first) first.focus();
}

/** Shows a success message in a form's message area. */
export function showSuccess(el, text) {
  const message = el.querySelector(':scope > .form-message');
  if (message) {
    message.textContent = text;
    message.className = 'form-message success';
  }
}

/** The text of an error: the server's own `error` (already in the browser's language, since
 * every request sends Accept-Language), else a local one for network failures. */
export function errorText(error) {
  if (error && error.envelope && error.envelope.error) return error.envelope.error;
  if (error && error.envelope && error.envelope.message) return error.envelope.message;
  if (error && error.network) return t('error.network');
  return (error && error.message) || t('error.unknown');
}

/** One `details` entry as text: the server's message when it gave one, else the reason. */
function detailText(detail) {
  return detail.message || t(`reason.${detail.reason}`, detail.reason);
}

/** Formats an RFC 3339 time for the reader's locale. */
export function when(value) {
  if (!value) return '–';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}
