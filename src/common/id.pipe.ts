import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError } from './domain-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are UUIDs; anything else cannot name a resource, so it is a 404 like any unknown id. */
@Injectable()
export class IdPipe implements PipeTransform<string, string> {
  constructor(private readonly kind: string) {}

  transform(value: string, _meta: ArgumentMetadata): string {
    if (!UUID.test(value)) throw DomainError.notFound(this.kind, JSON.stringify(value.slice(0, 80)));
    return value.toLowerCase();
  }
}
