/**
 * IPv4/IPv6 address and CIDR parsing for IpAddress/NotIpAddress. Addresses become bigints so
 * one comparison covers both families. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what
 * Node reports on dual-stack sockets) is treated as the IPv4 address it carries.
 */

/** An address or network: family, numeric value and prefix length. */
export interface IpNetwork {
  readonly family: 4 | 6;
  readonly value: bigint;
  readonly bits: number;
}

function parseV4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  let v = 0n;
  for (const octet of m.slice(1)) {
    if (octet.length > 1 && octet.startsWith('0')) return undefined;
    const n = Number(octet);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseGroups(s: string, allowV4Tail: boolean): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  const groups = s.split(':');
  for (const [i, g] of groups.entries()) {
    if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
      const v4 = parseV4(g);
      if (v4 === undefined) return undefined;
      out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
    else return undefined;
  }
  return out;
}

function parseV6(s: string): bigint | undefined {
  const gap = s.indexOf('::');
  if (gap !== s.lastIndexOf('::')) return undefined;
  let groups: number[] | undefined;
  if (gap < 0) {
    groups = parseGroups(s, true);
    if (groups?.length !== 8) return undefined;
  } else {
    const head = parseGroups(s.slice(0, gap), false);
    const tail = parseGroups(s.slice(gap + 2), true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Parses a single address; IPv4-mapped IPv6 addresses come back as IPv4. */
export function parseIpAddress(s: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseV6(s);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/**
 * Parses `address/prefix` or a bare address (a /32 or /128). Host bits are masked off, so
 * `203.0.113.7/24` means `203.0.113.0/24`.
 */
export function parseCidr(s: string): IpNetwork | undefined {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const v4 = parseV4(addr);
  const family: 4 | 6 = v4 === undefined ? 6 : 4;
  const value = v4 ?? parseV6(addr);
  if (value === undefined) return undefined;
  const width = family === 4 ? 32 : 128;
  let bits = width;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width) return undefined;
    bits = Number(p);
  }
  const shift = BigInt(width - bits);
  return { family, value: (value >> shift) << shift, bits };
}

/** Whether the address (from {@link parseIpAddress}) lies inside `network`. */
export function ipInNetwork(a: { family: 4 | 6; value: bigint }, network: IpNetwork): boolean {
  if (a.family !== network.family) return false;
  const shift = BigInt((network.family === 4 ? 32 : 128) - network.bits);
  return a.value >> shift === network.value >> shift;
}
