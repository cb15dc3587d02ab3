// The test command: every test file under test/, on Node 24 (the node@24 devDependency that npm
// scripts put first on PATH), ending with the test runner's pass/fail summary.
//
//   node scripts/test.mjs            every test (npm test)
//   node scripts/test.mjs --quick    the tests that start no process and no server (npm run test:quick)
//   node scripts/test.mjs FILE...    the given files
import { spawnSync } from 'node:child_process';

// Pure logic only: no child process, no server, no Go build. Keep this list to files that run in
// well under a second each, so the quick tier stays a matter of seconds.
const QUICK = [
  'test/azure-logic.test.ts',
  'test/canary.test.ts',
  'test/deadline.test.ts',
  'test/inputs.test.ts',
  'test/layout.test.ts',
  'test/name.test.ts',
  'test/prune.test.ts',
  'test/readme.test.ts',
  'test/report.test.ts',
  'test/retry.test.ts',
  'test/toolchain-version.test.ts',
  'test/verify.test.ts',
];

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`Tests need Node 24 (the action runs on node24); this is ${process.version}. Run them with "npm test".`);
  process.exit(1);
}
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const named = args.filter((a) => a !== '--quick');
const files = quick ? QUICK : named.length > 0 ? named : ['test/**/*.test.ts'];
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, GO_AZURE_DEPLOY_TEST: '1' },
});
process.exit(result.status ?? 1);
