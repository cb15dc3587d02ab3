// Bundles src/ into the single committed dist/index.js that action.yml runs.
// `node scripts/bundle.mjs --check` writes nothing: it bundles in memory and exits 1 when the
// committed dist/index.js differs from what the sources give (the release script runs it).
import { build } from 'esbuild';
import * as fs from 'node:fs';

const outfile = 'dist/index.js';
const check = process.argv.includes('--check');

const result = await build({
  entryPoints: ['src/index.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  write: !check,
  // Some dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __goAzureCreateRequire } from 'node:module'; const require = __goAzureCreateRequire(import.meta.url);",
  },
});

if (check) {
  const fresh = result.outputFiles.find((f) => f.path.endsWith('index.js'));
  const committed = fs.existsSync(outfile) ? fs.readFileSync(outfile) : null;
  if (fresh === undefined || committed === null || !Buffer.from(fresh.contents).equals(committed)) {
    console.error(`${outfile} is out of date with src/: run "npm run bundle" and commit ${outfile}.`);
    process.exit(1);
  }
  console.log(`${outfile} matches src/.`);
}
