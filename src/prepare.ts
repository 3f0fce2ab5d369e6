import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HostEntity, ImageEntity } from './hypervisor/host.entity.js';
import { probeHost } from './hypervisor/hosts.service.js';
import { broadcast, formatCidr, formatIpv4, parseCidr } from './common/cidr.js';
import { FloatingIpRangeEntity } from './networks/network.entities.js';
import { DataSource } from 'typeorm';
import { readIfExists } from './config/bootstrap.js';
import { ConfigError, loadConfig } from './config/config.js';
import { dataSourceOptions } from './config/data-source.js';
import { generateApiKey } from './tenants/api-key-format.js';

/** Writes a file only if it does not exist yet (O_EXCL), readable by its owner alone. */
function createOnce(path: string, content: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, content, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * A new platform with no host gets one simulated host (libvirt's test driver plus the guest
 * simulator), so that a first cluster can be created with API calls alone on any machine.
 */
async function ensureSimulatedHost(ds: DataSource, dataDir: string): Promise<void> {
  const hosts = ds.getRepository(HostEntity);
  if ((await hosts.count()) > 0) return;
  const cpus = 32;
  const memoryMiB = 131072;
  const file = resolve(dataDir, 'simulated-host.xml');
  writeFileSync(
    file,
    `<node>\n  <cpu><mhz>2400</mhz><model>x86_64</model><active>${cpus}</active><nodes>1</nodes><sockets>1</sockets><cores>${cpus}</cores><threads>1</threads></cpu>\n  <memory>${memoryMiB * 1024}</memory>\n</node>\n`,
  );
  await hosts.save(
    hosts.create({
      name: 'simulated-1',
      uri: `test://${file}`,
      domainType: 'qemu',
      simulated: true,
      state: 'Pending',
      cpus,
      memoryMiB,
      drained: false,
    }),
  );
  console.log(`registered a simulated host "simulated-1" (${cpus} CPUs, ${memoryMiB} MiB) at test://${file}`);
}

/** `make run-vms`: the libvirtd in the namespace, as the platform's one real host. */
async function ensureRealHost(ds: DataSource, uri: string, domainType: string): Promise<void> {
  const hosts = ds.getRepository(HostEntity);
  if ((await hosts.count()) > 0) return;
  if (domainType !== 'kvm' && domainType !== 'qemu')
    throw new ConfigError('KAAS_DEFAULT_HOST_DOMAIN_TYPE', 'must be kvm or qemu');
  const { cpus, memoryMiB } = await probeHost(uri, 10000);
  await hosts.save(
    hosts.create({
      name: 'local-1',
      uri,
      domainType,
      simulated: false,
      state: 'Pending',
      cpus,
      memoryMiB,
      drained: false,
    }),
  );
  console.log(`registered the host "local-1" at ${uri} (${cpus} CPUs, ${memoryMiB} MiB, domain type ${domainType})`);
}

async function ensureDefaultImage(ds: DataSource, kernelPath: string, initrdPath: string): Promise<void> {
  const images = ds.getRepository(ImageEntity);
  if (await images.findOneBy({ isDefault: true })) return;
  await images.save(
    images.create({
      name: 'tiny',
      kind: 'kernel',
      kernelPath,
      initrdPath,
      diskPath: null,
      kernelCmdline: 'console=ttyS0 quiet panic=-1',
      isDefault: true,
    }),
  );
  console.log(`registered the default image "tiny" (${kernelPath})`);
}

/** A first floating-IP range, so a tenant can allocate an endpoint right away (empty: none). */
async function ensureFloatingRange(ds: DataSource, cidrText: string): Promise<void> {
  if (!cidrText) return;
  const ranges = ds.getRepository(FloatingIpRangeEntity);
  if ((await ranges.count()) > 0) return;
  const parsed = parseCidr(cidrText);
  if (!parsed.ok || parsed.cidr.prefix < 16 || parsed.cidr.prefix > 29) {
    throw new ConfigError('KAAS_DEFAULT_FLOATING_RANGE', parsed.ok ? 'must be /16 to /29' : parsed.problem);
  }
  const { network } = parsed.cidr;
  await ranges.save(
    ranges.create({
      cidr: formatCidr(parsed.cidr),
      providerCidr: formatCidr(parsed.cidr),
      gateway: formatIpv4(network + 1),
      startAddress: formatIpv4(network + 2),
      endAddress: formatIpv4(broadcast(parsed.cidr) - 1),
    }),
  );
  console.log(`added the floating-IP range ${formatCidr(parsed.cidr)}`);
}

/**
 * What `make run` does before starting the processes: local secrets on first start, then the
 * migrations. Safe to run again and again.
 */
async function main(): Promise<void> {
  const env = process.env;
  const dataDir = env.KAAS_DATA_DIR ?? `${process.cwd()}/.data`;
  if (!env.KAAS_SECRET_KEY) {
    const file = env.KAAS_SECRET_KEY_FILE ?? `${dataDir}/secret.key`;
    if (createOnce(file, randomBytes(32).toString('hex'))) console.log(`generated the secret key in ${file}`);
  }
  if (!env.KAAS_ADMIN_TOKEN) {
    const file = env.KAAS_ADMIN_TOKEN_FILE ?? `${dataDir}/admin-token`;
    if (createOnce(file, `${generateApiKey().key}\n`)) console.log(`generated an admin token in ${file}`);
    console.log(`admin token: stored in ${file} (kaasctl login <server> --name operator --token-file ${file})`);
  }
  const config = loadConfig(env, readIfExists);
  const ds = await new DataSource(dataSourceOptions(config.databaseUrl)).initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'each' });
    console.log(
      ran.length ? `applied migrations: ${ran.map((m) => m.name).join(', ')}` : 'database schema is up to date',
    );
    if (env.KAAS_DEFAULT_HOST_URI)
      await ensureRealHost(ds, env.KAAS_DEFAULT_HOST_URI, env.KAAS_DEFAULT_HOST_DOMAIN_TYPE ?? 'kvm');
    else if (env.KAAS_DEFAULT_SIMULATED_HOST !== '0') await ensureSimulatedHost(ds, dataDir);
    if (env.KAAS_DEFAULT_IMAGE_KERNEL && env.KAAS_DEFAULT_IMAGE_INITRD) {
      await ensureDefaultImage(ds, env.KAAS_DEFAULT_IMAGE_KERNEL, env.KAAS_DEFAULT_IMAGE_INITRD);
    }
    await ensureFloatingRange(ds, env.KAAS_DEFAULT_FLOATING_RANGE ?? '10.250.0.0/24');
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`kaas-prepare: configuration error: ${err.message}`);
  else console.error(`kaas-prepare: ${(err as Error).message}`);
  process.exit(1);
});
