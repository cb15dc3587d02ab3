// Bundles src/ into the single committed dist/index.js that action.yml runs.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __goAzureCreateRequire } from 'node:module'; const require = __goAzureCreateRequire(import.meta.url);",
  },
});
