import { BlockList, isIP } from 'node:net';
import { RevmodError } from '@revmod/client';

/** The peer address without the IPv4-mapped IPv6 form (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * A set of addresses from `IP` and `IP/prefix` entries. `name` is the setting, for the error on a
 * malformed entry.
 */
export function addressList(entries: readonly string[], name: string): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) {
      throw new RevmodError('CONFIG_INVALID', `${name} must list IP addresses or CIDRs, received ${JSON.stringify(entry)}`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(prefix), type);
  }
  return list;
}

export function listHas(list: BlockList, address: string | undefined): boolean {
  const a = plainAddress(address);
  const family = isIP(a);
  return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
}
