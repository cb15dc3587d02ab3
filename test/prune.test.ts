// The pure part of the prune stage (src/site/prune.ts): ordering artifacts by when they landed and
// choosing what to delete.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePrunable, landedAt, newestFirst } from '../src/site/prune.ts';
import type { VfsEntry } from '../src/site/kudu.ts';

const file = (name: string, minute: number, crMinute = minute): VfsEntry => ({
  name,
  size: 100,
  mtime: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
  crtime: new Date(Date.UTC(2026, 0, 1, 0, crMinute)).toISOString(),
  mime: 'application/x-msdownload',
  href: '',
  path: '',
});
const dir = (name: string): VfsEntry => ({ name, size: 0, mtime: '2026-01-01T00:00:00Z', mime: 'inode/directory', href: '', path: '' });

test('artifacts are ordered by when they landed: a fixed zip time in mtime loses to crtime', () => {
  // Kudu sets mtime from the zip entry (the commit's time; packages of earlier releases stored
  // 2000-01-01); crtime is the upload.
  const fixed = new Date(2000, 0, 1).toISOString();
  const a = { ...file('s-aaaaaaaaaa.exe', 1), mtime: fixed };
  const b = { ...file('s-bbbbbbbbbb.exe', 2), mtime: fixed };
  assert.deepEqual(newestFirst([a, b, dir('s-aaaaaaaaaa')]).map((e) => e.name), ['s-bbbbbbbbbb.exe', 's-aaaaaaaaaa.exe']);
  assert.equal(landedAt({ ...a, crtime: undefined }), Date.parse(fixed));
});

test('prune keeps the newest `keep`, the current and the previous; deletes the rest and their folders', () => {
  const listing = [
    file('s-0000000001.exe', 1), dir('s-0000000001'),
    file('s-0000000002.exe', 2), dir('s-0000000002'),
    file('s-0000000003.exe', 3),
    file('s-0000000004.exe', 4), dir('s-0000000004'),
    file('s-0000000005.exe', 5),
    dir('s-00000000ff'), // an orphan: its binary went at an earlier prune
    dir('assets'), // not an artifact's folder: never touched
  ];
  assert.deepEqual(choosePrunable(listing, { keep: 2, current: 's-0000000005.exe', previous: 's-0000000001.exe' }), {
    files: ['s-0000000003.exe', 's-0000000002.exe'],
    folders: ['s-0000000002', 's-00000000ff'],
  });
  // A rollback made an older one current: it and the previous stay whatever their age.
  assert.deepEqual(choosePrunable(listing, { keep: 1, current: 's-0000000002.exe', previous: 's-0000000005.exe' }).files, [
    's-0000000004.exe', 's-0000000003.exe', 's-0000000001.exe',
  ]);
  assert.deepEqual(choosePrunable([], { keep: 1, current: 'x', previous: '' }), { files: [], folders: [] });
});

test('the include folder of a content-hashed artifact goes with its binary, and is pruned when left behind', () => {
  const listing = [
    file('s-0000000001-abcdef.exe', 1), dir('s-0000000001-abcdef'),
    file('s-0000000002.exe', 2), dir('s-0000000002'),
    file('s-0000000003.exe', 3),
    dir('s-0000000004-012345'), // an orphan: its binary went at an earlier prune
    dir('s-0000000003-assets'), // not an artifact's folder: never touched
  ];
  assert.deepEqual(choosePrunable(listing, { keep: 1, current: 's-0000000003.exe', previous: 's-0000000002.exe' }), {
    files: ['s-0000000001-abcdef.exe'],
    folders: ['s-0000000001-abcdef', 's-0000000004-012345'],
  });
  // A kept hashed artifact keeps its folder.
  assert.deepEqual(choosePrunable(listing, { keep: 0, current: 's-0000000001-abcdef.exe', previous: 's-0000000003.exe' }).folders, ['s-0000000002', 's-0000000004-012345']);
});
