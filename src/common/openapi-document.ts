import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_TAGS, ErrorResponse, errorResponseObject, FieldProblemResponse, type ErrorStatus } from './openapi.js';

type OperationObject = NonNullable<OpenAPIObject['paths'][string]['get']>;
type ParameterObject = Exclude<NonNullable<OperationObject['parameters']>[number], { $ref: string }>;

const DESCRIPTION = `Kubernetes-as-a-Service on your own KVM hosts.

- **Auth**: \`Authorization: Bearer <token>\`. A tenant's API key acts as that tenant; the admin token acts as
  the operator, who names the tenant to act for in \`X-Kaas-Tenant\` on tenant routes.
- **Errors** answer \`{statusCode, error, code, message, details?, requestId}\` (\`ErrorResponse\`).
- **Long-running changes** answer \`202 Accepted\` with the resource as it is now; poll \`GET\` for progress.
- **Lists** answer \`{items, nextCursor?}\`; \`?limit=\` (default 100, at most 1000) and \`?cursor=\` page through
  lists that can grow. Lists of named resources take \`?name=\`.
- **Writes** accept an \`Idempotency-Key\` header: the same key and request within 24 h gets the first answer
  again and does nothing twice.
- **Clusters** answer \`ETag: "<generation>"\`; writes that carry \`If-Match\` with another value get 412.`;

const IDEMPOTENCY_KEY: ParameterObject = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'the same key and request within 24 h gets the first answer again (with `Idempotent-Replayed: true`) and ' +
    'does nothing twice; the same key with another request, or while the first is still being answered, is 409',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
};

const WRITES = new Set(['post', 'put', 'patch', 'delete']);
/** What any write can answer, whatever its route: its body, or its Idempotency-Key, refused. */
const WRITE_ERRORS: ErrorStatus[] = [400, 409, 413, 415];

/**
 * What applies to writes by their method rather than by their route (IdempotencyInterceptor on
 * every signed-in write; the JSON body checks of the middleware), added to each of them.
 */
function describeWrites(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(item) as [string, OperationObject][]) {
      if (!WRITES.has(method) || !operation.security?.length) continue;
      operation.parameters = [...(operation.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }];
      for (const status of WRITE_ERRORS) operation.responses[status] ??= errorResponseObject(status);
    }
  }
}

function byKey<T>(entries: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Paths and components in name order, so that the document does not change with the order of modules. */
function canonical(document: OpenAPIObject): OpenAPIObject {
  const components = Object.fromEntries(
    Object.entries(document.components ?? {}).map(([section, entries]) => [
      section,
      byKey(entries as Record<string, unknown>),
    ]),
  );
  return { ...document, paths: byKey(document.paths), components: byKey(components) };
}

/** The API's OpenAPI document, from the application's controllers and their decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('kaas')
    .setDescription(DESCRIPTION)
    .setVersion('1.1')
    .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
    .addServer('/', 'where this document is served from')
    .addServer('http://127.0.0.1:8080', 'the default of `make run` (KAAS_HOST, KAAS_PORT)')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque',
        description: "a tenant's API key, or an admin token (the operator)",
      },
      'bearer',
    );
  for (const [name, description] of Object.entries(API_TAGS)) builder.addTag(name, description);
  const built = builder.build();
  // DocumentBuilder always sets an empty contact; the document has none.
  const { contact: _empty, ...info } = built.info;
  const config = {
    ...built,
    info,
    components: { ...built.components, parameters: { IdempotencyKey: IDEMPOTENCY_KEY } },
  };
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponse, FieldProblemResponse] });
  describeWrites(document);
  return canonical(document);
}
