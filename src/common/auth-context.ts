/** Who is calling. Every service method that touches tenant data takes this first. */
export type AuthContext =
  { kind: 'admin'; principalId: string } | { kind: 'tenant'; tenantId: string; principalId: string };

export function isAdmin(auth: AuthContext): auth is { kind: 'admin'; principalId: string } {
  return auth.kind === 'admin';
}

/** The tenant a request acts for: the caller's own, or the one an admin names. */
export function tenantScope(auth: AuthContext, requestedTenantId?: string): string | undefined {
  return auth.kind === 'tenant' ? auth.tenantId : requestedTenantId;
}

/** The tenant a tenant-scoped service acts for; the guard has already resolved it. */
export function tenantOf(auth: AuthContext): string {
  if (auth.kind !== 'tenant') throw new Error('tenant resource called without a tenant scope');
  return auth.tenantId;
}
