// Wine for the end-to-end tests: an isolated prefix under .tmp/, created once and reused, in
// which windows/amd64 Go binaries and the real go-azure.bat run.
//
// Go's Windows runtime (1.24 and later) needs ProcessPrng from bcryptprimitives.dll, which every
// supported Windows has but Wine 8 (Debian 12's) lacks: there a Go binary stops at start with
// "bcryptprimitives.dll not found". The prefix therefore gets a bcryptprimitives.dll whose only
// export forwards ProcessPrng to advapi32's SystemFunction036 (RtlGenRandom), which fills a
// buffer with random bytes just the same. The DLL is written here byte by byte: a PE32+ image
// with one section holding the export directory, no code at all.

import { spawnSync } from 'node:child_process';
import { runProcess, type ProcessRun } from './process.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The prefix the tests share: created on first use, kept between runs (it is git-ignored). */
export const defaultWinePrefix = path.join(repoRoot, '.tmp', 'wineprefix');

/** Whether `wine` is on PATH. */
export function wineAvailable(): boolean {
  return spawnSync('wine', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A DLL named dllName whose export `name` forwards to `target` ("module.Function"). Wine's and
 * Windows' loaders resolve a forwarder when the export's address lies inside the export directory.
 */
export function forwarderDll(dllName: string, name: string, target: string): Buffer {
  const fileAlign = 0x200;
  const sectionRva = 0x1000;
  const edata = Buffer.alloc(fileAlign);
  // Export directory (40 bytes), then one function address, one name pointer, one ordinal, strings.
  const eat = 40;
  const names = eat + 4;
  const ordinals = names + 4;
  const dllNameAt = ordinals + 2;
  const funcNameAt = dllNameAt + dllName.length + 1;
  const targetAt = funcNameAt + name.length + 1;
  const end = targetAt + target.length + 1;
  edata.writeUInt32LE(sectionRva + dllNameAt, 12); // Name
  edata.writeUInt32LE(1, 16); // Base
  edata.writeUInt32LE(1, 20); // NumberOfFunctions
  edata.writeUInt32LE(1, 24); // NumberOfNames
  edata.writeUInt32LE(sectionRva + eat, 28); // AddressOfFunctions
  edata.writeUInt32LE(sectionRva + names, 32); // AddressOfNames
  edata.writeUInt32LE(sectionRva + ordinals, 36); // AddressOfNameOrdinals
  edata.writeUInt32LE(sectionRva + targetAt, eat); // the forwarder string, inside the directory
  edata.writeUInt32LE(sectionRva + funcNameAt, names);
  edata.writeUInt16LE(0, ordinals);
  edata.write(`${dllName}\0`, dllNameAt, 'latin1');
  edata.write(`${name}\0`, funcNameAt, 'latin1');
  edata.write(`${target}\0`, targetAt, 'latin1');

  const headers = Buffer.alloc(fileAlign);
  headers.write('MZ', 0, 'latin1');
  headers.writeUInt32LE(0x40, 0x3c); // e_lfanew
  let o = 0x40;
  headers.write('PE\0\0', o, 'latin1');
  o += 4;
  // COFF header.
  headers.writeUInt16LE(0x8664, o); // AMD64
  headers.writeUInt16LE(1, o + 2); // one section
  headers.writeUInt16LE(240, o + 16); // SizeOfOptionalHeader
  headers.writeUInt16LE(0x2022, o + 18); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
  o += 20;
  // Optional header, PE32+.
  const opt = o;
  headers.writeUInt16LE(0x20b, opt);
  headers.writeUInt32LE(fileAlign, opt + 8); // SizeOfInitializedData
  headers.writeUInt32LE(0, opt + 16); // AddressOfEntryPoint: none
  headers.writeUInt32LE(sectionRva, opt + 20); // BaseOfCode
  headers.writeBigUInt64LE(0x180000000n, opt + 24); // ImageBase
  headers.writeUInt32LE(0x1000, opt + 32); // SectionAlignment
  headers.writeUInt32LE(fileAlign, opt + 36); // FileAlignment
  headers.writeUInt16LE(6, opt + 40); // MajorOperatingSystemVersion
  headers.writeUInt16LE(6, opt + 48); // MajorSubsystemVersion
  headers.writeUInt32LE(0x2000, opt + 56); // SizeOfImage
  headers.writeUInt32LE(fileAlign, opt + 60); // SizeOfHeaders
  headers.writeUInt16LE(3, opt + 68); // Subsystem: console
  headers.writeUInt16LE(0x0160, opt + 70); // HIGH_ENTROPY_VA | DYNAMIC_BASE | NX_COMPAT
  headers.writeBigUInt64LE(0x100000n, opt + 72); // SizeOfStackReserve
  headers.writeBigUInt64LE(0x1000n, opt + 80); // SizeOfStackCommit
  headers.writeBigUInt64LE(0x100000n, opt + 88); // SizeOfHeapReserve
  headers.writeBigUInt64LE(0x1000n, opt + 96); // SizeOfHeapCommit
  headers.writeUInt32LE(16, opt + 108); // NumberOfRvaAndSizes
  headers.writeUInt32LE(sectionRva, opt + 112); // export directory RVA
  headers.writeUInt32LE(end, opt + 116); // and size
  o = opt + 240;
  // Section header.
  headers.write('.edata\0\0', o, 'latin1');
  headers.writeUInt32LE(end, o + 8); // VirtualSize
  headers.writeUInt32LE(sectionRva, o + 12); // VirtualAddress
  headers.writeUInt32LE(fileAlign, o + 16); // SizeOfRawData
  headers.writeUInt32LE(fileAlign, o + 20); // PointerToRawData
  headers.writeUInt32LE(0x40000040, o + 36); // INITIALIZED_DATA | MEM_READ
  return Buffer.concat([headers, edata]);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd?: string): Promise<ProcessRun> {
  return runProcess(cmd, args, { env, timeoutMs, cwd });
}

/** The variables that point Wine at a prefix, quietly and without offering to install Mono or Gecko. */
export function wineVars(prefix: string): Record<string, string> {
  return { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
}

export function wineEnv(prefix: string): NodeJS.ProcessEnv {
  return { ...process.env, ...wineVars(prefix) };
}

/**
 * Creates the prefix when it does not exist yet (10-20 s the first time) and installs the
 * bcryptprimitives.dll forwarder. Concurrent callers wait for the one that creates it.
 */
export async function ensureWinePrefix(prefix = defaultWinePrefix): Promise<string> {
  const system32 = path.join(prefix, 'drive_c', 'windows', 'system32');
  const shim = path.join(system32, 'bcryptprimitives.dll');
  if (fs.existsSync(shim)) return prefix;
  fs.mkdirSync(path.dirname(prefix), { recursive: true });
  const lock = `${prefix}.lock`;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (fs.existsSync(shim)) return prefix;
      // A lock older than two minutes belongs to a run that died.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // Gone meanwhile.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (!fs.existsSync(system32)) {
      const r = await run('wine', ['cmd', '/c', 'exit', '0'], wineEnv(prefix), 180_000);
      if (!fs.existsSync(system32)) throw new Error(`creating the Wine prefix ${prefix} failed (${r.code}):\n${r.output}`);
    }
    fs.writeFileSync(`${shim}.tmp`, forwarderDll('bcryptprimitives.dll', 'ProcessPrng', 'advapi32.SystemFunction036'));
    fs.renameSync(`${shim}.tmp`, shim);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return prefix;
}

/** Runs `wine cmd /c <bat> <args…>` and collects its exit code and output. */
export function wineCmd(prefix: string, bat: string, args: string[], timeoutMs = 60_000, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return run('wine', ['cmd', '/c', bat, ...args], { ...wineEnv(prefix), ...extraEnv }, timeoutMs);
}

/**
 * Runs a Windows program as `wine <exe> <args…>` in the folder cwd, and collects its exit code and
 * output. The program runs in the `wine` process itself, so the timeout's SIGKILL to that PID ends it.
 */
export function wineExe(prefix: string, exe: string, args: string[], timeoutMs = 60_000, cwd?: string): Promise<{ code: number | null; output: string }> {
  return run('wine', [exe, ...args], wineEnv(prefix), timeoutMs, cwd);
}

/** Stops the prefix's wineserver (and with it every Wine process of that prefix only). */
export async function stopWineServer(prefix = defaultWinePrefix): Promise<void> {
  await run('wineserver', ['-k'], wineEnv(prefix), 15_000).catch(() => undefined);
}
