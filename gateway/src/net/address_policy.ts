/**
 * Which IP addresses `/transcribe/url` may connect to. Pure functions: parsing, range
 * classification and the allow-list. Everything that is not a public unicast address is
 * refused unless the allow-list names it: loopback, private, link-local (cloud metadata
 * lives at 169.254.169.254), CGNAT, multicast, unspecified, documentation and reserved
 * ranges, in IPv4 and IPv6, including IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4).
 */
import net from 'node:net';

/** An IP address as its network-order bytes (4 for IPv4, 16 for IPv6). */
export interface ParsedIp {
  /** 4 or 6. */
  readonly version: 4 | 6;
  /** Network-order bytes. */
  readonly bytes: Uint8Array;
}

/** The kind of range an address belongs to; only `'public'` may be reached by default. */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link_local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'unique_local'
  | 'site_local';

/** One entry of `GATEWAY_URL_ALLOWLIST`: a host name, or an IP range (a single IP is a /32 or /128). */
export type AllowlistEntry =
  | { readonly kind: 'host'; readonly host: string; readonly isWildcard: boolean }
  | { readonly kind: 'cidr'; readonly network: ParsedIp; readonly prefixLength: number };

/** Decides whether a URL's host and its resolved addresses may be reached. */
export interface AddressPolicy {
  /**
   * Whether `address` (resolved from `hostname`) may be connected to: public addresses
   * always; others only when the host name or the address is allow-listed.
   */
  check(hostname: string, address: string): AddressDecision;
}

/** Verdict of {@link AddressPolicy.check}. */
export interface AddressDecision {
  /** True when the connection may be made. */
  readonly isAllowed: boolean;
  /** The address's range. */
  readonly addressClass: AddressClass;
}

function parseIpv4(text: string): Uint8Array | undefined {
  if (!net.isIPv4(text)) return undefined;
  return Uint8Array.from(text.split('.').map((part) => Number(part)));
}

function parseIpv6(text: string): Uint8Array | undefined {
  const address = text.split('%')[0] ?? '';
  if (!net.isIPv6(address)) return undefined;
  let body = address;
  const tail: number[] = [];
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (v4 === undefined) return undefined;
    tail.push(...v4);
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const parts = body.split('::');
  if (parts.length > 2) return undefined;
  const [left = '', right = ''] = parts;
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === '' ? [] : right.split(':');
  const missing = 8 - tail.length / 2 - leftGroups.length - rightGroups.length;
  if (parts.length === 1 ? missing !== 0 : missing < 0) return undefined;
  const groups = [...leftGroups, ...Array<string>(missing).fill('0'), ...rightGroups];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  bytes.set(tail, 16 - tail.length);
  return bytes;
}

/** Parses an IPv4 or IPv6 literal (IPv6 may carry a `%zone` and brackets); undefined if not an IP. */
export function parseIp(text: string): ParsedIp | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(bare);
  if (v4 !== undefined) return { version: 4, bytes: v4 };
  const v6 = parseIpv6(bare);
  return v6 === undefined ? undefined : { version: 6, bytes: v6 };
}

function matchesPrefix(bytes: Uint8Array, network: Uint8Array, prefixLength: number): boolean {
  if (bytes.length !== network.length) return false;
  const fullBytes = Math.floor(prefixLength / 8);
  for (let i = 0; i < fullBytes; i += 1) {
    if (bytes[i] !== network[i]) return false;
  }
  const rest = prefixLength % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[fullBytes] ?? 0) & mask) === ((network[fullBytes] ?? 0) & mask);
}

type RangeTable = readonly (readonly [network: string, prefixLength: number, cls: AddressClass])[];

const IPV4_RANGES: RangeTable = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link_local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

const IPV6_RANGES: RangeTable = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['100::', 64, 'reserved'],
  ['2001::', 32, 'reserved'], // Teredo: tunnels to an obfuscated IPv4 address
  ['2001:db8::', 32, 'documentation'],
  ['2001:10::', 28, 'reserved'], // ORCHID
  ['fc00::', 7, 'unique_local'],
  ['fe80::', 10, 'link_local'],
  ['fec0::', 10, 'site_local'],
  ['ff00::', 8, 'multicast'],
];

function compile(
  table: RangeTable,
): { network: Uint8Array; prefixLength: number; cls: AddressClass }[] {
  return table.map(([network, prefixLength, cls]) => {
    const parsed = parseIp(network);
    if (parsed === undefined) throw new Error(`bad built-in range ${network}`);
    return { network: parsed.bytes, prefixLength, cls };
  });
}

const COMPILED_V4 = compile(IPV4_RANGES);
const COMPILED_V6 = compile(IPV6_RANGES);

/**
 * The IPv4 address an IPv6 address carries, if it is IPv4-mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96, deprecated), NAT64 (64:ff9b::/96) or 6to4 (2002::/16).
 */
export function embeddedIpv4(ip: ParsedIp): ParsedIp | undefined {
  if (ip.version !== 6) return undefined;
  const b = ip.bytes;
  const zeros = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) {
    return { version: 4, bytes: b.slice(12, 16) };
  }
  const isUnspecifiedOrLoopback = zeros(12, 15) && ((b[15] ?? 0) & 0xfe) === 0;
  if (zeros(0, 12) && !isUnspecifiedOrLoopback) return { version: 4, bytes: b.slice(12, 16) };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) {
    return { version: 4, bytes: b.slice(12, 16) };
  }
  if (b[0] === 0x20 && b[1] === 0x02) return { version: 4, bytes: b.slice(2, 6) };
  return undefined;
}

/** The range class of a parsed address. */
export function classifyIp(ip: ParsedIp): AddressClass {
  const embedded = embeddedIpv4(ip);
  if (embedded !== undefined) return classifyIp(embedded);
  const table = ip.version === 4 ? COMPILED_V4 : COMPILED_V6;
  // More specific ranges are listed before the ranges that contain them.
  for (const range of table) {
    if (matchesPrefix(ip.bytes, range.network, range.prefixLength)) return range.cls;
  }
  return 'public';
}

/** The range class of an address literal; `'reserved'` when it is not an IP at all. */
export function classifyAddress(address: string): AddressClass {
  const ip = parseIp(address);
  return ip === undefined ? 'reserved' : classifyIp(ip);
}

/** Whether a listen address (`GATEWAY_HOST`) is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || classifyAddress(host.replace(/^\[|\]$/g, '')) === 'loopback';
}

const HOST_NAME =
  /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Parses allow-list entries: host names (`files.internal`, `*.corp.example`), IPs
 * (`127.0.0.1`, `::1`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`). Returns the entries and a
 * message for each entry that is none of these.
 */
export function parseAllowlist(raw: readonly string[]): {
  entries: AllowlistEntry[];
  errors: string[];
} {
  const entries: AllowlistEntry[] = [];
  const errors: string[] = [];
  for (const item of raw) {
    const text = item.trim().toLowerCase();
    if (text === '') continue;
    const [address = '', prefix, extra] = text.split('/');
    const ip = parseIp(address);
    if (ip !== undefined && extra === undefined) {
      const maxPrefix = ip.version === 4 ? 32 : 128;
      const prefixLength = prefix === undefined ? maxPrefix : Number(prefix);
      if (!/^\d+$/.test(prefix ?? String(maxPrefix)) || prefixLength > maxPrefix) {
        errors.push(`'${item}' has an invalid prefix length (0..${maxPrefix})`);
        continue;
      }
      entries.push({ kind: 'cidr', network: ip, prefixLength });
    } else if (prefix === undefined && HOST_NAME.test(text)) {
      const isWildcard = text.startsWith('*.');
      entries.push({ kind: 'host', host: isWildcard ? text.slice(1) : text, isWildcard });
    } else {
      errors.push(`'${item}' is neither a host name, an IP address nor a CIDR range`);
    }
  }
  return { entries, errors };
}

function normalise(ip: ParsedIp): ParsedIp {
  const b = ip.bytes;
  // IPv4-mapped IPv6 is the same host as its IPv4 address.
  if (
    ip.version === 6 &&
    b.slice(0, 10).every((x) => x === 0) &&
    b[10] === 0xff &&
    b[11] === 0xff
  ) {
    return { version: 4, bytes: b.slice(12, 16) };
  }
  return ip;
}

function hostMatches(entry: AllowlistEntry, hostname: string): boolean {
  if (entry.kind !== 'host') return false;
  return entry.isWildcard ? hostname.endsWith(entry.host) : hostname === entry.host;
}

function addressMatches(entry: AllowlistEntry, ip: ParsedIp): boolean {
  if (entry.kind !== 'cidr') return false;
  const network = normalise(entry.network);
  return matchesPrefix(normalise(ip).bytes, network.bytes, entry.prefixLength);
}

/** Creates the policy for an allow-list (empty: only public addresses). */
export function createAddressPolicy(allowlist: readonly AllowlistEntry[]): AddressPolicy {
  return {
    check(hostname: string, address: string): AddressDecision {
      const ip = parseIp(address);
      if (ip === undefined) return { isAllowed: false, addressClass: 'reserved' };
      const addressClass = classifyIp(ip);
      if (addressClass === 'public') return { isAllowed: true, addressClass };
      const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
      const isAllowed = allowlist.some((e) => hostMatches(e, host) || addressMatches(e, ip));
      return { isAllowed, addressClass };
    },
  };
}
