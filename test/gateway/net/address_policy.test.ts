import { describe, expect, it } from 'vitest';

import {
  classifyAddress,
  createAddressPolicy,
  parseAllowlist,
  parseIp,
} from '../../../gateway/src/net/address_policy.js';

describe('parseIp', () => {
  it('parses IPv4 and every IPv6 spelling', () => {
    expect(parseIp('10.1.2.3')?.bytes).toEqual(Uint8Array.from([10, 1, 2, 3]));
    expect(parseIp('::1')?.bytes).toEqual(Uint8Array.from([...Array<number>(15).fill(0), 1]));
    expect(parseIp('[fe80::1%eth0]')?.version).toBe(6);
    expect(parseIp('::ffff:127.0.0.1')?.bytes.slice(10)).toEqual(
      Uint8Array.from([255, 255, 127, 0, 0, 1]),
    );
    expect(parseIp('1:2:3:4:5:6:7:8')?.bytes.slice(14)).toEqual(Uint8Array.from([0, 8]));
  });

  it('rejects non-addresses', () => {
    for (const text of ['', 'localhost', '1.2.3', '256.1.1.1', '1::2::3', 'example.com']) {
      expect(parseIp(text)).toBeUndefined();
    }
  });
});

describe('classifyAddress', () => {
  it('classifies IPv4 ranges', () => {
    const cases: [string, string][] = [
      ['8.8.8.8', 'public'],
      ['93.184.216.34', 'public'],
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.0.1', 'private'],
      ['169.254.169.254', 'link_local'],
      ['100.64.0.1', 'cgnat'],
      ['100.128.0.1', 'public'],
      ['0.0.0.0', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['240.0.0.1', 'reserved'],
      ['192.0.2.1', 'documentation'],
      ['198.18.0.1', 'benchmarking'],
    ];
    for (const [address, expected] of cases)
      expect([address, classifyAddress(address)]).toEqual([address, expected]);
  });

  it('classifies IPv6 ranges, including embedded IPv4', () => {
    const cases: [string, string][] = [
      ['2606:4700:4700::1111', 'public'],
      ['::1', 'loopback'],
      ['::', 'unspecified'],
      ['fe80::1', 'link_local'],
      ['fd00:ec2::254', 'unique_local'],
      ['fc00::1', 'unique_local'],
      ['ff02::1', 'multicast'],
      ['2001:db8::1', 'documentation'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:169.254.169.254', 'link_local'],
      ['::ffff:8.8.8.8', 'public'],
      ['::10.0.0.1', 'private'],
      ['64:ff9b::a00:1', 'private'],
      ['2002:c0a8:0101::1', 'private'],
      ['2001:0:4136:e378::1', 'reserved'],
    ];
    for (const [address, expected] of cases)
      expect([address, classifyAddress(address)]).toEqual([address, expected]);
  });
});

describe('parseAllowlist', () => {
  it('accepts hosts, wildcards, IPs and CIDRs and reports the rest', () => {
    const { entries, errors } = parseAllowlist([
      '127.0.0.1',
      '10.0.0.0/8',
      'fd00::/8',
      'Files.Internal',
      '*.corp.example',
      'a b',
      '1.2.3.4/40',
    ]);
    expect(entries.map((e) => e.kind)).toEqual(['cidr', 'cidr', 'cidr', 'host', 'host']);
    expect(errors).toHaveLength(2);
  });
});

describe('AddressPolicy', () => {
  it('allows public addresses and refuses the rest by default', () => {
    const policy = createAddressPolicy([]);
    expect(policy.check('example.com', '93.184.216.34').isAllowed).toBe(true);
    expect(policy.check('localhost', '127.0.0.1')).toEqual({
      isAllowed: false,
      addressClass: 'loopback',
    });
    expect(policy.check('x', '::ffff:10.0.0.1').isAllowed).toBe(false);
    expect(policy.check('x', 'not-an-ip').isAllowed).toBe(false);
  });

  it('allows allow-listed addresses, ranges and hosts only', () => {
    const policy = createAddressPolicy(
      parseAllowlist(['127.0.0.1', '10.0.0.0/8', 'files.internal', '*.corp.example']).entries,
    );
    expect(policy.check('127.0.0.1', '127.0.0.1').isAllowed).toBe(true);
    expect(policy.check('x', '::ffff:127.0.0.1').isAllowed).toBe(true);
    expect(policy.check('x', '127.0.0.2').isAllowed).toBe(false);
    expect(policy.check('x', '::1').isAllowed).toBe(false);
    expect(policy.check('x', '10.200.0.1').isAllowed).toBe(true);
    expect(policy.check('x', '192.168.1.1').isAllowed).toBe(false);
    expect(policy.check('FILES.internal', '192.168.1.1').isAllowed).toBe(true);
    expect(policy.check('a.corp.example', '172.16.0.1').isAllowed).toBe(true);
    expect(policy.check('corp.example.evil', '172.16.0.1').isAllowed).toBe(false);
  });
});
