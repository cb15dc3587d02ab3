// The site's layout (src/site/layout.ts): what _artifact.txt holds and how names map to the site.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactFileContent, artifactStem, parseArtifactFile } from '../src/site/layout.ts';

test('_artifact.txt: slashes either way, BOM, spaces, any line ending or none', () => {
  for (const content of [
    '_target\\site-0123456789.exe\r\n',
    '_target/site-0123456789.exe',
    '\uFEFF_target\\site-0123456789.exe\n',
    '  _target\\site-0123456789.exe  \r\n\r\n',
    '\r\n_target\\\\site-0123456789.exe\r',
    'site-0123456789.exe',
  ]) {
    assert.equal(parseArtifactFile(content), 'site-0123456789.exe', JSON.stringify(content));
  }
  assert.equal(parseArtifactFile(''), '');
  assert.equal(parseArtifactFile('\uFEFF  \r\n'), '');
  assert.equal(artifactFileContent('site-0123456789.exe'), '_target\\site-0123456789.exe\r\n');
});

test('an artifact\'s stem is its name without .exe, whatever the case of the extension', () => {
  assert.equal(artifactStem('myapp-0123456789.exe'), 'myapp-0123456789');
  assert.equal(artifactStem('Shop-0123456789.EXE'), 'Shop-0123456789');
  assert.equal(artifactStem('shop-0123456789'), 'shop-0123456789');
});
