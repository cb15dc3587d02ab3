// Which runners the action supports: Linux, x64 or arm64. The Go toolchain install, the build's
// process handling and every test run on Linux; the Windows-runner paths in the code have no test
// that runs them (Node 24 for Windows does not start under Wine here), so such a runner is refused
// at the start instead of failing somewhere in the middle of a deploy.

/** Why this runner is not supported, or undefined when it is. */
export function unsupportedRunner(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  // RUNNER_OS and RUNNER_ARCH are the runner's own names (Linux, Windows, macOS; X64, ARM64, X86, ARM);
  // outside a runner, Node's.
  const os = env.RUNNER_OS || ({ linux: 'Linux', win32: 'Windows', darwin: 'macOS' } as Record<string, string>)[platform] || platform;
  const cpu = (env.RUNNER_ARCH || arch).toUpperCase();
  const use = 'Use a Linux runner (runs-on: ubuntu-latest, or ubuntu-24.04-arm): the action cross-builds the Windows binary there.';
  if (os !== 'Linux') return `This runner is ${os}; go-azure-deploy runs on Linux runners (x64, arm64) only. ${use}`;
  if (cpu !== 'X64' && cpu !== 'ARM64') return `This runner's architecture is ${cpu}; go-azure-deploy runs on Linux runners (x64, arm64) only. ${use}`;
  return undefined;
}
