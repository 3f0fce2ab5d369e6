import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { type AuthContext, tenantOf } from '../common/auth-context.js';
import { Auth, TenantRoute } from '../common/auth.decorators.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { ApiErrors, ApiOkText, ApiTenantRoutes } from '../common/openapi.js';
import { CURSOR_SHAPE } from '../common/pagination.js';
import { EventsRepository } from '../events/events.repository.js';
import { EventStreamQuery, toEventResponse } from './clusters.dto.js';
import { ClustersRepository } from './clusters.repository.js';

/** How often a stream looks for new events. */
const POLL_MS = 1000;
/** A comment line this often keeps an idle connection (and the proxies on its way) open. */
const KEEPALIVE_MS = 15000;
/** Events seen again in case their transaction committed after a later one's. */
const RECENT_SECONDS = 5;
/** Open streams per tenant in one API process. */
const MAX_STREAMS_PER_TENANT = 20;

/**
 * `GET /v1/events/stream`: the caller's clusters' events as Server-Sent Events, as they happen
 * (`id: <event id>`, `data: <event JSON>`), resumed after `Last-Event-ID` on a reconnect. The
 * events table is the source: each stream reads what is new once a second.
 */
@ApiTenantRoutes('tenant: clusters')
@TenantRoute()
@Controller('v1/events')
export class EventsStreamController {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly events: EventsRepository,
    private readonly clusters: ClustersRepository,
  ) {}

  @Get('stream')
  @ApiOperation({
    summary: "the events of the caller's clusters, as they happen (Server-Sent Events)",
    description:
      'Each event is sent as `id: <event id>` and `data: <an EventResponse with its clusterId, as JSON>`; a comment ' +
      'line every 15 s keeps an idle connection open. A reconnect with `Last-Event-ID` resumes after that event.',
    operationId: 'streamEvents',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'resume after this event (the `id:` of the last event received)',
    schema: { type: 'string', pattern: '^\\d{1,18}$' },
  })
  @ApiOkText('text/event-stream', 'a stream of Server-Sent Events, open until the client leaves')
  @ApiErrors(
    [400, 'a clusterId that is not an id, or a Last-Event-ID this stream did not send'],
    [404, 'no such cluster'],
    [429, 'the tenant has 20 streams open in this API process, or over a request limit'],
  )
  async stream(
    @Auth() auth: AuthContext,
    @Query() q: EventStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const tenantId = tenantOf(auth);
    const clusterId = q.clusterId;
    if (clusterId !== undefined) {
      if (!(await this.clusters.findForTenant(tenantId, clusterId))) throw DomainError.notFound('cluster', clusterId);
    }
    if (lastEventId !== undefined && !CURSOR_SHAPE.sequence.test(lastEventId))
      throw DomainError.validation('Last-Event-ID', 'must be an event id this stream sent');
    if ((this.open.get(tenantId) ?? 0) >= MAX_STREAMS_PER_TENANT)
      throw new DomainError(ErrorCode.RateLimited, `at most ${MAX_STREAMS_PER_TENANT} open event streams per tenant`);
    // A new stream starts from now; a resumed one after the last event it had.
    const floor = lastEventId ?? (await this.events.newestId(tenantId, clusterId));
    let after = floor;
    const sent = new Map<string, number>();

    this.open.set(tenantId, (this.open.get(tenantId) ?? 0) + 1);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(': stream open\n\n');

    let closed = false;
    let polling = false;
    const poll = async () => {
      if (closed || polling) return;
      polling = true;
      try {
        const rows = await this.events.since(tenantId, clusterId, {
          floorId: floor,
          afterId: after,
          recentSeconds: RECENT_SECONDS,
          limit: 500,
        });
        for (const e of rows) {
          if (sent.has(e.id)) continue;
          sent.set(e.id, Date.now());
          if (BigInt(e.id) > BigInt(after)) after = e.id;
          res.write(`id: ${e.id}\ndata: ${JSON.stringify({ ...toEventResponse(e), clusterId: e.clusterId })}\n\n`);
        }
        const forget = Date.now() - 2 * RECENT_SECONDS * 1000;
        for (const [id, at] of sent) if (at < forget) sent.delete(id);
      } catch {
        // The database is away a moment: the next poll tries again.
      } finally {
        polling = false;
      }
    };
    const timer = setInterval(() => void poll(), POLL_MS);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      clearInterval(keepalive);
      const n = (this.open.get(tenantId) ?? 1) - 1;
      if (n > 0) this.open.set(tenantId, n);
      else this.open.delete(tenantId);
    };
    req.on('close', close);
    res.on('close', close);
    await poll();
  }
}
