/** The OVSDB client (RFC 7047) and the typed OVN Northbound tables the platform writes. */
export * from './ovn-nb-tables.js';
export * from './ovsdb-client.js';
export * from './ovsdb-columns.js';
export * from './ovsdb-error.js';
export * from './ovsdb-remote.js';
export * from './ovsdb-schema.js';
export * from './ovsdb-types.js';
