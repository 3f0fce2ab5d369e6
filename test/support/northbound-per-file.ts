import { afterAll, beforeAll, expect } from '@jest/globals';
import { OVN_NB_SCHEMA, type OvsdbServer, startOvsdbServer } from './ovsdb-server.js';

/*
 * Every test file under test/ gets an OVN Northbound database of its own (an ovsdb-server in a
 * temporary folder, started before the file's own hooks), named by KAAS_OVN_NB for the platforms
 * it starts: the network collection of one file must not see the rows of another that runs at the
 * same time. northd is not needed: simulated hosts read nothing from the Southbound.
 */
let server: OvsdbServer | undefined;
const wanted = /[/\\]test[/\\](medium|e2e|browser)[/\\]/.test(expect.getState().testPath ?? '');

beforeAll(async () => {
  if (!wanted) return;
  server = await startOvsdbServer({ schema: OVN_NB_SCHEMA, tools: ['ovn-nbctl'] });
  process.env.KAAS_OVN_NB = server.remote;
  process.env.KAAS_OVN_SB = 'none';
});

afterAll(async () => {
  await server?.stop();
  server = undefined;
});

/** This file's Northbound database. */
export function testNorthbound(): OvsdbServer {
  if (!server)
    throw new Error('no Northbound database for this test file (only test/medium, test/e2e and test/browser get one)');
  return server;
}
