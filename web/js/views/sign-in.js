import { ApiError, identify } from '../api.js';
import { h } from '../dom.js';
import { field, handleSubmit } from '../forms.js';

/** Sign in with a tenant API key or the operator's admin token. */
export async function signInView(ctx, { message, onSignedIn }) {
  const key = field({
    label: 'API key or admin token',
    name: 'token',
    type: 'password',
    hint: 'A tenant API key (kaas_…) or the operator token. It is kept in this browser tab only and forgotten when the tab closes.',
    attrs: { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', required: true },
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  // POST, so that even a submission the script never saw could not put the key in a URL.
  const form = h('form', { class: 'stack', method: 'post', 'aria-labelledby': 'signin-title' }, key.el);
  const { general } = handleSubmit(form, async (data) => {
    const token = String(data.get('token') ?? '').trim();
    if (!token) throw new ApiError(400, { message: 'token: enter an API key or the admin token' });
    try {
      onSignedIn(await identify(token));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        throw new ApiError(401, {
          message: 'token: this key was not accepted; it is unknown or has been revoked',
          requestId: err.requestId,
        });
      }
      throw err;
    }
  });
  form.append(general.el, h('div', { class: 'form-actions' }, submit));
  ctx.main.append(
    h(
      'div',
      { class: 'signin' },
      h(
        'div',
        { class: 'panel' },
        h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to kaas'),
        message ? h('p', { class: 'notice', role: 'status' }, message) : null,
        form,
      ),
      h(
        'p',
        { class: 'hint' },
        'Operators: the admin token is in .data/admin-token after make run. API reference: ',
        h('a', { href: '/docs' }, '/docs'),
        '.',
      ),
    ),
  );
  key.input.focus();
}
