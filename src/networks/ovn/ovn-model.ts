/*
 * The platform's network as OVN Northbound rows. Pure: from the platform's records to the rows
 * that must exist, each carrying its owners in external_ids. The planner (ovn-scope-plan.ts)
 * turns a scope into a transaction; nothing here talks to a database.
 */
export * from './ovn-model-specs.js';
export * from './ovn-node-model.js';
export * from './ovn-vpc-model.js';
