// The README's inputs and outputs tables must match action.yml: the interface is documented once
// per name, with the same default.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../sandbox/runner.ts';

interface ActionYml {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

const action = parse(fs.readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as ActionYml;
const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

/** Rows of the markdown table under `## <heading>`, as arrays of cells. */
function tableUnder(heading: string): string[][] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has no "## ${heading}" section`);
  const rest = readme.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  return section
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2)
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

test('action.yml runs on node24 from dist/index.js', () => {
  assert.equal(action.runs.using, 'node24');
  assert.equal(action.runs.main, 'dist/index.js');
  for (const [name, input] of Object.entries(action.inputs)) {
    assert.ok(input.description.trim().length > 10, `input ${name} has a description`);
  }
});

test('README inputs table lists exactly the inputs of action.yml, with their defaults', () => {
  const rows = tableUnder('Inputs');
  const names = rows.map((r) => r[0].replace(/\*\*\(required\)\*\*/, '').trim().replace(/`/g, ''));
  assert.deepEqual(names, Object.keys(action.inputs));
  for (const row of rows) {
    const name = row[0].replace(/\*\*\(required\)\*\*/, '').trim().replace(/`/g, '');
    const input = action.inputs[name];
    assert.equal(row[0].includes('(required)'), input.required === true, `${name}: required marker`);
    if (input.default !== undefined) assert.equal(row[1], `\`${input.default}\``, `${name}: default`);
  }
});

test('README outputs table lists exactly the outputs of action.yml', () => {
  const names = tableUnder('Outputs').map((r) => r[0].replace(/`/g, ''));
  assert.deepEqual(names, Object.keys(action.outputs));
});
