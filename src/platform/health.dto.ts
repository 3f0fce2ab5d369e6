import { ApiProperty } from '@nestjs/swagger';

export class HealthResponse {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
}

/** Whether each part is up, with counts only: no tenant, host name or error text. */
export class ReadinessResponse {
  @ApiProperty({ enum: ['ready', 'not ready'] }) status: 'ready' | 'not ready';
  @ApiProperty({
    type: 'object',
    additionalProperties: {
      type: 'object',
      required: ['ok'],
      properties: { ok: { type: 'boolean' } },
      additionalProperties: { type: 'number' },
    },
    example: { database: { ok: true }, redis: { ok: true }, hosts: { ok: true, total: 1, connected: 1 } },
    description: 'each check (database, redis, hosts, ...): `ok`, and counts where the check has them',
  })
  checks: Record<string, { ok: boolean; [count: string]: number | boolean }>;
}
