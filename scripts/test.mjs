// The test command: every test file under test/, on Node 24 (the node@24 devDependency that npm
// scripts put first on PATH), ending with the test runner's pass/fail summary.
import { spawnSync } from 'node:child_process';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`Tests need Node 24 (the action runs on node24); this is ${process.version}. Run them with "npm test".`);
  process.exit(1);
}
const files = process.argv.slice(2);
const args = ['--test', '--test-reporter=spec', '--test-concurrency=2', ...(files.length > 0 ? files : ['test/**/*.test.ts'])];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, GO_AZURE_DEPLOY_TEST: '1' } });
process.exit(result.status ?? 1);
