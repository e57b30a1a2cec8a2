import pg from 'pg';

type Subscriber = { readonly onPayload: (payload: string) => void; readonly onReconnect: (() => void) | undefined; readonly onLost: (() => void) | undefined };

const BACKOFF_MS = [100, 250, 500, 1_000, 2_000, 5_000];

/**
 * LISTEN for one process: one dedicated connection (not from the pool, where a LISTEN would
 * be lost when the client goes back), opened on the first subscription. A connection that
 * drops is made again with backoff; after that, subscribers are told (onReconnect), because
 * what was notified while it was gone is lost.
 */
export function createListener(url: string) {
  const channels = new Map<string, Set<Subscriber>>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let failures = 0;

  const quote = (channel: string) => `"${channel.replaceAll('"', '""')}"`;

  async function connect(): Promise<pg.Client> {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      for (const subscriber of channels.get(message.channel) ?? []) subscriber.onPayload(message.payload ?? '');
    });
    next.on('error', () => lost(next));
    next.on('end', () => lost(next));
    await next.connect();
    for (const channel of channels.keys()) await next.query(`LISTEN ${quote(channel)}`);
    return next;
  }

  function lost(which: pg.Client) {
    if (client !== which) return;
    client = undefined;
    for (const subscribers of channels.values()) for (const subscriber of subscribers) subscriber.onLost?.();
    which.removeAllListeners('end');
    void which.end().catch(() => {});
    if (!closed) reconnect();
  }

  function reconnect() {
    if (connecting || closed) return;
    const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
    connecting = new Promise<pg.Client>((resolve, reject) => {
      setTimeout(() => {
        connect().then(resolve, reject);
      }, delay).unref();
    });
    connecting.then(
      (next) => {
        connecting = undefined;
        if (closed) return void next.end().catch(() => {});
        client = next;
        failures = 0;
        for (const subscribers of channels.values()) for (const subscriber of subscribers) subscriber.onReconnect?.();
      },
      () => {
        connecting = undefined;
        failures++;
        reconnect();
      },
    );
  }

  async function ready(): Promise<pg.Client> {
    if (client) return client;
    if (!connecting) {
      connecting = connect();
      try {
        client = await connecting;
      } finally {
        connecting = undefined;
      }
      return client;
    }
    return connecting;
  }

  return {
    async listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void, onLost?: () => void): Promise<() => Promise<void>> {
      if (closed) throw new Error('the database is closed');
      const subscriber: Subscriber = { onPayload, onReconnect, onLost };
      let subscribers = channels.get(channel);
      const first = !subscribers;
      if (!subscribers) channels.set(channel, (subscribers = new Set()));
      subscribers.add(subscriber);
      const connection = await ready();
      if (first && connection === client) await connection.query(`LISTEN ${quote(channel)}`);
      return async () => {
        subscribers.delete(subscriber);
        if (subscribers.size > 0 || channels.get(channel) !== subscribers) return;
        channels.delete(channel);
        await client?.query(`UNLISTEN ${quote(channel)}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      const last = client;
      client = undefined;
      await last?.end().catch(() => {});
    },
  };
}
