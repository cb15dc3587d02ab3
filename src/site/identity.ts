// Which binary, on which instance, answered verify's health checks, told to verify alone: before
// each switch the deploy writes a new random identity key beside _artifact.txt, and goazure (which
// reads it when it starts, goazure/identity.go) names the binary, the commit and the instance only
// in answers to requests that carry that key. Release 1.0.0 of goazure sends no such header: verify
// then tells the versions apart by Kudu's process list (verify.ts, identifiedBy).

import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { messageOf } from '../common/errors.ts';
import { IDENTITY_KEY_FILE } from './layout.ts';
import type { KuduClient } from './kudu.ts';

/** The request header that carries the identity key (goazure/identity.go, IdentityKeyHeader). */
export const IDENTITY_KEY_HEADER = 'x-goazure-identity-key';

/** The header naming the instance that answered: WEBSITE_INSTANCE_ID's first characters (goazure, InstanceHeader). */
export const INSTANCE_HEADER = 'x-goazure-instance';

/** A new identity key: 64 hexadecimal digits, which goazure's rule (32 to 256 printable characters) accepts. */
function newIdentityKey(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Writes a new identity key (or `key`, one the site had before) to the site and returns it, masked
 * in the log; undefined when the write failed (verify then tells the versions apart by Kudu's process list, as for an app that
 * does not link goazure). Called before the switch, so the version it starts reads this key.
 */
export async function writeIdentityKey(kudu: KuduClient, key = newIdentityKey()): Promise<string | undefined> {
  core.setSecret(key);
  try {
    // If-Match: * overwrites the last deploy's key; Kudu refuses to replace a file without one.
    await kudu.putFile(IDENTITY_KEY_FILE, `${key}\r\n`, { ifMatch: '*' });
    return key;
  } catch (err) {
    core.warning(`Could not write ${IDENTITY_KEY_FILE} (${messageOf(err)}); verify tells the new version by Kudu's process list alone.`);
    return undefined;
  }
}

/**
 * The identity key on the site (masked in the log), for a deploy that does not switch: the running
 * version read it when it started. Undefined when there is none or it cannot be read.
 */
export async function readIdentityKey(kudu: KuduClient): Promise<string | undefined> {
  try {
    const key = (await kudu.getFile(IDENTITY_KEY_FILE))?.body.toString('utf8').trim() ?? '';
    if (key === '') return undefined;
    core.setSecret(key);
    return key;
  } catch (err) {
    core.debug(`Could not read ${IDENTITY_KEY_FILE}: ${messageOf(err)}`);
    return undefined;
  }
}

/**
 * Whether an answer's X-Goazure-Instance value names the instance verify pinned with ARRAffinity
 * (goazure sends the first characters of WEBSITE_INSTANCE_ID, which the cookie names in full);
 * undefined when it cannot tell (no pinned instance, or an answer that does not say).
 */
export function answeredByPinned(pinned: string, header: string): boolean | undefined {
  if (pinned === '' || header === '') return undefined;
  return pinned.toLowerCase().startsWith(header.toLowerCase());
}
