import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { parse } from 'yaml';
import type { TokenInput } from './context.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';

const ADMIN = 'admin-token-of-the-operator';
const KEY = 'kaas_key-of-tenant-acme';
const ACME = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const T_CONTEXT = '11111111-1111-4111-8111-111111111111';
const T_ENV = '22222222-2222-4222-8222-222222222222';
const T_FLAG = '33333333-3333-4333-8333-333333333333';

interface Sent {
  host: string;
  method: string;
  path: string;
  token: string | null;
  tenant: string | null;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('kaasctl login and config', () => {
  let dir: string;
  let configPath: string;
  let env: NodeJS.ProcessEnv;
  let sent: Sent[];
  let printed: string;
  let warned: string;

  /**
   * A fake API: KEY is a tenant key of acme, "bad" is refused, every other token is the operator's.
   * The operator lists tenants; a tenant key gets 403 there and reads its own tenant at /v1/tenant.
   */
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kaasctl-config-'));
    configPath = join(dir, 'kaas', 'config.yaml');
    env = { KAASCONFIG: configPath };
    sent = [];
    printed = '';
    warned = '';
    jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(String(input));
      const headers = new Headers(init?.headers);
      const token = headers.get('authorization')?.replace(/^Bearer /, '') ?? null;
      const tenant = headers.get('x-kaas-tenant');
      const method = init?.method ?? 'GET';
      sent.push({ host: url.host, method, path: url.pathname, token, tenant });
      const json = (body: unknown, status = 200) =>
        new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (token === 'bad') return json({ message: 'invalid or revoked token' }, 401);
      const operator = token !== KEY;
      const acme = { id: ACME, name: 'acme' };
      if (url.pathname === '/v1/tenants') {
        if (!operator) return json({ message: 'this route is for the operator' }, 403);
        const name = url.searchParams.get('name');
        return json({ items: name === null || name === 'acme' ? [acme] : [] });
      }
      if (url.pathname === `/v1/tenants/${ACME}`) {
        return operator ? json(acme) : json({ message: 'this route is for the operator' }, 403);
      }
      if (url.pathname === '/v1/tenant') {
        if (!operator) return json(acme);
        return tenant === ACME
          ? json(acme)
          : json({ message: 'X-Kaas-Tenant: the operator must name the tenant' }, 400);
      }
      if (url.pathname === '/v1/vpcs') return json({ items: [] });
      return json({ message: 'unexpected' }, 500);
    });
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      warned += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  const stdinWith = (text: string): TokenInput => Readable.from([text]);
  const kaasctl = (args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: TokenInput } = {}) =>
    throwOnUsageErrors(kaasctlProgram(options.env ?? env, options.stdin ?? stdinWith(''))).parseAsync(args, {
      from: 'user',
    });
  const config = () => parse(readFileSync(configPath, 'utf8'));
  const writeConfig = (doc: unknown) => {
    mkdirSync(join(dir, 'kaas'), { recursive: true });
    writeFileSync(configPath, typeof doc === 'string' ? doc : JSON.stringify(doc));
  };
  const tokenFile = (name: string, token: string, fileMode = 0o600) => {
    const path = join(dir, name);
    writeFileSync(path, `${token}\n`, { mode: fileMode });
    chmodSync(path, fileMode);
    return path;
  };

  describe('login', () => {
    it('reads the token from stdin, keeps it in a 0600 file in 0700 folders and makes the context current', async () => {
      await kaasctl(['login', 'http://kaas.test/'], { stdin: stdinWith(`${KEY}\n`) });

      expect(printed).toBe(
        `logged in to http://kaas.test as tenant acme (${ACME}); context "acme@kaas.test" is now current (${configPath})\n`,
      );
      const stored = join(dir, 'kaas', 'tokens', 'acme@kaas.test');
      expect(config()).toEqual({
        'current-context': 'acme@kaas.test',
        contexts: [{ name: 'acme@kaas.test', server: 'http://kaas.test', tokenFile: stored }],
      });
      expect(readFileSync(configPath, 'utf8')).not.toContain(KEY);
      expect(readFileSync(stored, 'utf8')).toBe(`${KEY}\n`);
      expect(mode(configPath)).toBe(0o600);
      expect(mode(stored)).toBe(0o600);
      expect(mode(join(dir, 'kaas'))).toBe(0o700);
      expect(mode(join(dir, 'kaas', 'tokens'))).toBe(0o700);

      sent = [];
      await kaasctl(['vpcs', 'list', '-o', 'json']);
      expect(sent).toEqual([{ host: 'kaas.test', method: 'GET', path: '/v1/vpcs', token: KEY, tenant: null }]);
    });

    it('takes the token from --token-file, keeping only its path, and an operator acts for --tenant', async () => {
      const file = tokenFile('admin-token', ADMIN);
      await kaasctl(['login', 'http://kaas.test', '--name', 'ops', '--token-file', file, '--tenant', 'acme']);

      expect(printed).toContain(`as the operator, acting for tenant acme (${ACME}); context "ops" is now current`);
      expect(config().contexts).toEqual([{ name: 'ops', server: 'http://kaas.test', tokenFile: file, tenant: 'acme' }]);
      expect(readFileSync(configPath, 'utf8')).not.toContain(ADMIN);
      expect(existsSync(join(dir, 'kaas', 'tokens'))).toBe(false);
      expect(warned).toBe('');

      sent = [];
      await kaasctl(['vpcs', 'list']);
      expect(sent.map((s) => [s.path, s.token, s.tenant])).toEqual([
        ['/v1/tenants', ADMIN, null],
        ['/v1/vpcs', ADMIN, ACME],
      ]);
    });

    it('warns when the token file is readable by others', async () => {
      const file = tokenFile('loose', ADMIN, 0o644);
      await kaasctl(['login', 'http://kaas.test', '--token-file', file]);
      expect(warned).toContain(`the token file ${file} has mode 0644; chmod 600 it`);
      expect(config()['current-context']).toBe('operator@kaas.test');
    });

    it('prompts without echo on a terminal', async () => {
      const terminal = Object.assign(new PassThrough(), { isTTY: true, setRawMode: jest.fn() });
      const done = kaasctl(['login', 'http://kaas.test', '--name', 'typed'], { stdin: terminal });
      await new Promise((resolve) => setImmediate(resolve));
      terminal.write(`${KEY.slice(0, 5)}x\u007f${KEY.slice(5)}\r`);
      await done;
      expect(terminal.setRawMode.mock.calls).toEqual([[true], [false]]);
      expect(warned).toBe('token for http://kaas.test: \n');
      expect(readFileSync(join(dir, 'kaas', 'tokens', 'typed'), 'utf8')).toBe(`${KEY}\n`);
    });

    it('--insecure-store keeps the token in the config, and logging in again replaces the context', async () => {
      await kaasctl(['login', 'http://kaas.test', '--name', 'acme'], { stdin: stdinWith(KEY) });
      await kaasctl(['login', 'http://other.test', '--name', 'acme', '--insecure-store'], { stdin: stdinWith(KEY) });
      expect(config().contexts).toEqual([{ name: 'acme', server: 'http://other.test', token: KEY }]);
      expect(mode(configPath)).toBe(0o600);
      // the token file of the first login went with it
      expect(readdirSync(join(dir, 'kaas', 'tokens'))).toEqual([]);
    });

    it('writes nothing when the server refuses the token', async () => {
      await expect(kaasctl(['login', 'http://kaas.test'], { stdin: stdinWith('bad\n') })).rejects.toThrow(
        '401: invalid or revoked token',
      );
      expect(existsSync(join(dir, 'kaas'))).toBe(false);
    });

    it('refuses an empty stdin, and --tenant with a tenant key', async () => {
      await expect(kaasctl(['login', 'http://kaas.test'])).rejects.toThrow('no token on standard input');
      await expect(
        kaasctl(['login', 'http://kaas.test', '--tenant', 'acme'], { stdin: stdinWith(KEY) }),
      ).rejects.toThrow('--tenant is for an operator token; this is an API key of tenant "acme"');
      expect(existsSync(configPath)).toBe(false);
    });
  });

  describe('config', () => {
    beforeEach(() => {
      writeConfig({
        'current-context': 'ops',
        contexts: [
          { name: 'ops', server: 'http://ops.test', tokenFile: tokenFile('ops-token', ADMIN), tenant: 'acme' },
          { name: 'inline', server: 'http://inline.test', token: 'secret-inline-token' },
        ],
      });
    });

    it('get-contexts lists them with * on the one in use', async () => {
      await kaasctl(['config', 'get-contexts']);
      expect(printed.split('\n').map((l) => l.trimEnd())).toEqual([
        'NAME     CURRENT   SERVER               TENANT   AUTH',
        'ops      *         http://ops.test      acme     tokenFile',
        'inline             http://inline.test   -        token',
        '',
      ]);
      printed = '';
      await kaasctl(['--context', 'inline', 'config', 'get-contexts', '-o', 'yaml']);
      expect(parse(printed)).toEqual([
        { name: 'ops', current: false, server: 'http://ops.test', tenant: 'acme', auth: 'tokenFile' },
        { name: 'inline', current: true, server: 'http://inline.test', tenant: null, auth: 'token' },
      ]);
    });

    it('use-context and current-context; KAAS_CONTEXT and --context choose another', async () => {
      await kaasctl(['config', 'use-context', 'inline']);
      expect(config()['current-context']).toBe('inline');
      printed = '';
      await kaasctl(['config', 'current-context']);
      expect(printed).toBe('inline\n');
      printed = '';
      await kaasctl(['config', 'current-context'], { env: { ...env, KAAS_CONTEXT: 'ops' } });
      expect(printed).toBe('ops\n');
      await expect(kaasctl(['config', 'use-context', 'nope'])).rejects.toThrow(`no context "nope" in ${configPath}`);
    });

    it('set-context creates and changes contexts, and --tenant "" removes the tenant', async () => {
      const file = tokenFile('new-token', 'new-token');
      await kaasctl(['config', 'set-context', 'new', '--server', 'http://new.test', '--token-file', file]);
      expect(printed).toBe(`context "new" created in ${configPath}\n`);
      await kaasctl(['config', 'set-context', 'inline', '--token-file', file, '--tenant', T_FLAG]);
      await kaasctl(['config', 'set-context', 'ops', '--tenant', '']);
      expect(config()).toEqual({
        'current-context': 'ops',
        contexts: [
          { name: 'ops', server: 'http://ops.test', tokenFile: join(dir, 'ops-token') },
          { name: 'inline', server: 'http://inline.test', tokenFile: file, tenant: T_FLAG },
          { name: 'new', server: 'http://new.test', tokenFile: file },
        ],
      });
      await expect(kaasctl(['config', 'set-context', 'other', '--tenant', 'x'])).rejects.toThrow(
        `no context "other" in ${configPath}; give --server to create it`,
      );
      await expect(kaasctl(['--token', 't', 'config', 'set-context', 'ops'])).rejects.toThrow(/takes no --token/);
    });

    it('delete-context removes the context and the token file login wrote for it', async () => {
      await kaasctl(['login', 'http://kaas.test', '--name', 'acme'], { stdin: stdinWith(KEY) });
      const stored = join(dir, 'kaas', 'tokens', 'acme');
      expect(existsSync(stored)).toBe(true);
      await kaasctl(['config', 'delete-context', 'acme']);
      expect(existsSync(stored)).toBe(false);
      expect(config()['current-context']).toBeUndefined();
      expect(warned).toContain('"acme" was the current context');
      await kaasctl(['config', 'delete-context', 'ops']);
      expect(existsSync(join(dir, 'ops-token'))).toBe(true);
      expect(config().contexts.map((c: { name: string }) => c.name)).toEqual(['inline']);
    });

    it('view never prints a token', async () => {
      await kaasctl(['config', 'view']);
      expect(printed).not.toContain('secret-inline-token');
      expect(printed).not.toContain(ADMIN);
      expect(printed).toContain('token: <redacted>');
      expect(parse(printed).contexts[0].tokenFile).toBe(join(dir, 'ops-token'));
      printed = '';
      await kaasctl(['config', 'view', '-o', 'json']);
      expect(JSON.parse(printed).contexts[1]).toEqual({
        name: 'inline',
        server: 'http://inline.test',
        token: '<redacted>',
      });
    });

    it('writes by renaming a new file over the old, leaving no temporary file', async () => {
      // a file written in place keeps its inode; one renamed over it brings its own
      const before = statSync(configPath).ino;
      await kaasctl(['config', 'use-context', 'inline']);
      const after = statSync(configPath).ino;
      expect(after).not.toBe(before);
      await kaasctl(['config', 'set-context', 'ops', '--server', 'http://ops2.test']);
      expect(statSync(configPath).ino).not.toBe(after);
      expect(readdirSync(join(dir, 'kaas'))).toEqual(['config.yaml']);
      expect(mode(configPath)).toBe(0o600);
    });

    it('names the file when it is malformed', async () => {
      writeConfig('contexts: [name: ops\n');
      await expect(kaasctl(['config', 'get-contexts'])).rejects.toThrow(`${configPath} is not valid YAML`);
      await expect(kaasctl(['vpcs', 'list'])).rejects.toThrow(`${configPath} is not valid YAML`);
      writeConfig({ contexts: [{ name: 'ops', server: 'http://ops.test', tokenfile: '/x' }] });
      await expect(kaasctl(['config', 'view'])).rejects.toThrow(
        `${configPath}: contexts[0] ("ops"): unknown key "tokenfile"`,
      );
      writeConfig({ contexts: { ops: {} } });
      await expect(kaasctl(['--url', 'http://x.test', '--token', 't', 'vpcs', 'list'])).rejects.toThrow(
        `${configPath}: contexts must be a list`,
      );
      expect(sent).toEqual([]);
    });
  });

  describe('where server, token and tenant come from', () => {
    beforeEach(() => {
      writeConfig({
        'current-context': 'ctx',
        contexts: [
          { name: 'ctx', server: 'http://ctx.test', tokenFile: tokenFile('ctx-token', 'ctx-token'), tenant: T_CONTEXT },
          { name: 'other', server: 'http://other.test', token: 'other-token' },
        ],
      });
    });

    const used = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
      sent = [];
      await kaasctl([...args, 'vpcs', 'list'], { env: { ...env, ...extraEnv } });
      return sent.map((s) => ({ host: s.host, token: s.token, tenant: s.tenant }))[0];
    };
    const ENV = { KAAS_URL: 'http://env.test', KAAS_TOKEN: 'env-token', KAAS_TENANT: T_ENV };
    const FLAGS = ['--url', 'http://flag.test', '--token', 'flag-token', '--tenant', T_FLAG];

    it('takes the flag, else the environment, else the current context', async () => {
      expect(await used([])).toEqual({ host: 'ctx.test', token: 'ctx-token', tenant: T_CONTEXT });
      expect(await used([], ENV)).toEqual({ host: 'env.test', token: 'env-token', tenant: T_ENV });
      expect(await used(FLAGS, ENV)).toEqual({ host: 'flag.test', token: 'flag-token', tenant: T_FLAG });
      // each value on its own
      expect(await used(['--url', 'http://flag.test'], { KAAS_TOKEN: 'env-token' })).toEqual({
        host: 'flag.test',
        token: 'env-token',
        tenant: T_CONTEXT,
      });
    });

    it('--context, else KAAS_CONTEXT, picks another context', async () => {
      const other = { host: 'other.test', token: 'other-token', tenant: null };
      expect(await used(['--context', 'other'])).toEqual(other);
      expect(await used([], { KAAS_CONTEXT: 'other' })).toEqual(other);
      expect(await used(['--context', 'ctx'], { KAAS_CONTEXT: 'other' })).toEqual(
        expect.objectContaining({ host: 'ctx.test' }),
      );
      await expect(used(['--context', 'nope'])).rejects.toThrow(`--context nope: no context "nope" in ${configPath}`);
      await expect(used(FLAGS, { KAAS_CONTEXT: 'nope' })).rejects.toThrow(`KAAS_CONTEXT nope: no context "nope"`);
      expect(sent).toEqual([]);
    });

    it('KAAS_TOKEN wins over KAAS_ADMIN_TOKEN, which is used only without it (an empty one is unset)', async () => {
      const both = { KAAS_TOKEN: 'tenant-token', KAAS_ADMIN_TOKEN: 'admin-token' };
      expect((await used([], both)).token).toBe('tenant-token');
      expect((await used([], { KAAS_ADMIN_TOKEN: 'admin-token' })).token).toBe('admin-token');
      expect((await used([], { ...both, KAAS_TOKEN: '' })).token).toBe('admin-token');
      expect((await used(['--token', 'flag-token'], both)).token).toBe('flag-token');
    });

    it('names the context and the file when the token file is gone, and asks for a login without any', async () => {
      rmSync(join(dir, 'ctx-token'));
      await expect(used([])).rejects.toThrow(`cannot read the token file ${join(dir, 'ctx-token')} of context "ctx"`);
      await expect(kaasctl(['vpcs', 'list'], { env: {} })).rejects.toThrow(/no token: run `kaasctl login <server>`/);
      expect(sent).toEqual([]);
    });
  });
});
