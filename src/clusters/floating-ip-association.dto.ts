import { ApiProperty } from '@nestjs/swagger';
import { isUUID, ValidateBy } from 'class-validator';

/**
 * `clusterId` must be present: a missing field is refused rather than read as a release, so a
 * client that forgot it does not take a cluster's endpoint away.
 */
export class AssociateFloatingIpRequest {
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'the cluster whose endpoint this address becomes, or null to release it from its cluster',
  })
  @ValidateBy({
    name: 'isClusterIdOrNull',
    validator: {
      validate: (v: unknown) => v === null || (typeof v === 'string' && isUUID(v, 'all')),
      defaultMessage: (args) =>
        args?.value === undefined
          ? 'clusterId is required: a cluster id, or null to release the floating IP'
          : 'clusterId must be a cluster id, or null to release the floating IP',
    },
  })
  clusterId: string | null;
}
