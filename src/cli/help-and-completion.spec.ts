import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { CommanderError } from 'commander';
import { ApiError } from './api-client.js';
import { complete, printCompletions } from './completion.js';
import { EXIT, exitCodeOf, UsageError } from './errors.js';
import { commandPaths, EXAMPLES } from './examples.js';
import { kaasctlProgram, throwOnUsageErrors } from './program.js';

describe('help', () => {
  const paths = commandPaths(kaasctlProgram({}));

  it('gives every command a description and an example', () => {
    const undescribed = [...paths].filter(([p, c]) => p && !c.description()).map(([p]) => p);
    expect(undescribed).toEqual([]);
    const withoutExample = [...paths.keys()].filter((p) => !EXAMPLES[p]?.length);
    expect(withoutExample).toEqual([]);
    // and no example for a command that does not exist
    expect(Object.keys(EXAMPLES).filter((p) => !paths.has(p))).toEqual([]);
  });

  it('has each example run the command it is the example of', () => {
    for (const [path, lines] of Object.entries(EXAMPLES)) {
      if (!path || path === 'completion') continue;
      const words = path.split(' ');
      const runs = lines.some((l) => {
        const argv = l
          .split(/\s+/)
          .filter((w) => !w.startsWith('-'))
          .slice(1);
        return words.every((w, i) => argv[i] === w);
      });
      expect({ path, runs }).toEqual({ path, runs: true });
    }
  });

  it('shows the examples and the exit codes in --help', () => {
    const out: string[] = [];
    const program = throwOnUsageErrors(kaasctlProgram({}));
    program.configureOutput({ writeOut: (t) => out.push(t), writeErr: (t) => out.push(t) });
    const scale = paths.get('clusters scale')!;
    scale.configureOutput({ writeOut: (t) => out.push(t) });
    scale.outputHelp();
    expect(out.join('')).toContain('kaasctl clusters scale web --workers 5 --wait');
    out.length = 0;
    program.outputHelp();
    expect(out.join('')).toMatch(/Exit codes: 0 done; 1 refused or failed .* 2 usage/s);
  });
});

describe('exit codes', () => {
  it('is 2 for usage, 1 for refusals and failures, 0 for help', () => {
    expect(exitCodeOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--nope'"))).toBe(
      EXIT.usage,
    );
    expect(exitCodeOf(new CommanderError(1, 'commander.invalidArgument', 'bad'))).toBe(EXIT.usage);
    expect(exitCodeOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(EXIT.done);
    expect(exitCodeOf(new UsageError('give --workers or --pool, not both'))).toBe(EXIT.usage);
    expect(exitCodeOf(new ApiError(404, { message: 'no such cluster' }))).toBe(EXIT.failed);
    expect(exitCodeOf(new ApiError(503, { message: 'down' }))).toBe(EXIT.failed);
    expect(exitCodeOf(new Error('cannot reach the kaas API'))).toBe(EXIT.failed);
  });

  it('reports a malformed number as a usage error before anything is sent', async () => {
    const fetch = jest.spyOn(globalThis, 'fetch');
    const run = throwOnUsageErrors(kaasctlProgram({})).parseAsync(
      ['--url', 'http://kaas.test', '--token', 't', 'clusters', 'scale', 'web', '--workers', 'many'],
      { from: 'user' },
    );
    await expect(run).rejects.toThrow(CommanderError);
    await run.catch((err) => expect(exitCodeOf(err)).toBe(EXIT.usage));
    expect(fetch).not.toHaveBeenCalled();
    fetch.mockRestore();
  });
});

describe('completion', () => {
  const program = kaasctlProgram({});
  const asked: string[] = [];
  const names = async (list: string) => {
    asked.push(list);
    return list === '/v1/clusters' ? ['web', 'db', 'batch'] : ['prod'];
  };
  beforeEach(() => {
    asked.length = 0;
  });

  it('completes commands, subcommands and options', async () => {
    expect(await complete(program, ['clu'], names)).toEqual(['clusters']);
    expect(await complete(program, ['clusters', 'p'], names)).toEqual(['pause', 'pools']);
    expect(await complete(program, ['clusters', 'pools', ''], names)).toEqual([
      'add',
      'list',
      'remove',
      'scale',
      'set',
      'show',
    ]);
    expect(await complete(program, ['clusters', 'scale', 'web', '--w'], names)).toEqual(['--wait', '--workers']);
    // global options everywhere
    expect(await complete(program, ['vpcs', 'list', '--out'], names)).toEqual(['--output']);
    expect(asked).toEqual([]);
  });

  it("completes an option's values and resource names from the platform", async () => {
    expect(await complete(program, ['-o', ''], names)).toEqual(['json', 'name', 'table', 'wide', 'yaml']);
    expect(await complete(program, ['clusters', 'list', '--output', 'w'], names)).toEqual(['wide']);
    expect(await complete(program, ['clusters', 'scale', 'b'], names)).toEqual(['batch']);
    expect(await complete(program, ['clusters', 'pools', 'add', ''], names)).toEqual(['batch', 'db', 'web']);
    expect(await complete(program, ['vpcs', 'delete', ''], names)).toEqual(['prod']);
    // a flag's value is not taken for a command
    expect(await complete(program, ['--tenant', 'acme', 'clusters', 'show', 'w'], names)).toEqual(['web']);
    // a new resource's name is the user's to choose
    expect(await complete(program, ['clusters', 'create', ''], names)).toEqual([]);
    expect(asked).toEqual(['/v1/clusters', '/v1/clusters', '/v1/vpcs', '/v1/clusters']);
  });

  it('prints nothing when the platform cannot be asked', async () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await printCompletions(program, ['clusters', 'show', ''], async () => {
      throw new Error('unreachable');
    });
    expect(out).not.toHaveBeenCalled();
    out.mockRestore();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });
});
