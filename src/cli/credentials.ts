import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Schemas } from '../api/client.js';
import { type ApiClient, dataOf } from './api-client.js';
import { ensureFolder, writeAtomically } from './config-file.js';
import { intOption, surroundings } from './context.js';
import { UsageError } from './errors.js';
import type { ClusterRef } from './pool-commands.js';
import { getCluster } from './rollout-wait.js';

/** What answers on a cluster's endpoint, as its bundle says (GET /v1/control-planes). */
export type EndpointProtocol = Schemas['ControlPlaneEndpointResponse']['protocol'];

interface KubeconfigDoc {
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
}

type Named = { name: string };

/**
 * The name of a cluster's kubeconfig entries: `<platform>-<tenant>-<cluster>`, the platform being
 * the API's host (and port), so that two platforms, or two tenants of one, never share a name.
 */
export function kubeContextName(serverUrl: string, tenant: string, cluster: string): string {
  return `${new URL(serverUrl).host}-${tenant}-${cluster}`;
}

/** The kubeconfig as the API gives it, its cluster, user and context renamed `name` (the user `name-admin`). */
export function renameKubeconfig(text: string, name: string): string {
  const doc = parse(text) as KubeconfigDoc;
  const user = `${name}-admin`;
  doc.clusters = doc.clusters.map((c) => ({ ...c, name }));
  doc.users = doc.users.map((u) => ({ ...u, name: user }));
  doc.contexts = doc.contexts.map((c) => ({ ...c, name, context: { ...c.context, cluster: name, user } }));
  doc['current-context'] = name;
  return stringify(doc);
}

/**
 * Adds the kubeconfig's entries to an existing kubeconfig (or to a new one), keeping the others; an
 * entry of the same name (the same cluster, downloaded again) is replaced, and `replaced` says so.
 * The current context stays unless `setCurrent` (or there is none yet).
 */
export function mergeKubeconfig(
  existingText: string | undefined,
  addition: string,
  setCurrent = false,
): { text: string; replaced: boolean } {
  const base = (existingText ? parse(existingText) : null) ?? {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [],
    users: [],
    contexts: [],
    preferences: {},
  };
  const add = parse(addition) as { clusters: Named[]; users: Named[]; contexts: Named[]; 'current-context': string };
  let replaced = false;
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    const list: Named[] = Array.isArray(base[key]) ? base[key] : [];
    for (const item of add[key]) {
      const i = list.findIndex((x) => x.name === item.name);
      if (i >= 0) {
        list[i] = item;
        if (key === 'contexts') replaced = true;
      } else list.push(item);
    }
    base[key] = list;
  }
  if (setCurrent || !base['current-context']) base['current-context'] = add['current-context'];
  return { text: stringify(base), replaced };
}

/** The protocol of the cluster's endpoint; `kubernetes` when the platform does not say. */
export async function endpointProtocol(
  client: ApiClient,
  cluster: Pick<Schemas['ClusterResponse'], 'controlPlane'>,
): Promise<EndpointProtocol> {
  const planes = await dataOf(client.api.GET('/v1/control-planes'));
  return planes.items.find((p) => p.name === cluster.controlPlane)?.endpoint?.protocol ?? 'kubernetes';
}

/** The tenant's name, for kubeconfig names: the key's own tenant, or the one an operator acts for. */
async function tenantName(client: ApiClient): Promise<string> {
  return (await dataOf(client.api.GET('/v1/tenant'))).name;
}

/** The kubeconfig the API issues (YAML), its client certificate valid for `ttl` seconds (the API's default without). */
async function download(client: ApiClient, id: string, ttl: number | undefined): Promise<string> {
  return dataOf(
    client.api.GET('/v1/clusters/{id}/kubeconfig', {
      params: { path: { id }, query: { ttlSeconds: ttl } },
      headers: { accept: 'application/yaml' },
      parseAs: 'text',
    }),
  );
}

const ttlOption = (cmd: Command) =>
  cmd.option(
    '--ttl <seconds>',
    "the client certificate's lifetime (60 to 2592000; the API's default is 86400)",
    intOption('ttl'),
  );

/** `clusters kubeconfig` and `clusters credentials`. */
export function credentialCommands(byName: ClusterRef): Command[] {
  const kubeconfig = ttlOption(
    new Command('kubeconfig')
      .argument('<cluster>')
      .summary("print the cluster's kubeconfig, or merge it into your kubeconfig file")
      .description(
        "print the cluster's kubeconfig (its client certificate issued for this download), or with --merge add it " +
          'to the kubeconfig file ($KUBECONFIG, else ~/.kube/config) as the context <platform>-<tenant>-<cluster>, ' +
          'written atomically with mode 0600. For a cluster whose endpoint is not a Kubernetes API (etcd), --merge ' +
          'refuses: use clusters credentials',
      )
      .option('--merge', 'add to the kubeconfig file instead of printing')
      .option('--set-current', 'with --merge: make it the current context')
      .option('--context-name <name>', 'with --merge: the name of the entries (default <platform>-<tenant>-<cluster>)'),
  ).action(
    async (
      name: string,
      o: { merge?: boolean; setCurrent?: boolean; contextName?: string; ttl?: number },
      command: Command,
    ) => {
      if (!o.merge && (o.setCurrent || o.contextName))
        throw new UsageError('--set-current and --context-name go with --merge');
      const { ctx, client, id } = await byName(command, name);
      if (!o.merge) {
        process.stdout.write(await download(client, id, o.ttl));
        return;
      }
      const cluster = await getCluster(client, id);
      if ((await endpointProtocol(client, cluster)) !== 'kubernetes') {
        throw new Error(
          `cluster ${cluster.name} runs ${cluster.controlPlane}: its endpoint is not a Kubernetes API, so kubectl ` +
            `cannot use it; kaasctl clusters credentials ${cluster.name} writes what its own client needs`,
        );
      }
      const contextName = o.contextName ?? kubeContextName(ctx.options.url, await tenantName(client), cluster.name);
      const env = surroundings(command).env;
      const file = resolve(env.KUBECONFIG?.split(':')[0] || join(env.HOME ?? '.', '.kube', 'config'));
      const addition = renameKubeconfig(await download(client, id, o.ttl), contextName);
      const { text, replaced } = mergeKubeconfig(
        existsSync(file) ? readFileSync(file, 'utf8') : undefined,
        addition,
        o.setCurrent,
      );
      writeAtomically(file, text);
      process.stdout.write(
        `${replaced ? 'updated' : 'added'} context ${contextName} in ${file}${o.setCurrent ? ' (current)' : ''}\n`,
      );
    },
  );

  const credentials = ttlOption(
    new Command('credentials')
      .argument('<cluster>')
      .summary("write the files the cluster's own client needs (kubectl, or etcdctl)")
      .description(
        "write the files the client of the cluster's control plane needs, into a folder of their own (0700, files " +
          '0600): for a Kubernetes endpoint a kubeconfig; for etcd the CA certificate, a client certificate and key, ' +
          'and etcdctl.env, which sets ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY',
      )
      .option('--dir <folder>', 'where to write (default ~/.config/kaas/clusters/<platform>-<tenant>-<cluster>)'),
  ).action(async (name: string, o: { dir?: string; ttl?: number }, command: Command) => {
    const { ctx, client, id } = await byName(command, name);
    const cluster = await getCluster(client, id);
    const protocol = await endpointProtocol(client, cluster);
    const env = surroundings(command).env;
    const contextName = kubeContextName(ctx.options.url, await tenantName(client), cluster.name);
    const dir = resolve(o.dir ?? join(env.HOME ?? '.', '.config', 'kaas', 'clusters', contextName));
    const yaml = renameKubeconfig(await download(client, id, o.ttl), contextName);
    ensureFolder(dir);
    if (protocol === 'kubernetes') {
      const file = join(dir, 'kubeconfig');
      writeAtomically(file, yaml);
      process.stdout.write(`wrote ${file}\nuse it with: export KUBECONFIG=${file}\n`);
      return;
    }
    const doc = parse(yaml) as KubeconfigDoc;
    const fromB64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    const files = {
      ca: join(dir, 'ca.crt'),
      cert: join(dir, 'client.crt'),
      key: join(dir, 'client.key'),
      env: join(dir, 'etcdctl.env'),
    };
    writeAtomically(files.ca, fromB64(doc.clusters[0].cluster['certificate-authority-data']));
    writeAtomically(files.cert, fromB64(doc.users[0].user['client-certificate-data']));
    writeAtomically(files.key, fromB64(doc.users[0].user['client-key-data']));
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    writeAtomically(
      files.env,
      [
        `# etcdctl for cluster ${cluster.name}: . ${files.env}`,
        'export ETCDCTL_API=3',
        `export ETCDCTL_ENDPOINTS=${quote(doc.clusters[0].cluster.server)}`,
        `export ETCDCTL_CACERT=${quote(files.ca)}`,
        `export ETCDCTL_CERT=${quote(files.cert)}`,
        `export ETCDCTL_KEY=${quote(files.key)}`,
        '',
      ].join('\n'),
    );
    process.stdout.write(`wrote ${dir}/{ca.crt,client.crt,client.key,etcdctl.env}\nuse it with: . ${files.env}\n`);
  });
  return [kubeconfig, credentials];
}
