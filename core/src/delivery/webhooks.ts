import { apiOrderOf, type ApiOrder } from '../agents/api.js';
import { credentialsOf, signRequest } from '../agents/api-keys.js';
import type { Deps } from '../context.js';
import type { WebhookEvent } from './jobs.js';
import { PermanentJobError, type JobHandler } from './worker.js';

/**
 * Webhooks of orders placed through the Agent API with a `callback_url`: when the order reaches a
 * final state, a job is written in the same transaction, and a worker POSTs the order to the URL,
 * signed like an API request with the key that placed it, until the receiver answers 2xx (retries
 * back off; after the last attempt the job waits in the dead letter).
 */
export function webhookHandler(deps: Deps): JobHandler {
  return {
    async run(job, signal) {
      const row = await deps.db.knex('orders').join('users', 'users.id', 'orders.user_id').where('orders.id', job.orderId!).first(
        'orders.no',
        'orders.callback_url',
        'orders.api_key_id',
        'users.id as user_id',
        'users.email',
        'users.role',
        'users.display_name',
      );
      if (!row?.callback_url || !row.api_key_id) throw new PermanentJobError(`order ${job.ref} has no webhook to send`);
      const credentials = await credentialsOf(deps, row.api_key_id);
      if (!credentials) throw new PermanentJobError('the API key that placed the order was revoked');
      const user = { id: Number(row.user_id), email: row.email, role: row.role, displayName: row.display_name };
      const order: ApiOrder = await apiOrderOf(deps, user, { no: row.no });
      const body = JSON.stringify({ event: (job.payload as { event: WebhookEvent }).event, order });
      const url = new URL(row.callback_url);
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { ...signRequest(credentials, { method: 'POST', path: url.pathname + url.search, body }, deps.now()), 'content-type': 'application/json', 'user-agent': 'cardshop-webhook' },
        redirect: 'manual',
        signal,
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) throw new Error(`${url.host} answered HTTP ${res.status}`);
    },
  };
}
