// The bootstrap stage: web.config and go-azure.bat written only if absent. DESIGN.md §3.7.
// The templates ship with the action in templates/; a file already on the site is the user's
// and is never replaced.

import * as core from '@actions/core';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ActionError } from './errors.ts';
import { KuduError, type KuduClient } from './kudu.ts';

export interface BootstrapResult {
  written: string[];
  kept: string[];
}

export const SITE_DIR = 'site/wwwroot';
export const BOOTSTRAP_FILES = ['web.config', 'go-azure.bat'] as const;

/** The action's templates folder: `templates/` beside `src/` and beside `dist/`. */
export function templatesDir(): string {
  return fileURLToPath(new URL('../templates/', import.meta.url));
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
  const listing = (await kudu.listDir(SITE_DIR)) ?? [];
  const present = new Set(listing.map((e) => e.name.toLowerCase()));
  return BOOTSTRAP_FILES.filter((f) => !present.has(f.toLowerCase()));
}

export async function bootstrapSite(kudu: KuduClient): Promise<BootstrapResult> {
  const missing = new Set(await missingBootstrapFiles(kudu));
  const result: BootstrapResult = { written: [], kept: [] };
  for (const name of BOOTSTRAP_FILES) {
    if (!missing.has(name)) {
      result.kept.push(name);
      core.info(`Kept your ${name}: ${SITE_DIR}/${name} already exists and is never overwritten.`);
      continue;
    }
    const content = readTemplate(name);
    try {
      // No If-Match: Kudu only creates. Should the file appear meanwhile, it answers 412 and the
      // user's file stays.
      await kudu.putFile(`${SITE_DIR}/${name}`, content);
      result.written.push(name);
      core.info(`Wrote ${SITE_DIR}/${name} from the action's template.`);
    } catch (err) {
      if (!(err instanceof KuduError && err.status === 412)) throw err;
      result.kept.push(name);
      core.info(`Kept your ${name}: it appeared on the site meanwhile and was not overwritten.`);
    }
  }
  return result;
}
