/**
 * Argument parsers for commander: each turns a flag's text into a value or throws
 * `InvalidArgumentError`, which commander reports in one line (and main.ts exits with 2).
 */
import { InvalidArgumentError } from 'commander';
import { PROTOCOL_NAMES, type ProtocolName } from '../protocol/master/messages.js';
import { hostableProtocols } from '../runtime/protocols.js';
import { parseAddress } from '../transport/tcp.js';

/** An integer in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer ${min}..${max}`);
    }
    return value;
  };
}

export const port = integer(0, 65535);

/** `host:port`. */
export function address(text: string): string {
  try {
    parseAddress(text);
  } catch {
    throw new InvalidArgumentError('expected host:port, e.g. 127.0.0.1:7000');
  }
  return text;
}

/** A protocol this build can run replicas of. */
export function protocol(text: string): ProtocolName {
  const hostable = hostableProtocols();
  const found = PROTOCOL_NAMES.find((p) => p === text);
  if (found === undefined || !hostable.includes(found)) throw new InvalidArgumentError(`expected one of: ${hostable.join(', ')}`);
  return found;
}

/** A cluster id: what every connection's handshake must name. */
export function clusterId(text: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(text)) throw new InvalidArgumentError('expected 1-64 letters, digits, dots, dashes or underscores');
  return text;
}
