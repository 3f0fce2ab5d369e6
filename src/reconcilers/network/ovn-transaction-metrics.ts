import { Histogram } from 'prom-client';
import type { NorthboundTransactor } from '../../networks/ovn/ovn-network-controller.js';
import type { CallOptions } from '../../networks/ovn/ovsdb-client.js';
import { isOvsdbError, OvsdbErrorCode } from '../../networks/ovn/ovsdb-error.js';
import type { OvsdbOperation, ResultsOf } from '../../networks/ovn/ovsdb-types.js';
import type { MetricsService } from '../../platform/metrics.service.js';

export type TransactionSeconds = Histogram<'database' | 'outcome'>;

export function ovnTransactionSeconds(metrics: MetricsService): TransactionSeconds {
  return new Histogram({
    name: 'kaas_ovn_transaction_seconds',
    help:
      'Duration of OVSDB transactions with OVN (a new connection included), by database and outcome: ' +
      'ok, failed (the server applied none of it: a conflict or a refused operation), error (no answer)',
    labelNames: ['database', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
}

/** The transactor with every transaction timed. */
export function timedTransactor(inner: NorthboundTransactor, seconds: TransactionSeconds): NorthboundTransactor {
  return {
    async transact<const Ops extends readonly OvsdbOperation[]>(
      db: string,
      operations: Ops,
      options?: CallOptions,
    ): Promise<ResultsOf<Ops>> {
      const stop = seconds.startTimer({ database: db });
      try {
        const results = await inner.transact(db, operations, options);
        stop({ outcome: 'ok' });
        return results;
      } catch (err) {
        stop({ outcome: isOvsdbError(err, OvsdbErrorCode.TransactionFailed) ? 'failed' : 'error' });
        throw err;
      }
    },
  };
}
