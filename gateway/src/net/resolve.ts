/**
 * Host name resolution as the system does it (`getaddrinfo`: /etc/hosts, the search
 * domains of resolv.conf, then DNS), behind a type that tests can replace.
 */
import { lookup as dnsLookup } from 'node:dns/promises';

/** A resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to all its addresses. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Every address of `hostname`, in the order the system gives them. */
export async function systemResolve(hostname: string): Promise<readonly ResolvedAddress[]> {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}
