import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { GUEST_STATUS_PORT, HttpGuestProbe } from './guest-status.js';

/** A stand-in guest on a loopback address of its own, serving a status answer. */
describe('HttpGuestProbe', () => {
  const address = '127.0.0.57';
  let answer: unknown;
  let server: Server;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(GUEST_STATUS_PORT, address, resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const probe = (nodeId?: string) => new HttpGuestProbe(2000).probe({ domainName: 'd', address, nodeId });

  it('reads the stage and the readiness of the node that answers', async () => {
    answer = { stage: 'ready', ready: true, message: 'ok', details: { nodeId: 'n-1', members: 1 } };
    expect(await probe('n-1')).toEqual({
      answered: true,
      status: { stage: 'ready', ready: true, message: 'ok', details: { nodeId: 'n-1', members: 1 } },
    });
  });

  it('takes an answer naming another node as no answer from this one', async () => {
    answer = { stage: 'ready', ready: true, details: { nodeId: 'n-2' } };
    expect(await probe('n-1')).toEqual({
      answered: false,
      error: `${address} is answered by another node (n-2)`,
    });
  });

  it('accepts a guest that does not name its node (older bundles) and refuses one without a stage', async () => {
    answer = { stage: 'installing', ready: false, details: {} };
    expect(await probe('n-1')).toMatchObject({ answered: true, status: { stage: 'installing', ready: false } });
    answer = { ready: true };
    expect(await probe('n-1')).toEqual({ answered: false, error: 'status without a stage' });
  });
});
