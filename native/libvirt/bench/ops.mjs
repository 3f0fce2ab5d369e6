#!/usr/bin/env node
// Median / p95 wall time of each binding call against libvirt's in-process
// test driver, measured from JS (includes the thread-pool hop and promise
// settlement). Uses the compiled addon directly.
//
//   node native/libvirt/bench/ops.mjs [iterations=200]
//
// Results depend on the machine; the test driver does no real work, so these
// numbers are the binding's own overhead plus libvirt's bookkeeping.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const addon = require(join(here, '..', 'build', 'Release', 'kaas_libvirt.node'));
const N = Number(process.argv[2] ?? 200);

const dir = mkdtempSync(join(tmpdir(), 'kaas-libvirt-bench-'));
const hostFile = join(dir, 'host.xml');
writeFileSync(
  hostFile,
  '<node><cpu><mhz>2400</mhz><model>x86_64</model><active>4</active><nodes>1</nodes>' +
    '<sockets>1</sockets><cores>4</cores><threads>1</threads></cpu><memory>8388608</memory></node>',
);

const domXml = (name) =>
  `<domain type='test'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
const NS = 'https://kaas.dev/xmlns/owner/1';

async function measure(name, fn) {
  const samples = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  const p95 = samples[Math.floor(samples.length * 0.95)];
  return { op: name, medianUs: Math.round(median), p95Us: Math.round(p95) };
}

const conn = new addon.Connection();
const results = [];
try {
  results.push(
    await measure('open+close (test:///PATH)', async () => {
      const c = new addon.Connection();
      await c.open(`test://${hostFile}`);
      await c.close();
    }),
  );
  await conn.open(`test://${hostFile}`);
  await conn.domainDefineXML(domXml('bench'));
  await conn.domainCreate('bench');
  await conn.domainSetMetadata('bench', NS, 'kaas', '<owner tenant="t"/>');
  await conn.storagePoolDefineXML(`<pool type='dir'><name>p</name><target><path>${dir}/p</path></target></pool>`);
  await conn.storagePoolBuild('p');
  await conn.storagePoolCreate('p');

  results.push(await measure('getNodeInfo', () => conn.getNodeInfo()));
  results.push(await measure('isAlive', () => conn.isAlive()));
  results.push(await measure('domainLookupByName', () => conn.domainLookupByName('bench')));
  results.push(await measure('domainGetInfo', () => conn.domainGetInfo('bench')));
  results.push(await measure('domainGetXMLDesc', () => conn.domainGetXMLDesc('bench')));
  results.push(await measure('listAllDomains (1 domain)', () => conn.listAllDomains()));
  results.push(await measure('domainGetMetadata', () => conn.domainGetMetadata('bench', NS)));
  results.push(
    await measure('domainSetMetadata (running: live+config)', (i) =>
      conn.domainSetMetadata('bench', NS, 'kaas', `<owner tenant="t${i}"/>`),
    ),
  );
  results.push(
    await measure('domainDefineXML+domainUndefine', async (i) => {
      await conn.domainDefineXML(domXml(`b${i}`));
      await conn.domainUndefine(`b${i}`);
    }),
  );
  await conn.domainDefineXML(domXml('cycle'));
  results.push(
    await measure('domainCreate+domainDestroy', async () => {
      await conn.domainCreate('cycle');
      await conn.domainDestroy('cycle');
    }),
  );
  results.push(
    await measure('domainLookupByName (missing -> error)', () =>
      conn.domainLookupByName('missing').catch(() => undefined),
    ),
  );
  results.push(await measure('storagePoolGetInfo', () => conn.storagePoolGetInfo('p')));
  results.push(
    await measure('storageVolCreateXML(qcow2)+storageVolDelete', async (i) => {
      await conn.storageVolCreateXML(
        'p',
        `<volume><name>v${i}.qcow2</name><capacity unit='G'>1</capacity><target><format type='qcow2'/></target></volume>`,
      );
      await conn.storageVolDelete('p', `v${i}.qcow2`);
    }),
  );
  // throughput: 50 concurrent calls on the one connection
  const rounds = Math.max(1, Math.floor(N / 10));
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: 50 }, () => conn.domainGetInfo('bench')));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.table(results);
  console.log(
    `concurrent domainGetInfo x50: ${Math.round((rounds * 50) / secs)} calls/s ` +
      `(UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, iterations=${N})`,
  );
} finally {
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
}
