import { Module } from '@nestjs/common';
import { EventsPruner } from './events-pruner.js';
import { EventsRepository } from './events.repository.js';
import { EventsService } from './events.service.js';

/** Events a tenant reads about its clusters and nodes; written by every module that acts on them. */
@Module({
  providers: [EventsRepository, EventsService, EventsPruner],
  exports: [EventsRepository, EventsService],
})
export class EventsModule {}
