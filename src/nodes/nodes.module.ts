import { Module } from '@nestjs/common';
import { NodesRepository } from './nodes.repository.js';

/** Node records: their spec, their status (written by patch) and the health rules they are judged by. */
@Module({
  providers: [NodesRepository],
  exports: [NodesRepository],
})
export class NodesModule {}
