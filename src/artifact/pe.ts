// Reads a Windows executable's headers (the PE/COFF format) to prove a build produced what the site
// can run: an image for the right machine, 64-bit where the architecture is. Only the first few
// kilobytes are read; nothing else about the file is trusted. A package built earlier is checked the
// same way before it is deployed, and for linux (the sandbox's shell launcher) its ELF header.

import * as fs from 'node:fs/promises';
import { ActionError } from '../common/errors.ts';

/** COFF machine types and optional-header magics, per target architecture. */
const PE_TARGETS: Readonly<Record<string, { machine: number; magic: number }>> = {
  amd64: { machine: 0x8664, magic: 0x20b },
  arm64: { machine: 0xaa64, magic: 0x20b },
  '386': { machine: 0x014c, magic: 0x10b },
};

const MACHINE_NAMES: Readonly<Record<number, string>> = {
  0x8664: 'x86-64 (amd64)',
  0xaa64: 'ARM64 (arm64)',
  0x014c: 'x86 (386)',
  0x01c4: 'ARMv7 (arm)',
};

const MAGIC_NAMES: Readonly<Record<number, string>> = { 0x10b: 'PE32', 0x20b: 'PE32+' };

const IMAGE_FILE_EXECUTABLE_IMAGE = 0x0002;
const IMAGE_FILE_DLL = 0x2000;

interface PeHeader {
  machine: number;
  magic: number;
  characteristics: number;
  subsystem: number;
}

/** How many leading bytes hold every header read here, for any sane linker. */
export const PE_HEADER_BYTES = 4096;

/** Parses the headers, or returns a sentence saying what the bytes are instead. */
export function parsePeHeader(buf: Uint8Array): PeHeader | string {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const ascii = (at: number, n: number): string => Buffer.from(buf.subarray(at, at + n)).toString('latin1');
  if (buf.byteLength >= 8 && ascii(0, 8) === '!<arch>\n') {
    return 'a Go package archive, not a program (the package is not a main package)';
  }
  if (buf.byteLength >= 4 && ascii(0, 4) === '\x7fELF') return 'an ELF (Linux/Unix) executable';
  if (buf.byteLength >= 4 && [0xfeedfacf, 0xcffaedfe, 0xfeedface, 0xcefaedfe].includes(view.getUint32(0))) {
    return 'a Mach-O (macOS) executable';
  }
  if (buf.byteLength < 64 || ascii(0, 2) !== 'MZ') return 'not a Windows executable (no MZ header)';
  const peAt = view.getUint32(0x3c, true);
  if (peAt + 24 + 70 > buf.byteLength) return 'not a Windows executable (the PE header offset points outside the file header)';
  if (ascii(peAt, 4) !== 'PE\0\0') return 'not a Windows executable (no PE signature)';
  const coff = peAt + 4;
  const machine = view.getUint16(coff, true);
  const optionalSize = view.getUint16(coff + 16, true);
  const characteristics = view.getUint16(coff + 18, true);
  if (optionalSize < 70) return 'a PE file without an optional header (an object file, not a program)';
  const optional = coff + 20;
  const magic = view.getUint16(optional, true);
  // The subsystem field sits at the same offset in PE32 and PE32+ optional headers.
  const subsystem = view.getUint16(optional + 68, true);
  return { machine, magic, characteristics, subsystem };
}

/** Describes a machine number for messages. */
export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `unknown machine 0x${machine.toString(16)}`;
}

/**
 * What keeps `head` (a file's first PE_HEADER_BYTES) from being a windows/`goarch` program, as
 * `{ what, hint }` to finish "The file is …"; undefined when it is one: MZ and PE signatures, the
 * target's COFF machine, an executable (not a DLL), and PE32+ for 64-bit.
 */
function windowsImageProblem(head: Uint8Array, goarch: string): { what: string; hint: string } | undefined {
  const expected = PE_TARGETS[goarch];
  if (expected === undefined) return { what: `for goarch ${goarch}, which has no known Windows executable format`, hint: 'Use amd64, arm64 or 386.' };
  const header = parsePeHeader(head);
  if (typeof header === 'string') {
    return { what: `${header}, not a windows/${goarch} program`, hint: 'Check goos, goarch, package and build-flags.' };
  }
  if (header.machine !== expected.machine) {
    return { what: `a Windows executable for ${machineName(header.machine)}, not for goarch ${goarch} (${machineName(expected.machine)})`, hint: 'Check goarch and build-flags.' };
  }
  if (header.magic !== expected.magic) {
    return { what: `a ${MAGIC_NAMES[header.magic] ?? `0x${header.magic.toString(16)}`} image, but windows/${goarch} needs ${MAGIC_NAMES[expected.magic]}`, hint: '' };
  }
  if ((header.characteristics & IMAGE_FILE_EXECUTABLE_IMAGE) === 0 || (header.characteristics & IMAGE_FILE_DLL) !== 0) {
    return { what: 'a Windows library (DLL) or object, not a program', hint: 'Remove -buildmode from build-flags.' };
  }
  return undefined;
}

/** ELF e_machine numbers, per target architecture. */
const ELF_MACHINES: Readonly<Record<string, number>> = { amd64: 62, arm64: 183, '386': 3, arm: 40 };

/**
 * What keeps `head` from being a program for `goos`/`goarch`, or undefined when it is one: the
 * Windows checks above, and for linux the ELF magic and machine. Other systems are not checked.
 */
export function executableProblem(head: Uint8Array, goos: string, goarch: string): string | undefined {
  if (goos === 'windows') return windowsImageProblem(head, goarch)?.what;
  if (goos !== 'linux') return undefined;
  const isElf = head.byteLength >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
  if (!isElf) {
    const header = parsePeHeader(head);
    return `${typeof header === 'string' ? header : 'a Windows executable'}, not a linux/${goarch} program`;
  }
  if (head.byteLength < 20) return 'an ELF file cut short before its machine field';
  const machine = Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt16LE(18);
  const expected = ELF_MACHINES[goarch];
  if (expected !== undefined && machine !== expected) return `an ELF executable for machine ${machine}, not for goarch ${goarch} (machine ${expected})`;
  return undefined;
}

/** Throws an ActionError unless `filePath` is a Windows executable image for `goarch` (windowsImageProblem). */
export async function checkWindowsExecutable(filePath: string, goarch: string): Promise<PeHeader> {
  if (PE_TARGETS[goarch] === undefined) {
    throw new ActionError(`goarch: "${goarch}" has no known Windows executable format to check; use amd64, arm64 or 386.`);
  }
  const fh = await fs.open(filePath, 'r');
  let head: Uint8Array;
  try {
    const buf = Buffer.alloc(PE_HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const problem = windowsImageProblem(head, goarch);
  if (problem !== undefined) {
    throw new ActionError(`The build output ${filePath} is ${problem.what}; it was not deployed.${problem.hint ? ` ${problem.hint}` : ''}`);
  }
  return parsePeHeader(head) as PeHeader;
}
