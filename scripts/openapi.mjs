#!/usr/bin/env node
// The API's OpenAPI document and the TypeScript types generated from it, both committed:
//   docs/openapi.json   what `GET /docs-json` serves, made from the built app (dist/) in Nest's
//                       preview mode, so neither PostgreSQL nor Redis is needed
//   src/api/openapi.ts  openapi-typescript's types of docs/openapi.json (used with openapi-fetch)
//
//   npm run openapi                         build, then write both
//   node scripts/openapi.mjs --check        fail if either differs from what would be written
//   node scripts/openapi.mjs --check-types  the types only (no build needed)
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import * as prettier from 'prettier';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOCUMENT = 'docs/openapi.json';
const TYPES = 'src/api/openapi.ts';

async function formatted(file, text) {
  const path = join(ROOT, file);
  return prettier.format(text, { ...(await prettier.resolveConfig(path)), filepath: path });
}

/** The document as the running API builds it, from the compiled code. */
async function documentText() {
  const { createOpenApiDocument } = await import(join(ROOT, 'dist/src/http-app.js'));
  const { loadConfig } = await import(join(ROOT, 'dist/src/config/config.js'));
  const { createLogger } = await import(join(ROOT, 'dist/src/common/logger.js'));
  // Nothing is connected in preview mode: the configuration only has to be valid.
  const config = loadConfig({ KAAS_SECRET_KEY: randomBytes(32).toString('hex'), KAAS_LOG_LEVEL: 'silent' });
  const document = await createOpenApiDocument(config, createLogger('silent', 'openapi'));
  return formatted(DOCUMENT, JSON.stringify(document, null, 2));
}

async function typesText(document) {
  // A default is what the server assumes when a field is absent: the field stays optional.
  const nodes = await openapiTS(JSON.parse(document), { silent: true, defaultNonNullable: false });
  const header = `${COMMENT_HEADER.trim()}\n// Made from ${DOCUMENT} by \`npm run openapi\`.\n\n`;
  return formatted(TYPES, header + astToString(nodes));
}

function read(file) {
  try {
    return readFileSync(join(ROOT, file), 'utf8');
  } catch {
    return '';
  }
}

const mode = process.argv[2];
if (mode !== undefined && mode !== '--check' && mode !== '--check-types') {
  console.error('usage: node scripts/openapi.mjs [--check | --check-types]');
  process.exit(2);
}
const wanted = {};
wanted[DOCUMENT] = mode === '--check-types' ? read(DOCUMENT) : await documentText();
wanted[TYPES] = await typesText(wanted[DOCUMENT]);
if (mode === undefined) {
  for (const [file, text] of Object.entries(wanted)) writeFileSync(join(ROOT, file), text);
  console.log(`openapi: wrote ${Object.keys(wanted).join(' and ')}`);
} else {
  const stale = Object.entries(wanted).filter(([file, text]) => read(file) !== text);
  for (const [file] of stale) {
    console.error(
      `openapi: ${file} is not what ${file === TYPES ? `openapi-typescript makes of ${DOCUMENT}` : 'the API serves'}: ` +
        'run `npm run openapi` and commit the result',
    );
  }
  process.exit(stale.length > 0 ? 1 : 0);
}
