import { applyDecorators, type Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Page } from './pagination.js';
import { ErrorCode, type FieldProblem } from './domain-error.js';
import type { ErrorBody } from './http-exception.filter.js';

/**
 * Decorators that describe the API in its OpenAPI document (docs/openapi.json, `GET /docs-json`):
 * the error body, the statuses each route can answer with, pages and lists, and the headers of
 * the auth guard and of optimistic concurrency. They change no behaviour.
 */

/** The tags of the document, in the order the UI lists them. */
export const API_TAGS = {
  'tenant: account': "The caller's own tenant: its quota and what it uses of it.",
  'tenant: storage pools': "Capacity for nodes' disks and backups, counted against the tenant's storage quota.",
  'tenant: VPCs': "Private IPv4 networks that a cluster's nodes live on; a VPC spans every host that runs one of them.",
  'tenant: floating IPs':
    "Addresses drawn from the operator's ranges; the one a cluster is created with is its endpoint.",
  'tenant: clusters':
    'Clusters and their nodes, worker pools, events, kubeconfigs and certificates, the control-plane bundles ' +
    'they run, and the stream of their events.',
  'tenant: backups': "Snapshots of a cluster's control plane, kept in its storage pool; they outlive the cluster.",
  'operator: tenants': 'Tenants, their quotas and API keys, and further admin tokens.',
  'operator: hosts and images':
    'The KVM hosts nodes run on (libvirt URIs; hosts on the test driver, `test:///` or `test+unix:///`, run simulated guests) and the images guests boot.',
  'operator: floating-IP ranges': 'The ranges that floating IPs are drawn from.',
  'operator: health': 'A health sweep of every host, on demand.',
  'operator: audit log': 'Every write to the API: who, what, when, from where, and the outcome.',
  'operator: secret keys': 'The keys that seal secrets at rest.',
  platform: 'Liveness, readiness and metrics of the platform itself.',
} as const;
export type ApiTag = keyof typeof API_TAGS;

export class FieldProblemResponse implements FieldProblem {
  @ApiProperty({ example: 'nodeSpec.vcpus' }) field: string;
  @ApiProperty({ type: [String], example: ['nodeSpec.vcpus must be at most 64'] }) problems: string[];
}

/** The one error body (HttpExceptionFilter). */
export class ErrorResponse implements ErrorBody {
  @ApiProperty({ type: 'integer', example: 404 }) statusCode: number;
  @ApiProperty({ example: 'Not Found', description: 'the reason phrase of the status' }) error: string;
  @ApiProperty({ enum: Object.values(ErrorCode), enumName: 'ErrorCode', example: ErrorCode.NotFound })
  code: ErrorCode;
  @ApiProperty({ example: 'cluster 0b6f6c1e-3f1c-4a53-9d1e-8f1f2b0c9a11 not found' }) message: string;
  @ApiPropertyOptional({
    description:
      'validation failures: each offending field with its problems; other errors: facts about it ' +
      '(the quota and its figures, the current generation, the pools in the way, ...)',
    oneOf: [
      { type: 'array', items: { $ref: '#/components/schemas/FieldProblemResponse' } },
      { type: 'object', additionalProperties: true },
    ],
  })
  details?: FieldProblem[] | Record<string, unknown>;
  @ApiProperty({ description: 'also in the X-Request-Id response header; quote it when reporting a problem' })
  requestId: string;
}

/** The statuses an error body comes with, and what each means wherever it is not said more precisely. */
export const ERROR_STATUSES = {
  400: 'invalid request: `message` and `details` name each offending field',
  401: 'no bearer token, or one that is wrong or revoked',
  403: 'a tenant key on an operator route',
  404: "no such resource (another tenant's resources are not found either)",
  409: 'in use, a duplicate, or a state that does not allow the change',
  412: 'If-Match names another generation than the current one: nothing changed',
  413: 'the request body is larger than the limit (KAAS_BODY_LIMIT)',
  415: 'a request body that is not JSON',
  422: 'over quota (`details` names the quota), or not possible as asked',
  429: 'over a request limit (per key, per address, or failed authentications); see docs/security.md',
  500: 'an unexpected error: quote `requestId` when reporting it',
  503: 'something the request needs does not answer now; try again later',
} as const;
export type ErrorStatus = keyof typeof ERROR_STATUSES;

const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } };

/** The response object of an error status, with the error body (for the document's own additions). */
export function errorResponseObject(status: ErrorStatus, description: string = ERROR_STATUSES[status]) {
  return {
    description,
    ...(status === 429 ? { headers: RETRY_AFTER } : {}),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
  };
}

/**
 * The error statuses a route (or every route of a class) can answer with, each with the error
 * body: `ApiErrors(404, [409, 'while a node uses it'])`.
 */
export function ApiErrors(...errors: (ErrorStatus | [ErrorStatus, string])[]) {
  return applyDecorators(
    ...errors.map((e) => {
      const [status, description] = Array.isArray(e) ? e : [e, ERROR_STATUSES[e]];
      return ApiResponse({
        status,
        description,
        type: ErrorResponse,
        ...(status === 429 ? { headers: RETRY_AFTER } : {}),
      });
    }),
  );
}

const TENANT_HEADER = {
  name: 'X-Kaas-Tenant',
  required: false,
  description: 'operator only, and then required: the id of the tenant to act for',
  schema: { type: 'string', format: 'uuid' },
};

function signedIn(tag: ApiTag) {
  return applyDecorators(ApiTags(tag), ApiBearerAuth(), ApiErrors(401, 429, 500));
}

/** A controller of `@TenantRoute()`s: a tenant key, or the operator naming the tenant. */
export function ApiTenantRoutes(tag: ApiTag) {
  return applyDecorators(
    signedIn(tag),
    ApiHeader(TENANT_HEADER),
    ApiErrors([400, `${ERROR_STATUSES[400]}; the operator without a valid X-Kaas-Tenant`]),
  );
}

/** A controller of `@AdminOnly()` routes. */
export function ApiOperatorRoutes(tag: ApiTag) {
  return applyDecorators(signedIn(tag), ApiErrors(403));
}

/** A controller whose routes any valid token may call (a tenant's or the operator's). */
export function ApiSignedInRoutes(tag: ApiTag) {
  return signedIn(tag);
}

/** `If-Match` on a write of a cluster (its own or a pool's): 412 when the generation moved on. */
export function ApiIfMatch() {
  return applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        'the ETag a GET of the cluster answered (`"<generation>"`), or `*`: 412 if the cluster changed since',
      schema: { type: 'string', example: '"3"' },
    }),
    ApiErrors(412),
  );
}

/** The `ETag` of a cluster's answer. */
export const ETAG_HEADER = {
  ETag: {
    description: "the cluster's generation, quoted: send it back in If-Match",
    schema: { type: 'string', example: '"3"' },
  },
};

const collections = new Map<string, Type<unknown>>();

/**
 * The schema class of `{items}` (`List`) or `{items, nextCursor?}` (`Page`, common/pagination.ts)
 * of one item type, named after it: `ClusterPage` for `ClusterResponse`.
 */
export function collectionOf<T>(item: Type<T>, kind: 'Page' | 'List'): Type<Page<T>> {
  const name = `${item.name.replace(/Response$/, '')}${kind}`;
  const known = collections.get(name);
  if (known) return known as Type<Page<T>>;
  const collection = class {};
  Object.defineProperty(collection, 'name', { value: name });
  ApiProperty({ type: [item], description: kind === 'Page' ? 'at most `limit`' : undefined })(
    collection.prototype,
    'items',
  );
  if (kind === 'Page') {
    ApiPropertyOptional({
      type: String,
      description: 'present when there are more: pass it as `cursor` for the next page',
    })(collection.prototype, 'nextCursor');
  }
  collections.set(name, collection);
  return collection as Type<Page<T>>;
}

/** A 200 answer of one page of a list that can grow (`?limit=` and `?cursor=`). */
export function ApiPage(item: Type<unknown>, description = 'one page') {
  return ApiOkResponse({ type: collectionOf(item, 'Page'), description });
}

/** A 200 answer of a whole list, in one answer. */
export function ApiList(item: Type<unknown>, description = 'all of them') {
  return ApiOkResponse({ type: collectionOf(item, 'List'), description });
}

/** A write whose body is `{}` or nothing (EmptyBodyPipe): any field is refused. */
export function ApiEmptyBody() {
  return ApiBody({
    required: false,
    schema: { type: 'object', additionalProperties: false, description: '`{}`, or no body at all' },
  });
}

/** A 200 answer that is text of another media type than JSON (errors stay JSON). */
export function ApiOkText(mediaType: string, description: string) {
  return ApiOkResponse({ description, content: { [mediaType]: { schema: { type: 'string' } } } });
}
