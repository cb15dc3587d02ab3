// The documented interface must match action.yml: docs/inputs.md lists every input and output once,
// with its default; the README's common inputs are real inputs with the same defaults; and every
// input a README or docs/ example passes to the action exists (no removed or misspelt name shown
// as current).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot } from '../sandbox/runner.ts';
import { RENAMED_INPUTS } from '../src/common/inputs.ts';

interface ActionYml {
  inputs: Record<string, { description: string; required?: boolean; default?: string; deprecationMessage?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
}

const action = parse(fs.readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as ActionYml;
const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const inputsDoc = fs.readFileSync(path.join(repoRoot, 'docs', 'inputs.md'), 'utf8');
/** Every page a user reads: the README and docs/. */
const pages: Record<string, string> = { 'README.md': readme };
for (const f of fs.readdirSync(path.join(repoRoot, 'docs'))) {
  if (f.endsWith('.md')) pages[`docs/${f}`] = fs.readFileSync(path.join(repoRoot, 'docs', f), 'utf8');
}
/** Inputs shown as current: in action.yml and not a deprecated name (src/common/inputs.ts, RENAMED_INPUTS). */
const deprecated = new Set(RENAMED_INPUTS.map((r) => r.old));
const current = new Set(Object.keys(action.inputs).filter((n) => !deprecated.has(n)));

/** Rows of the first markdown table under `## <heading>` in text, as arrays of cells. */
function tableUnder(text: string, heading: string, where: string): string[][] {
  const start = text.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `${where} has no "## ${heading}" section`);
  const rest = text.slice(start + heading.length + 5);
  const end = rest.search(/\n## /);
  const section = end >= 0 ? rest.slice(0, end) : rest;
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[] = [];
  for (let i = first; i >= 0 && i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i]);
  return rows.slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

const nameOf = (cell: string): string => cell.replace(/\*\*\(required\)\*\*/, '').trim().replace(/`/g, '');

/** The `with:` keys of every step in the page's YAML blocks that runs this action. */
export function actionStepInputs(markdown: string): { name: string; block: number }[] {
  const found: { name: string; block: number }[] = [];
  const blocks = [...markdown.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m) => m[1]);
  blocks.forEach((yaml, block) => {
    // Snippets are often a step list cut out of a workflow: indent-agnostic, parsed as YAML.
    const indent = Math.min(...yaml.split('\n').filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
    for (const doc of parseAllDocuments(yaml.replace(new RegExp(`^ {${indent}}`, 'gm'), ''))) {
      const visit = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(visit);
        else if (node !== null && typeof node === 'object') {
          const step = node as Record<string, unknown>;
          if (typeof step.uses === 'string' && /^(go-azure-deploy\/go-azure-deploy@|\.\/?$)/.test(step.uses) && step.with) {
            for (const name of Object.keys(step.with as object)) found.push({ name, block });
          }
          Object.values(step).forEach(visit);
        }
      };
      visit(doc.toJS());
    }
  });
  return found;
}

test('action.yml runs on node24 from dist/index.js, and marks app-name as its required input', () => {
  assert.equal(action.runs.using, 'node24');
  assert.equal(action.runs.main, 'dist/index.js');
  for (const [name, input] of Object.entries(action.inputs)) {
    assert.ok(input.description.trim().length > 10, `input ${name} has a description`);
  }
  // The Marketplace shows `required`; the runner does not enforce it, so a build-only run without it still starts.
  assert.deepEqual(Object.keys(action.inputs).filter((n) => action.inputs[n].required === true), ['app-name']);
});

test('docs/inputs.md lists exactly the current inputs of action.yml, with their defaults', () => {
  const rows = tableUnder(inputsDoc, 'Inputs', 'docs/inputs.md');
  assert.deepEqual(rows.map((r) => nameOf(r[0])), Object.keys(action.inputs).filter((n) => current.has(n)));
  for (const row of rows) {
    const name = nameOf(row[0]);
    const input = action.inputs[name];
    assert.equal(row[0].includes('(required)'), input.required === true, `${name}: required marker`);
    if (input.default !== undefined) assert.equal(row[1], `\`${input.default}\``, `${name}: default`);
  }
});

test('docs/inputs.md lists every deprecated name with its new one, and action.yml still takes it', () => {
  const rows = tableUnder(inputsDoc, 'Deprecated inputs', 'docs/inputs.md');
  assert.deepEqual(
    rows.map((r) => [nameOf(r[0]), /^`([^`]+)`/.exec(r[1])?.[1]]),
    RENAMED_INPUTS.map((r) => [r.old, r.new]),
  );
  for (const r of RENAMED_INPUTS) {
    assert.ok(r.old in action.inputs, `action.yml still takes ${r.old}`);
    assert.ok(current.has(r.new), `action.yml has ${r.new}`);
    assert.match(action.inputs[r.old].description, new RegExp(`^Deprecated, use ${r.new}\\b`));
  }
});

test('no page shows a deprecated name as current (outside the deprecated table)', () => {
  for (const [page, text] of Object.entries(pages)) {
    const shown = page === 'docs/inputs.md' ? text.slice(0, text.indexOf('\n## Deprecated inputs')) : text;
    for (const r of RENAMED_INPUTS) {
      // `swap-slot: production`, `timeout`, a table row `| \`package\` |`: the name as an input.
      // `package` alone is also the ordinary word (a deploy package): only `package: …` and a table row count for it.
      const asInput = r.old === 'package'
        ? /`package: [^`]*`|^\|\s*`package`/m
        : new RegExp(`\`${r.old}(: [^\`]*)?\`|^\\|\\s*\`${r.old}\``, 'm');
      const hit = asInput.exec(shown);
      assert.equal(hit, null, `${page} shows ${r.old} (renamed ${r.new}): ${hit?.[0]}`);
    }
  }
});

test('docs/inputs.md lists exactly the outputs of action.yml', () => {
  const names = tableUnder(inputsDoc, 'Outputs', 'docs/inputs.md').map((r) => r[0].replace(/`/g, ''));
  assert.deepEqual(names, Object.keys(action.outputs));
});

test("the README's common inputs are current inputs of action.yml, with their defaults", () => {
  const rows = tableUnder(readme, 'Common inputs', 'README.md');
  assert.ok(rows.length >= 8, 'the README lists the common inputs');
  for (const row of rows) {
    const name = nameOf(row[0]);
    assert.ok(current.has(name), `README "Common inputs": ${name} is not a current input of action.yml`);
    const input = action.inputs[name];
    assert.equal(row[1], input.default === undefined || input.default === '' ? '' : `\`${input.default}\``, `${name}: default`);
  }
});

test('every input a README or docs/ example passes to the action is a current input of action.yml', () => {
  let steps = 0;
  for (const [page, text] of Object.entries(pages)) {
    for (const { name, block } of actionStepInputs(text)) {
      steps++;
      assert.ok(current.has(name), `${page}, YAML block ${block + 1}: "${name}" is not a current input of action.yml`);
    }
  }
  assert.ok(steps > 20, `the examples were found (${steps} inputs)`);
});

test('the example check catches a name that is not an input', () => {
  const page = '```yaml\n      - uses: go-azure-deploy/go-azure-deploy@v1\n        with:\n          app-name: x\n          swap-slots: production\n```\n';
  const names = actionStepInputs(page).map((f) => f.name);
  assert.deepEqual(names, ['app-name', 'swap-slots']);
  assert.ok(!current.has('swap-slots'));
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  const text = heading.replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Markdown without fenced code blocks and inline code, where a link or heading is not one. */
const prose = (markdown: string): string => markdown.replace(/^```[^]*?^```/gm, '').replace(/`[^`\n]*`/g, '');

/** The anchors a page's headings give, repeated ones numbered as GitHub numbers them. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/^```[^]*?^```/gm, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = headingAnchor(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The relative link targets of a page (inline and reference links), not those in code. */
export function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|^\[[^\]]+\]:\s+(\S+)/gm)]
    .map((m) => m[1] ?? m[2])
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target)); // https:, mailto:
}

/** Every relative link of a page that does not resolve: a missing file, or an anchor no heading gives. */
export function brokenLinks(page: string, markdown: string, read: (file: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const target of relativeLinks(markdown)) {
    const [file, anchor] = target.split('#', 2);
    const resolved = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
    const text = read(resolved);
    if (text === undefined) {
      broken.push(`${page}: ${target} (no ${resolved})`);
    } else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(text).has(anchor)) {
      broken.push(`${page}: ${target} (no heading in ${resolved} gives #${anchor})`);
    }
  }
  return broken;
}

/** A repository file's text, '' for a folder, undefined when there is none. */
const readRepoFile = (file: string): string | undefined => {
  const p = path.join(repoRoot, file);
  if (!fs.existsSync(p)) return undefined;
  return fs.statSync(p).isDirectory() ? '' : fs.readFileSync(p, 'utf8');
};

test('every relative link and #anchor in the README and docs/ leads somewhere', () => {
  const all: Record<string, string> = { ...pages };
  for (const f of ['CHANGELOG.md', 'CONTRIBUTING.md', 'SECURITY.md']) all[f] = fs.readFileSync(path.join(repoRoot, f), 'utf8');
  const broken = Object.entries(all).flatMap(([page, text]) => brokenLinks(page, text, readRepoFile));
  assert.deepEqual(broken, []);
  const links = Object.values(all).flatMap(relativeLinks);
  assert.ok(links.length > 60 && links.filter((l) => l.includes('#')).length > 15, `the links were found (${links.length})`);
});

test('the link check catches a missing file and a missing anchor, and follows a page\'s own headings', () => {
  const files: Record<string, string> = { 'docs/a.md': '# Title\n\n## The `rollback` input, again\n\n## Setup\n\n## Setup\n' };
  const read = (f: string): string | undefined => files[f];
  assert.deepEqual(brokenLinks('README.md', '[a](docs/a.md#the-rollback-input-again) [b](docs/a.md#setup-1) [c](https://x.invalid/#y)\n', read), []);
  assert.deepEqual(brokenLinks('README.md', '[a](docs/b.md) [b](docs/a.md#nope) `[c](docs/x.md)`\n', read), [
    'README.md: docs/b.md (no docs/b.md)',
    'README.md: docs/a.md#nope (no heading in docs/a.md gives #nope)',
  ]);
  assert.deepEqual(brokenLinks('docs/a.md', '[x](#setup) [y](../docs/a.md#title) [z](#missing)\n', read), ['docs/a.md: #missing (no heading in docs/a.md gives #missing)']);
});

test('the README stays a guide: at most 315 lines', () => {
  assert.ok(readme.split('\n').length <= 316, `README.md has ${readme.split('\n').length} lines`);
});

test("the README gives the demo and the test command, and .ci/run runs that same test command", () => {
  assert.match(readme, /^npm ci && npm run demo\b/m);
  assert.match(readme, /^npm ci && npm test\b/m);
  const ci = fs.readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8');
  assert.match(ci, /^npm test$/m, '.ci/run runs the README\'s test command');
});
