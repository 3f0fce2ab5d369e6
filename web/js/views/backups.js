// A cluster's backups on its page: the newest ones with their phase, size and age, "Back up now",
// a delete button on each row, and the schedule (settings.backup) as a small form.
import { confirmDialog } from '../dialogs.js';
import { badge, h, replaceChildren, syncRows, table, toast } from '../dom.js';
import { ago, bytes, dateTime } from '../format.js';
import { actionButton, field, handleSubmit, num } from '../forms.js';

/** How many backups the cluster page lists (newest first); the rest are in kaasctl backups list. */
export const BACKUPS_SHOWN = 20;

const PHASE_TONES = { Pending: 'busy', Running: 'busy', Succeeded: 'ok', Failed: 'bad' };
const DEFAULT_SCHEDULE = { intervalMinutes: 1440, keep: 7 };

const inProgress = (b) => b.phase === 'Pending' || b.phase === 'Running';
const shortId = (id) => id.slice(0, 8);

function every(minutes) {
  if (minutes % 1440 === 0) return minutes === 1440 ? 'day' : `${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? 'hour' : `${minutes / 60} hours`;
  return `${minutes} minutes`;
}

function scheduleText(schedule) {
  return schedule
    ? `A backup every ${every(schedule.intervalMinutes)}; the newest ${schedule.keep} scheduled backup(s) are kept.`
    : 'No schedule: backups are taken only with "Back up now" (or the API).';
}

/**
 * The "Backups" panel. `update(cluster)` follows the cluster's schedule, `showBackups(page)` the
 * list the page refreshes; `reloadCluster` fetches the cluster again after the schedule changed.
 */
export function backupsPanel(ctx, clusterId, reloadCluster) {
  const listPath = `/v1/clusters/${clusterId}/backups`;
  const t = table({
    caption: 'Backups, newest first',
    columns: ['Backup', 'Phase', 'Trigger', 'Size', 'Control plane', 'Taken', 'Actions'],
    className: 'backups-table',
  });
  const more = h('p', { class: 'hint', hidden: true }, `Only the newest ${BACKUPS_SHOWN} are shown here.`);
  let items = [];

  async function refresh() {
    const page = await ctx.api.get(`${listPath}?limit=${BACKUPS_SHOWN}`);
    if (ctx.alive()) showBackups(page);
  }

  function deleteButton(b) {
    return h('button', {
      type: 'button',
      class: 'danger small',
      dataset: { fk: `delete-${b.id}` },
      'aria-label': `Delete backup ${shortId(b.id)}`,
      text: 'Delete',
      onclick: async () => {
        const deleted = await confirmDialog({
          title: `Delete backup ${shortId(b.id)}?`,
          body: h(
            'p',
            null,
            `The ${b.trigger} backup taken ${dateTime(b.createdAt)} is removed from the storage pool. A cluster cannot be restored from it afterwards.`,
          ),
          confirmLabel: 'Delete backup',
          run: () => ctx.api.del(`${listPath}/${b.id}`),
        });
        if (deleted) {
          toast(`Backup ${shortId(b.id)} deleted.`);
          await refresh();
        }
      },
    });
  }

  function backupRow(b) {
    return h(
      'tr',
      null,
      h('th', { scope: 'row', class: 'mono', title: b.id }, shortId(b.id)),
      h(
        'td',
        null,
        badge(b.phase, PHASE_TONES[b.phase] ?? 'neutral'),
        b.message ? h('p', { class: b.phase === 'Failed' ? 'error-text' : 'hint' }, b.message) : null,
      ),
      h('td', null, b.trigger),
      h('td', null, b.phase === 'Succeeded' ? bytes(b.sizeBytes) : '–'),
      h('td', null, `${b.controlPlane} ${b.version}`),
      h('td', null, h('time', { datetime: b.createdAt, title: dateTime(b.createdAt) }, ago(b.createdAt))),
      h('td', { class: 'row-actions' }, deleteButton(b)),
    );
  }

  const backUpNow = actionButton({
    label: 'Back up now',
    className: 'primary',
    fk: 'back-up-now',
    run: async () => {
      const b = await ctx.api.post(listPath, {});
      toast(`Backup ${shortId(b.id)} requested.`);
      await refresh();
    },
  });
  const nowButton = backUpNow.querySelector('button');
  const busyHint = h('p', { class: 'hint', hidden: true });

  // The schedule: the inputs follow the cluster until the user edits them.
  let schedule = null;
  let edited = false;
  const scheduleLine = h('p', { class: 'schedule-now' });
  const interval = field({
    label: 'Every (minutes)',
    name: 'settings.backup.intervalMinutes',
    type: 'number',
    value: DEFAULT_SCHEDULE.intervalMinutes,
    hint: '5 to 10080 (a week)',
    attrs: { min: 5, max: 10080, step: 1, inputmode: 'numeric' },
  });
  const keep = field({
    label: 'Keep (newest)',
    name: 'settings.backup.keep',
    type: 'number',
    value: DEFAULT_SCHEDULE.keep,
    hint: '1 to 100 scheduled backups',
    attrs: { min: 1, max: 100, step: 1, inputmode: 'numeric' },
  });
  for (const input of [interval.input, keep.input]) input.addEventListener('input', () => (edited = true));
  const turnOff = h('button', { type: 'button', class: 'secondary' }, 'Turn off');
  const scheduleForm = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Backup schedule' },
    interval.el,
    keep.el,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save schedule'), turnOff),
  );
  const saving = handleSubmit(scheduleForm, async (data) => {
    const backup = {
      intervalMinutes: num(data.get('settings.backup.intervalMinutes')),
      keep: num(data.get('settings.backup.keep')),
    };
    const cluster = await ctx.api.patch(`/v1/clusters/${clusterId}`, { settings: { backup } });
    edited = false;
    toast(`Backups of ${cluster.name}: every ${every(backup.intervalMinutes)}, keeping ${backup.keep}.`);
    await reloadCluster(cluster);
  });
  scheduleForm.append(saving.general.el);
  turnOff.addEventListener('click', async () => {
    saving.errors.clear();
    turnOff.disabled = true;
    try {
      // PATCH merges settings key by key: a null backup replaces the schedule with none.
      const cluster = await ctx.api.patch(`/v1/clusters/${clusterId}`, { settings: { backup: null } });
      edited = false;
      toast(`Scheduled backups of ${cluster.name} turned off; the backups taken stay.`);
      await reloadCluster(cluster);
    } catch (err) {
      saving.errors.show(err);
    } finally {
      turnOff.disabled = !schedule;
    }
  });

  function showBackups(page) {
    items = page?.items ?? [];
    more.hidden = !page?.nextCursor;
    const running = items.find(inProgress);
    nowButton.disabled = Boolean(running);
    busyHint.hidden = !running;
    busyHint.textContent = running ? `Backup ${shortId(running.id)} is ${running.phase}.` : '';
    syncRows(t.tbody, items, {
      key: (b) => b.id,
      // The age is part of the row, so a row is rebuilt when its age reads differently.
      signature: (b) => `${JSON.stringify(b)} ${ago(b.createdAt)}`,
      render: backupRow,
      empty: { columns: t.columns, text: 'No backups yet.' },
    });
  }

  const el = h(
    'div',
    { class: 'stack' },
    h(
      'p',
      { class: 'hint' },
      "A backup is a snapshot of the control plane's state, kept in the cluster's storage pool (counted against its capacity). Backups outlive the cluster until deleted; a new cluster can start from one (Create cluster, Restore from backup).",
    ),
    h('div', { class: 'button-row' }, backUpNow, busyHint),
    t.el,
    more,
    h('h3', null, 'Schedule'),
    scheduleLine,
    scheduleForm,
  );

  return {
    el,
    showBackups,
    update(cluster) {
      schedule = cluster.settings?.backup ?? null;
      replaceChildren(scheduleLine, scheduleText(schedule));
      turnOff.disabled = !schedule;
      if (!edited) {
        interval.input.value = String((schedule ?? DEFAULT_SCHEDULE).intervalMinutes);
        keep.input.value = String((schedule ?? DEFAULT_SCHEDULE).keep);
      }
    },
  };
}
