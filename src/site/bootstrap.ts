// The bootstrap stage: web.config and go-azure.bat written only if absent. docs/ARCHITECTURE.md, "The flow".
// The templates ship with the action in templates/; a file already on the site is the user's
// and is never replaced.

import * as core from '@actions/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActionError } from '../common/errors.ts';
import { KuduError, type KuduClient } from './kudu.ts';
import { LAUNCHER_FILES, SITE_ROOT } from './layout.ts';

export interface BootstrapResult {
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
    if (fs.existsSync(path.join(candidate, LAUNCHER_FILES[1]))) return candidate + path.sep;
    dir = path.dirname(dir);
  }
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates') + path.sep;
}

export function readTemplate(name: string): Buffer {
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
      core.info(`Kept your ${name}: ${SITE_ROOT}/${name} already exists and is never overwritten.`);
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
