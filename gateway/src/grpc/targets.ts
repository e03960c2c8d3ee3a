/**
 * Where the gateway's workers are (`GATEWAY_WORKER_ADDRESS`): fixed `host:port` addresses,
 * and `dns:///host:port` names that stand for every address the name resolves to (a
 * compose service scaled to N, a network alias shared by per-GPU services, a Kubernetes
 * headless Service). The syntax is gRPC's own target syntax, so the same value works for
 * any gRPC client of the workers.
 */

/** One entry of the worker setting. */
export type WorkerTarget =
  | {
      /** One worker at a fixed address. */
      readonly kind: 'static';
      /** `host:port` (a host name is resolved by gRPC when it connects). */
      readonly address: string;
    }
  | {
      /** Every address a DNS name resolves to, re-resolved while the gateway runs. */
      readonly kind: 'dns';
      /** The name to resolve. */
      readonly host: string;
      /** The workers' port. */
      readonly port: number;
      /** The entry as configured, for logs. */
      readonly target: string;
    };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
/** `dns:///host:port`, or `dns:host:port` (gRPC allows both; an authority is not supported). */
const DNS_TARGET = /^dns:(?:\/\/\/)?(.*)$/;

/**
 * Parses one entry of `GATEWAY_WORKER_ADDRESS`.
 * @returns The target, or why the entry is not one.
 */
export function parseWorkerTarget(entry: string): WorkerTarget | { readonly error: string } {
  const dns = DNS_TARGET.exec(entry);
  const rest = dns === null ? entry : (dns[1] ?? '');
  if (dns !== null && rest.startsWith('//')) {
    return { error: `'${entry}': a DNS server authority is not supported; use dns:///host:port` };
  }
  const match = HOST_PORT.exec(rest);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    return {
      error: `'${entry}' is not host:port or dns:///host:port`,
    };
  }
  if (dns === null) return { kind: 'static', address: entry };
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { kind: 'dns', host, port, target: entry };
}

/** `host:port` for a resolved address (IPv6 in brackets). */
export function joinHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
