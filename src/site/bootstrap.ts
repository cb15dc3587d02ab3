// The bootstrap stage: web.config and go-azure.bat written only if absent. docs/ARCHITECTURE.md, "The flow".
// The templates ship with the action in templates/; a file already on the site is the user's
// and is never replaced. A kept go-azure.bat that an earlier release wrote is named in a warning,
// with how to replace it.

import * as core from '@actions/core';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActionError } from '../common/errors.ts';
import { KuduError, type KuduClient } from './kudu.ts';
import { LAUNCHER_FILE, LAUNCHER_FILES, SITE_ROOT } from './layout.ts';

/**
 * The launchers earlier releases wrote, by the sha256 of their bytes (templates/*.bat are kept
 * byte for byte, see .gitattributes; test/fixtures/compat holds each one). Release 1.0.0's starts
 * whatever path _artifact.txt names; the current one starts only what goazure hands over to.
 */
const EARLIER_LAUNCHERS: ReadonlyMap<string, string> = new Map([['d3242f614fe2f5e86ce89f34fe1b3ee208ab13f23dce273f974c3a6ca506d61d', '1.0.0']]);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface BootstrapResult {
  written: string[];
  kept: string[];
}

/**
 * The action's templates folder: `templates/` at the action's root. The code runs from two depths,
 * bundled as `dist/index.js` and as sources under `src/site/`, so the folder is found by walking up.
 */
export function templatesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'templates');
    if (fs.existsSync(path.join(candidate, LAUNCHER_FILE))) return candidate + path.sep;
    dir = path.dirname(dir);
  }
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates') + path.sep;
}

function readTemplate(name: string): Buffer {
  const file = templatesDir() + name;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ActionError(
      `The action's template ${name} is missing (${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}). ` +
        `The action's files are incomplete: use a released tag of go-azure-deploy, or set bootstrap: false and upload web.config and go-azure.bat yourself.`,
    );
  }
}

/** Which bootstrap files are absent from site/wwwroot now. */
export async function missingBootstrapFiles(kudu: KuduClient): Promise<string[]> {
  const listing = (await kudu.listDir(SITE_ROOT)) ?? [];
  const present = new Set(listing.map((e) => e.name.toLowerCase()));
  return LAUNCHER_FILES.filter((f) => !present.has(f.toLowerCase()));
}

export async function bootstrapSite(kudu: KuduClient): Promise<BootstrapResult> {
  const missing = new Set(await missingBootstrapFiles(kudu));
  const result: BootstrapResult = { written: [], kept: [] };
  for (const name of LAUNCHER_FILES) {
    if (!missing.has(name)) {
      result.kept.push(name);
      if (name === LAUNCHER_FILE) await reportKeptLauncher(kudu);
      else core.info(`Kept your ${name}: ${SITE_ROOT}/${name} already exists and is never overwritten.`);
      continue;
    }
    const content = readTemplate(name);
    try {
      // No If-Match: Kudu only creates. Should the file appear meanwhile, it answers 412 and the
      // user's file stays.
      await kudu.putFile(`${SITE_ROOT}/${name}`, content);
      result.written.push(name);
      core.info(`Wrote ${SITE_ROOT}/${name} from the action's template.`);
    } catch (err) {
      if (!(err instanceof KuduError && err.status === 412)) throw err;
      result.kept.push(name);
      core.info(`Kept your ${name}: it appeared on the site meanwhile and was not overwritten.`);
    }
  }
  return result;
}

/**
 * Says which launcher the site kept. One an earlier release wrote gets a warning on every deploy
 * until it is replaced: bootstrap never replaces it, and it should not be replaced while it runs,
 * since cmd.exe reads a batch file as it goes and the running launcher reads on in its file when
 * the app exits. A restart ends the running launcher first.
 */
async function reportKeptLauncher(kudu: KuduClient): Promise<void> {
  const file = await kudu.getFile(`${SITE_ROOT}/${LAUNCHER_FILE}`);
  const hash = file === null ? '' : sha256(file.body);
  const release = EARLIER_LAUNCHERS.get(hash);
  if (hash === sha256(readTemplate(LAUNCHER_FILE))) {
    core.info(`Kept ${SITE_ROOT}/${LAUNCHER_FILE}: it is this version's launcher.`);
  } else if (release !== undefined) {
    core.warning(
      `${SITE_ROOT}/${LAUNCHER_FILE} is the launcher go-azure-deploy ${release} wrote, which starts whatever path _artifact.txt names; ` +
        `this version's launcher starts only a _target\\<name>.exe that goazure would hand over to, and refuses anything else. ` +
        `Bootstrap never replaces a file on the site. To update it, put templates/${LAUNCHER_FILE} of this version of the action in its place ` +
        `(Kudu's VFS or Debug console), then restart the site before the next deploy: the launcher running now reads on in its file when the app exits.`,
    );
  } else {
    core.info(`Kept your ${LAUNCHER_FILE}: ${SITE_ROOT}/${LAUNCHER_FILE} already exists and is never overwritten.`);
  }
}
