import { ApiProperty } from '@nestjs/swagger';

export class ReencryptedCounts {
  @ApiProperty({ description: 'cluster CAs, admin credentials and join tokens' }) clusterSecrets: number;
  @ApiProperty({ description: 'stored answers of requests sent with an Idempotency-Key' }) idempotency: number;
}

export class SecretKeyRotationResponse {
  @ApiProperty({ example: '3f9c01ab', description: 'id of the key every secret is now sealed under' })
  currentKeyId: string;
  @ApiProperty({ enum: ['file', 'environment'], description: 'where the keys come from' })
  source: 'file' | 'environment';
  @ApiProperty({
    description: 'a new key was made (key file only; with keys from the environment the operator sets it)',
  })
  generated: boolean;
  @ApiProperty({ type: ReencryptedCounts, description: 'secrets sealed again under the current key, per table' })
  reencrypted: ReencryptedCounts;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: {},
    description:
      'secrets still under another key, by key id (`legacy`: sealed before key ids); empty when every secret is ' +
      'under the current key, and the retired keys may then be removed',
  })
  remaining: Record<string, number>;
  @ApiProperty({ description: 'what was done, and what is left to the operator' })
  message: string;
}
