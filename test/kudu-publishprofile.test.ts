// Publish profile parsing and checks: everything is decided before any network call.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionError } from '../src/common/errors.ts';
import { expectedUserName, normalizeKuduUrl, parsePublishProfile, connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { startKudu } from '../sandbox/kudu.ts';
import { profileConfig } from '../sandbox/fixture.ts';

test('publishUrl with or without scheme and port gives the same HTTPS base URL', () => {
  assert.equal(normalizeKuduUrl('my-app.scm.azurewebsites.net'), 'https://my-app.scm.azurewebsites.net');
  assert.equal(normalizeKuduUrl('my-app.scm.azurewebsites.net:443'), 'https://my-app.scm.azurewebsites.net');
  assert.equal(normalizeKuduUrl('https://my-app.scm.azurewebsites.net/'), 'https://my-app.scm.azurewebsites.net');
  assert.equal(normalizeKuduUrl('http://127.0.0.1:8123'), 'http://127.0.0.1:8123');
});

test('the emulator profile in each publishUrl form parses; MSDeploy/ZipDeploy chosen, not FTP', async () => {
  const kudu = await startKudu({ siteName: 'pp-site', appUrl: 'https://pp-site.azurewebsites.net' });
  try {
    for (const [form, expected] of [
      ['host', 'https://pp-site.scm.azurewebsites.net'],
      ['host:443', 'https://pp-site.scm.azurewebsites.net'],
      ['https-url', 'https://pp-site.scm.azurewebsites.net'],
    ] as const) {
      const p = parsePublishProfile(kudu.publishProfileXml({ publishUrlForm: form }));
      assert.equal(p.kuduUrl, expected, form);
      assert.equal(p.userName, '$pp-site');
      assert.equal(p.password, kudu.password);
      assert.equal(p.webappUrl, 'https://pp-site.azurewebsites.net');
      assert.ok(['ZipDeploy', 'MSDeploy'].includes(p.publishMethod));
    }
  } finally {
    await kudu.close();
  }
});

test('kudu-url overrides the profile publishUrl; the target authenticates with Basic', async () => {
  const kudu = await startKudu({ siteName: 'pp-site' });
  try {
    const t = connectionFromPublishProfile(profileConfig('pp-site', 'production', kudu.url + '/'), kudu.publishProfileXml({ publishUrlForm: 'host:443' }));
    assert.equal(t.kuduUrl, kudu.url);
    assert.equal(t.authKind, 'basic');
    assert.equal(await t.authorization(), `Basic ${Buffer.from(`$pp-site:${kudu.password}`).toString('base64')}`);
  } finally {
    await kudu.close();
  }
});

test('slot profiles: $app__slot matches slot-name; production wants $app', async () => {
  const kudu = await startKudu({ siteName: 'pp-site', slot: 'staging' });
  try {
    assert.equal(expectedUserName('pp-site', 'production'), '$pp-site');
    assert.equal(expectedUserName('pp-site', 'staging'), '$pp-site__staging');
    const t = connectionFromPublishProfile(profileConfig('pp-site', 'staging'), kudu.publishProfileXml());
    assert.equal(t.kuduUrl, 'https://pp-site-staging.scm.azurewebsites.net');
    assert.throws(
      () => connectionFromPublishProfile(profileConfig('pp-site', 'production'), kudu.publishProfileXml()),
      (e: Error) => e instanceof ActionError && /site "pp-site" slot "staging"/.test(e.message) && /app-name/.test(e.message),
    );
  } finally {
    await kudu.close();
  }
});

test('a profile for another site fails before any request, naming both', async () => {
  const kudu = await startKudu({ siteName: 'other-site' });
  try {
    assert.throws(
      () => connectionFromPublishProfile(profileConfig('my-site'), kudu.publishProfileXml()),
      (e: Error) => e instanceof ActionError && /site "other-site"/.test(e.message) && /"my-site"/.test(e.message),
    );
    assert.equal(kudu.requests.length, 0);
  } finally {
    await kudu.close();
  }
});

test('malformed XML, no publishData, only FTP, missing fields → clear errors', () => {
  const bad = (xml: string, re: RegExp): void =>
    assert.throws(() => parsePublishProfile(xml), (e: Error) => e instanceof ActionError && /^publish-profile: /.test(e.message) && re.test(e.message), xml);
  bad('', /empty/);
  bad('<publishData><publishProfile publishMethod="MSDeploy"', /not valid XML/);
  bad('<other/>', /no <publishData>/);
  bad('<publishData/>', /no <publishProfile>/);
  bad('<publishData><publishProfile publishMethod="FTP" publishUrl="ftp://x" userName="a" userPWD="b" destinationAppUrl="http://x"/></publishData>', /no ZipDeploy or MSDeploy profile \(found: FTP\)/);
  bad('<publishData><publishProfile publishMethod="MSDeploy" userName="$a" userPWD="b" destinationAppUrl="http://x"/></publishData>', /no publishUrl/);
  bad('<publishData><publishProfile publishMethod="MSDeploy" publishUrl="a.scm.azurewebsites.net:443" userName="$a" destinationAppUrl="http://x"/></publishData>', /no userPWD/);
  bad('<publishData><publishProfile publishMethod="MSDeploy" publishUrl="a.scm.azurewebsites.net:443" userName="$a" userPWD="p"/></publishData>', /no destinationAppUrl/);
});

test('the password is masked at once with ::add-mask::', async () => {
  const kudu = await startKudu({ siteName: 'mask-site' });
  const written: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    written.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    parsePublishProfile(kudu.publishProfileXml());
  } finally {
    process.stdout.write = original;
    await kudu.close();
  }
  assert.ok(written.some((l) => l.startsWith(`::add-mask::${kudu.password}`)), written.join(''));
});
