import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';
import type { AuthContext } from '../common/auth-context.js';
import { sameHash, sha256 } from '../common/secrets.js';
import { APP_CONFIG } from '../common/tokens.js';
import { parseApiKey } from './api-key-format.js';
import { ApiKeysRepository } from './api-keys.repository.js';

/** Resolves a bearer token to a caller, or undefined. Never logs the token. */
@Injectable()
export class AuthService {
  private readonly adminTokenHash: Buffer | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly keys: ApiKeysRepository,
  ) {
    this.adminTokenHash = config.adminToken ? sha256(config.adminToken) : undefined;
  }

  async authenticate(token: string): Promise<AuthContext | undefined> {
    if (this.adminTokenHash && sameHash(sha256(token), this.adminTokenHash)) {
      return { kind: 'admin', principalId: 'admin-token' };
    }
    const parsed = parseApiKey(token);
    if (!parsed) return undefined;
    const row = await this.keys.findActiveByPrefix(parsed.prefix);
    if (!row || !sameHash(sha256(parsed.secret), row.secretHash)) return undefined;
    return row.tenantId
      ? { kind: 'tenant', tenantId: row.tenantId, principalId: `key:${row.id}` }
      : { kind: 'admin', principalId: `key:${row.id}` };
  }
}
