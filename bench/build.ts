// Benchmark of the build and package stages, in one run with a warm Go build cache:
//   1. zip size ÷ binary size for the app (goal ≤ 0.5);
//   2. build-stage wall time ÷ a bare `go build` of the same package (goal ≤ 1.1).
//
// Usage: node_modules/.bin/node bench/build.ts [app-folder] [rounds]
// app-folder defaults to example/ (falling back to the test fixture app while example/ has no go.mod).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBinary, goBuildArgs, goBuildEnv, type BuildRequest } from '../src/artifact/compile.ts';
import { packageArtifact } from '../src/artifact/pack.ts';
import { recordFigure } from './results.ts';
import { windowsBuildRequest, machineGoBin } from '../sandbox/gobuild.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let appDir = path.resolve(process.argv[2] ?? path.join(repoRoot, 'example'));
if (!fs.existsSync(path.join(appDir, 'go.mod')) && process.argv[2] === undefined) {
  const fallback = path.join(repoRoot, 'test', 'fixtures', 'hello');
  console.log(`${appDir} has no go.mod yet; measuring ${fallback} instead.`);
  appDir = fallback;
}
const rounds = Number(process.argv[3] ?? 7);
const goBin = machineGoBin;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-build-'));
const never = new AbortController().signal;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

function request(out: string): BuildRequest {
  return windowsBuildRequest(appDir, out, { commit: COMMIT, env: {} });
}

const bareEnv = { ...process.env, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' };
function bareBuild(out: string): number {
  const t0 = performance.now();
  const r = spawnSync(goBin, ['build', '-o', out, '.'], { cwd: appDir, env: bareEnv, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`bare go build failed: ${r.stderr}`);
  return ms;
}

// The stage's own go command line run directly: what the stage adds around go (the git check,
// process handling, the output checks) is the difference.
function sameCommand(out: string): number {
  const req = request(out);
  const t0 = performance.now();
  const r = spawnSync(goBin, goBuildArgs(req, false), { cwd: appDir, env: goBuildEnv(req), encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
  return ms;
}

async function stageBuild(out: string): Promise<number> {
  const t0 = performance.now();
  await buildBinary(request(out), never);
  return performance.now() - t0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  // Warm the cache for both command lines (-trimpath compiles to different cache keys).
  bareBuild(path.join(scratch, 'warm-bare.exe'));
  await stageBuild(path.join(scratch, 'warm-stage.exe'));

  const bare: number[] = [];
  const stage: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Rotate the order so no side always runs on the warmer machine.
    const runs = [
      async () => bare.push(bareBuild(path.join(scratch, `bare-${i}.exe`))),
      async () => stage.push(await stageBuild(path.join(scratch, `stage-${i}.exe`))),
      async () => direct.push(sameCommand(path.join(scratch, `direct-${i}.exe`))),
    ];
    for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]();
  }

  const binary = path.join(scratch, 'stage-0.exe');
  const zips: { level: number; size: number; ms: number }[] = [];
  for (const level of [1, 6, 9]) {
    const t0 = performance.now();
    const pkg = await packageArtifact({
      binaryPath: binary,
      artifactName: 'app-0123456789.exe',
      workingDirectory: appDir,
      include: [],
      outputPath: path.join(scratch, `app-${level}.zip`),
      mtime: new Date(),
      compressionLevel: level,
    });
    zips.push({ level, size: pkg.zipSize, ms: performance.now() - t0 });
  }
  const binarySize = fs.statSync(binary).size;
  const bareSize = fs.statSync(path.join(scratch, 'bare-0.exe')).size;

  console.log(`app: ${path.relative(repoRoot, appDir) || '.'} (windows/amd64, ${rounds} rounds, warm cache)`);
  console.log(`binary: ${binarySize} bytes stripped (-s -w); a bare go build without -s -w: ${bareSize} bytes`);
  for (const z of zips) {
    console.log(`zip (deflate level ${z.level}): ${z.size} bytes, ratio ${(z.size / binarySize).toFixed(3)} (goal <= 0.5), packaged in ${z.ms.toFixed(0)} ms`);
  }
  console.log(`build stage: median ${median(stage).toFixed(0)} ms; bare go build: median ${median(bare).toFixed(0)} ms`);
  console.log(`build-stage time / bare go build: ${(median(stage) / median(bare)).toFixed(3)} (goal <= 1.1)`);
  const shipped = zips.find((z) => z.level === 6) ?? zips[0];
  const zipRatio = shipped.size / binarySize;
  recordFigure({ bench: 'build', figure: `zip ÷ binary (deflate ${shipped.level}, the default)`, value: zipRatio, unit: 'x', goal: '≤ 0.5', met: zipRatio <= 0.5 });
  const buildRatio = median(stage) / median(bare);
  recordFigure({ bench: 'build', figure: 'build stage ÷ bare go build', value: buildRatio, unit: 'x', goal: '≤ 1.1', met: buildRatio <= 1.1 });
  console.log(
    `build-stage time / its own go command run directly (median ${median(direct).toFixed(0)} ms): ${(median(stage) / median(direct)).toFixed(3)} (the stage's overhead)`,
  );
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
