// Form fields with labels, hints and error slots, and the mapping of API errors onto them.
import { ApiError } from './api.js';
import { h, uid } from './dom.js';

/**
 * One labelled control. `name` is the API's field path (`nodeSpec.vcpus`), which is how an error's
 * `details[].field` finds its way back here.
 */
export function field({ label, name, type = 'text', value, hint, options, attrs = {} }) {
  const id = uid(`f-${name.replace(/[^A-Za-z0-9]/g, '-')}`);
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = `${id}-error`;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ');
  const input =
    type === 'select'
      ? h(
          'select',
          { id, name, 'aria-describedby': describedBy, ...attrs, value },
          (options ?? []).map((o) => h('option', { value: o.value, disabled: o.disabled }, o.label ?? String(o.value))),
        )
      : h('input', { id, name, type, 'aria-describedby': describedBy, ...attrs, value });
  const el = h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }),
  );
  return { el, input };
}

/**
 * A refusal found before asking the API, shaped like the API's own (a 400 naming `name`), so
 * `handleSubmit` puts it beside the field of that name.
 */
export function fieldError(name, problem) {
  return new ApiError(400, { message: `${name}: ${problem}`, details: [{ field: name, problems: [problem] }] });
}

/** An integer when the text is one; otherwise the text itself, so the API names what is wrong. */
export function num(value) {
  const text = String(value ?? '').trim();
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

function describe(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  const parts = [err.message];
  if (err.status === 422 && err.details && typeof err.details === 'object' && err.details.quota) {
    parts[0] = `Over quota (${err.details.quota}): ${err.message}`;
  }
  return parts.join(' ');
}

/** A general error line for a form or an action (shown next to its button). */
export function errorLine() {
  const el = h('p', { class: 'form-error', role: 'alert', hidden: true });
  return {
    el,
    show(err) {
      el.replaceChildren(
        describe(err),
        err instanceof ApiError && err.requestId ? h('span', { class: 'request-id' }, ` request ${err.requestId}`) : '',
      );
      el.hidden = false;
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

/** Puts an API error next to the fields it names, or in the form's general error line. */
export function formErrors(form, general) {
  const clear = () => {
    for (const slot of form.querySelectorAll('.field-error')) {
      slot.hidden = true;
      slot.textContent = '';
    }
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    general.clear();
  };
  const fieldEl = (name) =>
    form.querySelector(`[data-field="${CSS.escape(name)}"]`) ??
    form.querySelector(`[data-field$=".${CSS.escape(name.split('.').pop())}"]`);
  const show = (err) => {
    clear();
    const unplaced = [];
    let first;
    const fields = err instanceof ApiError ? err.fields : new Map();
    for (const [name, problems] of fields) {
      const wrapper = fieldEl(name);
      if (!wrapper) {
        unplaced.push(`${name}: ${problems.join('; ')}`);
        continue;
      }
      const slot = wrapper.querySelector('.field-error');
      slot.textContent = problems.join('; ');
      slot.hidden = false;
      const input = wrapper.querySelector('input, select, textarea');
      input?.setAttribute('aria-invalid', 'true');
      first ??= input;
    }
    if (!first || unplaced.length) general.show(err);
    first?.focus();
  };
  return { show, clear };
}

/**
 * Wires a form: no page reload, the submit button disabled while the request runs, API errors put
 * next to their fields. `handler` gets the form's FormData.
 */
export function handleSubmit(form, handler) {
  const general = errorLine();
  const errors = formErrors(form, general);
  form.noValidate = true;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    if (buttons.some((b) => b.disabled)) return;
    errors.clear();
    for (const b of buttons) b.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await handler(new FormData(form));
    } catch (err) {
      errors.show(err);
    } finally {
      for (const b of buttons) b.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return { general, errors };
}

/**
 * A button that runs an API call and shows a failure right beside itself.
 * Returns a span holding the button and its error line.
 */
export function actionButton({ label, className, run, fk, ariaLabel }) {
  const line = errorLine();
  const button = h('button', { type: 'button', class: className, 'aria-label': ariaLabel, dataset: fk ? { fk } : {} });
  button.textContent = label;
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    line.clear();
    button.disabled = true;
    try {
      await run();
    } catch (err) {
      line.show(err);
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  });
  return h('span', { class: 'action' }, button, line.el);
}
