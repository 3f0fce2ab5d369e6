import { Module } from '@nestjs/common';
import { SealedSecretsRepository } from './sealed-secrets.repository.js';
import { SecretKeysController } from './secret-keys.controller.js';
import { SecretKeysService } from './secret-keys.service.js';

/** Rotation of the key secrets at rest are sealed under (API process only). */
@Module({
  controllers: [SecretKeysController],
  providers: [SealedSecretsRepository, SecretKeysService],
})
export class SecretKeysModule {}
