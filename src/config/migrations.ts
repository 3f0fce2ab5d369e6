import { Foundation1764201600000 } from '../../migrations/1764201600000-Foundation.js';

/** The migrations in order. A new file in migrations/ is listed here too. */
export const MIGRATIONS = [Foundation1764201600000];
