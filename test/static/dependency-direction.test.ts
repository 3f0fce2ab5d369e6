import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

/** The lint rules that keep dependencies pointing one way catch an import against the direction. */
describe('dependency direction', () => {
  const eslint = new ESLint({ cwd: process.cwd() });

  async function restricted(filePath: string, from: string): Promise<string[]> {
    const [result] = await eslint.lintText(`import { X } from '${from}';\nexport const y = X;\n`, { filePath });
    return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  }

  it.each([
    ['src/nodes/x.ts', '../clusters/clusters.repository.js'],
    ['src/nodes/x.ts', '../control-plane/bundles.service.js'],
    ['src/control-plane/x.ts', '../clusters/cluster.entity.js'],
    ['src/control-plane/x.ts', '../reconcilers/node/node.reconciler.js'],
    ['src/clusters/x.ts', '../reconcilers/autoscaler.handler.js'],
    ['src/hypervisor/backends/x.ts', '../../nodes/node.entity.js'],
    ['src/networks/x.ts', '../control-plane/cluster-pki.js'],
    ['src/events/x.ts', '../clusters/clusters.repository.js'],
  ])('refuses %s importing %s', async (file, from) => {
    expect(await restricted(file, from)).toHaveLength(1);
  });

  it.each([
    ['src/reconcilers/node/x.ts', '../../clusters/clusters.repository.js'],
    ['src/clusters/x.ts', '../control-plane/bundles.service.js'],
    ['src/control-plane/x.ts', '../nodes/nodes.repository.js'],
    ['src/nodes/x.ts', '../hypervisor/backends/index.js'],
  ])('lets %s import %s', async (file, from) => {
    expect(await restricted(file, from)).toEqual([]);
  });
});
