import { Injectable } from '@nestjs/common';

type Check = () => Promise<unknown>;

/** Modules add what /readyz must check (for example each hypervisor host's connection). */
@Injectable()
export class ReadinessRegistry {
  private readonly registered = new Map<string, Check>();

  add(name: string, check: Check): void {
    this.registered.set(name, check);
  }

  remove(name: string): void {
    this.registered.delete(name);
  }

  checks(): [string, Check][] {
    return [...this.registered.entries()];
  }
}
