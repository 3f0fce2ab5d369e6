import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminOnly } from '../common/auth.decorators.js';
import { EmptyBodyPipe } from '../common/empty-body.pipe.js';
import { ApiEmptyBody, ApiErrors, ApiOperatorRoutes } from '../common/openapi.js';
import { SecretKeyRotationResponse } from './secret-keys.dto.js';
import { SecretKeysService } from './secret-keys.service.js';

@ApiOperatorRoutes('operator: secret keys')
@AdminOnly()
@Controller('v1/admin/secret-key')
export class SecretKeysController {
  constructor(private readonly keys: SecretKeysService) {}

  @Post('rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'seal every secret at rest again under a new current key, while the platform runs',
    description:
      'With the keys in the key file, a new random key is written at its head (the older keys stay after it, ' +
      'retired) and every process takes it up within a second. With KAAS_SECRET_KEY, no key is made: set the new ' +
      'KAAS_SECRET_KEY and the old one in KAAS_SECRET_KEYS_RETIRED on every process first. Then every secret ' +
      'under another key is sealed again under the current one; `remaining` counts what is not (yet).',
    operationId: 'rotateSecretKey',
  })
  @ApiEmptyBody()
  @ApiOkResponse({ type: SecretKeyRotationResponse })
  @ApiErrors([409, 'a rotation is already running'])
  rotate(@Body(EmptyBodyPipe) _body: object): Promise<SecretKeyRotationResponse> {
    return this.keys.rotate();
  }
}
