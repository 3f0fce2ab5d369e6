import { Injectable } from '@nestjs/common';
import { Database, isUniqueViolation } from '../common/database.js';
import { DomainError } from '../common/domain-error.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { generateApiKey } from './api-key-format.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { AuthService } from './auth.service.js';
import { QuotaService } from './quota.service.js';
import { DEFAULT_QUOTA, type Quota } from './tenant.entity.js';
import {
  type ApiKeyCreatedResponse,
  type ApiKeyResponse,
  type CreatedTenantResponse,
  type TenantResponse,
  toTenantResponse,
} from './tenants.dto.js';
import { TenantsRepository } from './tenants.repository.js';

/** Operator-side management of tenants, their quotas and API keys. */
@Injectable()
export class TenantsService {
  constructor(
    private readonly db: Database,
    private readonly tenants: TenantsRepository,
    private readonly keys: ApiKeysRepository,
    private readonly quotas: QuotaService,
    private readonly auth: AuthService,
  ) {}

  async create(name: string): Promise<CreatedTenantResponse> {
    try {
      return await this.db.transaction(async (tx) => {
        const tenant = await this.tenants.insert(tx, name, { ...DEFAULT_QUOTA });
        const key = generateApiKey();
        const row = await this.keys.insert(tx, {
          tenantId: tenant.id,
          prefix: key.prefix,
          secretHash: key.secretHash,
          description: 'initial key',
        });
        return { id: tenant.id, name: tenant.name, apiKey: key.key, apiKeyId: row.id };
      });
    } catch (err) {
      if (isUniqueViolation(err, 'uq_tenants_name')) throw DomainError.conflict(`tenant "${name}" already exists`);
      throw err;
    }
  }

  async get(id: string): Promise<TenantResponse> {
    const tenant = await this.tenants.findById(id);
    if (!tenant) throw DomainError.notFound('tenant', id);
    return toTenantResponse(tenant, await this.quotas.usage(id));
  }

  async list(limit = 100, cursor?: string, name?: string): Promise<Page<TenantResponse>> {
    const after = decodeCursor(cursor, ['name']);
    const rows = await this.tenants.list(limit + 1, after?.name, name);
    const usages = await Promise.all(rows.slice(0, limit).map((t) => this.quotas.usage(t.id)));
    let i = 0;
    return toPage(
      rows,
      limit,
      (t) => toTenantResponse(t, usages[i++]),
      (t) => ({ name: t.name }),
    );
  }

  async setQuota(id: string, quota: Quota): Promise<TenantResponse> {
    await this.db.transaction(async (tx) => {
      const tenant = await this.tenants.lockById(tx, id);
      if (!tenant) throw DomainError.notFound('tenant', id);
      await this.tenants.updateQuota(tx, id, quota);
    });
    return this.get(id);
  }

  async createApiKey(tenantId: string, description?: string): Promise<ApiKeyCreatedResponse> {
    const tenant = await this.tenants.findById(tenantId);
    if (!tenant) throw DomainError.notFound('tenant', tenantId);
    const key = generateApiKey();
    const row = await this.keys.insert(undefined, {
      tenantId,
      prefix: key.prefix,
      secretHash: key.secretHash,
      description: description ?? null,
    });
    return { id: row.id, apiKey: key.key };
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyResponse[]> {
    const tenant = await this.tenants.findById(tenantId);
    if (!tenant) throw DomainError.notFound('tenant', tenantId);
    const rows = await this.keys.listForTenant(tenantId);
    return rows.map((k) => ({
      id: k.id,
      prefix: k.prefix,
      description: k.description,
      createdAt: k.createdAt.toISOString(),
      revokedAt: k.revokedAt?.toISOString() ?? null,
    }));
  }

  async revokeApiKey(tenantId: string, keyId: string): Promise<void> {
    const key = await this.keys.findForTenant(tenantId, keyId);
    if (!key) throw DomainError.notFound('api key', keyId);
    await this.keys.revoke(keyId);
    await this.auth.revoked(keyId);
  }

  /** Operator tokens besides KAAS_ADMIN_TOKEN: stored hashed like tenant keys. */
  async createAdminToken(description?: string): Promise<ApiKeyCreatedResponse> {
    const key = generateApiKey();
    const row = await this.keys.insert(undefined, {
      tenantId: null,
      prefix: key.prefix,
      secretHash: key.secretHash,
      description: description ?? null,
    });
    return { id: row.id, apiKey: key.key };
  }

  async revokeAdminToken(id: string): Promise<void> {
    const key = await this.keys.findForTenant(null, id);
    if (!key) throw DomainError.notFound('admin token', id);
    await this.keys.revoke(id);
    await this.auth.revoked(id);
  }
}
