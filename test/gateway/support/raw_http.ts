/**
 * Raw TCP clients for requests no HTTP library would send: broken request lines, oversized
 * heads, bodies that trickle in, upgrades with odd paths.
 */
import net from 'node:net';

/** What came back on a raw connection. */
export interface RawReply {
  /** Everything the server wrote. */
  readonly text: string;
  /** The status code of the first status line, or undefined when none came. */
  readonly status: number | undefined;
  /** Milliseconds from connect to the server closing (or to `waitMs`). */
  readonly elapsedMs: number;
  /** Whether the server closed the connection within `waitMs`. */
  readonly isClosed: boolean;
}

/**
 * Connects to 127.0.0.1:`port`, writes `chunks` (a string, or pieces with a pause between
 * them), and collects the reply until the server closes or `waitMs` passes.
 */
export async function rawExchange(
  port: number,
  chunks: string | readonly (string | Buffer)[],
  options: { readonly waitMs?: number; readonly pauseMs?: number } = {},
): Promise<RawReply> {
  const waitMs = options.waitMs ?? 5_000;
  const started = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (data: Buffer) => {
    text += data.toString('latin1');
  });
  const closed = new Promise<boolean>((resolve) => {
    socket.once('close', () => {
      resolve(true);
    });
    setTimeout(() => {
      resolve(false);
    }, waitMs).unref();
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const pieces = typeof chunks === 'string' ? [chunks] : chunks;
  void (async () => {
    for (const piece of pieces) {
      if (socket.destroyed) return;
      socket.write(piece);
      if (options.pauseMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
    }
  })();
  const isClosed = await closed;
  const elapsedMs = Date.now() - started;
  socket.destroy();
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return { text, status: match === null ? undefined : Number(match[1]), elapsedMs, isClosed };
}

/** The head of a WebSocket upgrade request for `target`, with extra header lines. */
export function upgradeHead(target: string, extraHeaders: readonly string[] = []): string {
  return [
    `GET ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...extraHeaders,
    '',
    '',
  ].join('\r\n');
}
