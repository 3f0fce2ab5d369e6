// Modal dialogs on the native <dialog> element: focus is kept inside, Escape closes, and focus
// returns to the control that opened it.
import { h } from './dom.js';

function open(dialog, initialFocus) {
  const opener = document.activeElement;
  document.body.append(dialog);
  dialog.showModal();
  initialFocus?.focus();
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
}

/**
 * Asks before something that cannot be undone. Resolves true only when the confirming button is
 * pressed; Escape, Cancel and a click outside resolve false. With `run`, the dialog stays open
 * while it works and shows its error inside.
 */
export function confirmDialog({ title, body, confirmLabel, tone = 'danger', run }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: tone }, confirmLabel);
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('div', { class: 'dialog-body' }, body),
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    );
    let result = false;
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      if (!run) {
        result = true;
        dialog.close();
        return;
      }
      confirm.disabled = true;
      error.hidden = true;
      try {
        await run();
        result = true;
        dialog.close();
      } catch (err) {
        error.textContent = err?.message ?? String(err);
        error.hidden = false;
        confirm.disabled = false;
        confirm.focus();
      }
    });
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
    dialog.addEventListener('close', () => resolve(result));
    // The safe choice has the focus, so Enter alone never deletes anything.
    open(dialog, cancel);
  });
}

/** Shows a secret once (a new API key), with a button that copies it. */
export function secretDialog({ title, intro, secret, label }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const inputId = `${titleId}-secret`;
    const input = h('input', { id: inputId, type: 'text', readonly: true, class: 'secret', value: secret });
    const status = h('p', { class: 'hint', role: 'status' });
    const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
    const done = h('button', { type: 'button', class: 'primary' }, 'Done');
    copy.addEventListener('click', async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(secret);
        status.textContent = 'Copied.';
      } catch {
        status.textContent = 'Copying is not allowed here: the key is selected, copy it with Ctrl+C.';
      }
    });
    done.addEventListener('click', () => dialog.close());
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', null, intro),
      h('div', { class: 'field' }, h('label', { for: inputId }, label), input),
      status,
      h('div', { class: 'dialog-actions' }, copy, done),
    );
    dialog.addEventListener('close', () => resolve());
    open(dialog, input);
    input.select();
  });
}
