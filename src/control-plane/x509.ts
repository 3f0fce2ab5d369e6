import { createHash, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { isIPv4 } from 'node:net';

/**
 * Just enough DER (ITU-T X.690) and X.509 (RFC 5280) to issue the certificates of a cluster:
 * a CA and the certificates it signs, with ECDSA P-256 or RSA keys, signed by Node's native
 * crypto. Nothing here parses untrusted input: the only certificates read back are the
 * platform's own CA certificates.
 */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const nul = () => Buffer.from([0x05, 0x00]);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

/** A non-negative INTEGER from big-endian bytes. */
function uint(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1] < 0x80) b = b.subarray(1);
  return tlv(0x02, b[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const group = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) group.unshift((v & 0x7f) | 0x80);
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280, 4.1.2.5), to the second, in UTC. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

export interface DistinguishedName {
  commonName: string;
  organization?: string;
}

export function name(dn: DistinguishedName): Buffer {
  const rdn = (type: string, value: string) => set(seq(oid(type), utf8(value)));
  return seq(...(dn.organization ? [rdn('2.5.4.10', dn.organization)] : []), rdn('2.5.4.3', dn.commonName));
}

/** One element of DER: its tag, where its content starts and where it ends. */
function element(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i];
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

/** The DER of a certificate's subject name, to be the issuer of what it signs. */
export function subjectOf(certDer: Buffer): Buffer {
  const cert = element(certDer, 0);
  const tbs = element(certDer, cert.start);
  let at = tbs.start;
  let index = 0;
  // version [0] (optional), serial, signature algorithm, issuer, validity, subject
  if (certDer[at] === 0xa0) at = element(certDer, at).end;
  for (; index < 4; index++) at = element(certDer, at).end;
  const subject = element(certDer, at);
  return certDer.subarray(at, subject.end);
}

export function pemToDer(pem: string): Buffer {
  const body = pem.match(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/);
  if (!body) throw new Error('not a PEM certificate');
  return Buffer.from(body[1].replace(/\s+/g, ''), 'base64');
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The SHA-1 of the public key's bits (RFC 5280, 4.2.1.2, method 1). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const outer = element(spki, 0);
  const algorithm = element(spki, outer.start);
  const bits = element(spki, algorithm.end);
  return createHash('sha1')
    .update(spki.subarray(bits.start + 1, bits.end))
    .digest();
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256, no parameters
  if (key.asymmetricKeyType === 'rsa') return seq(oid('1.2.840.113549.1.1.11'), nul()); // sha256WithRSAEncryption
  throw new Error(`cannot sign with a ${key.asymmetricKeyType} key`);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export type KeyUsage = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BITS: Record<KeyUsage, number> = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
};

/** A named BIT STRING in DER: trailing zero bits dropped (X.690, 11.2.2). */
function keyUsage(usages: KeyUsage[]): Buffer {
  const bits = usages.map((u) => KEY_USAGE_BITS[u]);
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)] |= 0x80 >> (b % 8);
  return bitString(bytes, 7 - (highest % 8));
}

function ipv4(address: string): Buffer {
  if (!isIPv4(address)) throw new Error(`only IPv4 addresses go into certificates, got "${address}"`);
  return Buffer.from(address.split('.').map(Number));
}

export interface CertificateRequest {
  subject: DistinguishedName;
  /** The subject's public key. */
  publicKey: KeyObject;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  keyUsage: KeyUsage[];
  extendedKeyUsage?: { server?: boolean; client?: boolean };
  dns?: string[];
  ips?: string[];
  /** Who signs: its private key and, unless self-signed, its certificate (DER). */
  issuer: { privateKey: KeyObject; certDer?: Buffer };
}

/** A signed X.509 v3 certificate, as DER. */
export function createCertificate(req: CertificateRequest): Buffer {
  const issuerKey = req.issuer.privateKey;
  const algorithm = signatureAlgorithm(issuerKey);
  const subject = name(req.subject);
  const issuer = req.issuer.certDer ? subjectOf(req.issuer.certDer) : subject;
  const extensions = [
    extension('2.5.29.19', true, seq(...(req.ca ? [bool(true)] : []))), // basicConstraints
    extension('2.5.29.15', true, keyUsage(req.keyUsage)),
    extension('2.5.29.14', false, octets(keyIdentifier(req.publicKey))), // subjectKeyIdentifier
    // authorityKeyIdentifier: keyIdentifier [0] IMPLICIT
    extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(createPublicKey(issuerKey))))),
  ];
  const eku = [
    ...(req.extendedKeyUsage?.server ? ['1.3.6.1.5.5.7.3.1'] : []),
    ...(req.extendedKeyUsage?.client ? ['1.3.6.1.5.5.7.3.2'] : []),
  ];
  if (eku.length) extensions.push(extension('2.5.29.37', false, seq(...eku.map(oid))));
  const altNames = [
    ...(req.dns ?? []).map((d) => tlv(0x82, Buffer.from(d, 'ascii'))), // dNSName [2] IA5String
    ...(req.ips ?? []).map((ip) => tlv(0x87, ipv4(ip))), // iPAddress [7]
  ];
  if (altNames.length) extensions.push(extension('2.5.29.17', false, seq(...altNames)));
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(req.serial),
    algorithm,
    issuer,
    seq(time(req.notBefore), time(req.notAfter)),
    subject,
    req.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  return seq(tbs, algorithm, bitString(sign('sha256', tbs, issuerKey)));
}
