// Formatting of API values for people.

export function mib(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value >= 1024 * 1024) return `${trim(value / (1024 * 1024))} TiB`;
  if (value >= 1024) return `${trim(value / 1024)} GiB`;
  return `${trim(value)} MiB`;
}

/** A size in bytes, in powers of 1024: `512 B`, `12.3 MiB`. */
export function bytes(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value < 1024) return `${value} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let n = value / 1024;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${trim(n)} ${units[unit]}`;
}

export function gib(value) {
  if (value === null || value === undefined) return '–';
  return value >= 1024 ? `${trim(value / 1024)} TiB` : `${trim(value)} GiB`;
}

function trim(n) {
  return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}

export function percent(value) {
  return value === null || value === undefined ? '–' : `${Math.round(value * 10) / 10}%`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** How long until `iso`: `in 40 min`, `in 3 h`, `in 364 d`; `passed` once it has. */
export function until(iso, now = Date.now()) {
  if (!iso) return '–';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds <= 0) return 'passed';
  if (seconds < 3600) return `in ${Math.max(1, Math.floor(seconds / 60))} min`;
  if (seconds < 86400) return `in ${Math.floor(seconds / 3600)} h`;
  return `in ${Math.floor(seconds / 86400)} d`;
}

export function dateTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const PHASE_TONES = {
  Running: 'ok',
  Ready: 'ok',
  Pending: 'busy',
  Provisioning: 'busy',
  Booting: 'busy',
  Joining: 'busy',
  Updating: 'busy',
  Draining: 'busy',
  Deleting: 'busy',
  Degraded: 'warn',
  NotReady: 'warn',
  Drained: 'neutral',
  Unreachable: 'bad',
  Failed: 'bad',
};

/** ok | busy | warn | bad | neutral, for badges. */
export function phaseTone(phase) {
  return PHASE_TONES[phase] ?? 'neutral';
}

export function conditionTone(status) {
  return status === 'True' ? 'ok' : status === 'False' ? 'bad' : 'neutral';
}

/** A name safe for a downloaded file. */
export function fileName(name) {
  return String(name).replace(/[^A-Za-z0-9._-]+/g, '-') || 'download';
}
