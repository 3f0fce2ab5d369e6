import { ApiProperty } from '@nestjs/swagger';
import type { Bundle, EndpointProtocol } from './bundles.service.js';

export class ControlPlaneVersionResponse {
  @ApiProperty() version: string;
  @ApiProperty({ description: 'false while the bundle misses files for this version' }) available: boolean;
  @ApiProperty({ type: [String], description: 'the versions a cluster can be upgraded to this one from' })
  upgradeFrom: string[];
  @ApiProperty({
    required: false,
    description: "the guest image this version's nodes boot; the default image when absent",
  })
  image?: string;
}

export class ControlPlaneEndpointResponse {
  @ApiProperty({ example: 2379 }) port: number;
  @ApiProperty({ enum: ['https', 'http'] }) scheme: 'https' | 'http';
  @ApiProperty({
    enum: ['kubernetes', 'etcd'],
    description: "what answers on the cluster's endpoint: a Kubernetes API (kubeconfig) or etcd (etcdctl)",
  })
  protocol: EndpointProtocol;
}

export class ControlPlaneResponse {
  @ApiProperty({ example: 'etcd' }) name: string;
  @ApiProperty() description: string;
  @ApiProperty() defaultVersion: string;
  @ApiProperty({ type: [ControlPlaneVersionResponse] }) versions: ControlPlaneVersionResponse[];
  @ApiProperty({ type: ControlPlaneEndpointResponse }) endpoint: ControlPlaneEndpointResponse;
}

export class ControlPlaneListResponse {
  @ApiProperty({ type: [ControlPlaneResponse] }) items: ControlPlaneResponse[];
}

export function toControlPlaneResponse(b: Bundle): ControlPlaneResponse {
  return {
    name: b.manifest.name,
    description: b.manifest.description,
    defaultVersion: b.manifest.defaultVersion,
    endpoint: {
      port: b.manifest.endpoint.port,
      scheme: b.manifest.endpoint.scheme,
      protocol: b.manifest.endpoint.protocol ?? 'kubernetes',
    },
    versions: b.versions.map((v) => ({
      version: v.version,
      available: v.available,
      upgradeFrom: b.manifest.versions[v.version]?.upgradeFrom ?? [],
      ...(b.manifest.versions[v.version]?.image ? { image: b.manifest.versions[v.version].image } : {}),
    })),
  };
}
