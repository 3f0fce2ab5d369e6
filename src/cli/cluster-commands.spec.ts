import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { mergeKubeconfig } from './cluster-commands.js';

const addition = `apiVersion: v1
kind: Config
clusters:
- name: kaas-web
  cluster: {server: "https://10.0.0.9:2379"}
users:
- name: kaas-web-admin
  user: {client-key-data: abc}
contexts:
- name: kaas-web
  context: {cluster: kaas-web, user: kaas-web-admin}
current-context: kaas-web
`;

describe('mergeKubeconfig', () => {
  it('adds a context without touching the others or the current context', () => {
    const existing = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod:6443"}
users:
- name: me
  user: {token: t}
contexts:
- name: prod
  context: {cluster: prod, user: me}
current-context: prod
`;
    const merged = parse(mergeKubeconfig(existing, addition));
    expect(merged.contexts.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.clusters.map((c: { name: string }) => c.name)).toEqual(['prod', 'kaas-web']);
    expect(merged.users[0]).toEqual({ name: 'me', user: { token: 't' } });
    expect(merged['current-context']).toBe('prod');
  });

  it('creates a config when there is none, and replaces an entry of the same name', () => {
    const first = mergeKubeconfig(undefined, addition);
    expect(parse(first)['current-context']).toBe('kaas-web');
    const again = parse(mergeKubeconfig(first, addition.replace('10.0.0.9', '10.0.0.10')));
    expect(again.clusters).toHaveLength(1);
    expect(again.clusters[0].cluster.server).toBe('https://10.0.0.9'.replace('9', '10') + ':2379');
  });
});
