// A local App Service site: the Kudu emulator and the IIS emulator sharing one D:\home, wired as
// on Azure — Kudu's /api/processes lists the process IIS runs, and the binary it runs is locked.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKudu, type KuduEmulator } from './kudu.ts';
import { startIis, type Iis, type Launcher } from './iis.ts';
import { machineGoVersion, toSemver } from './gomirror.ts';

export interface AppServiceOptions {
  siteName?: string;
  /** 'shell' runs a linux build through go-azure.sh; 'wine' runs go-azure.bat and a windows build. */
  launcher?: Launcher;
  /** Extra environment for the app process (e.g. a faster poll interval). */
  env?: Record<string, string>;
  /** Use this folder as D:\home (created when missing). */
  home?: string;
}

export interface AppService {
  siteName: string;
  /** The site's URL (the IIS emulator). */
  appUrl: string;
  /** The SCM URL (the Kudu emulator). */
  kuduUrl: string;
  home: string;
  wwwroot: string;
  /** A publish profile for the site whose publishUrl is the Kudu emulator. */
  publishProfile: string;
  kudu: KuduEmulator;
  iis: Iis;
  close(): Promise<void>;
}

export async function startAppService(opts: AppServiceOptions = {}): Promise<AppService> {
  const siteName = opts.siteName ?? 'demo-site';
  const home = opts.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gad-home-'));
  const wwwroot = path.join(home, 'site', 'wwwroot');
  fs.mkdirSync(wwwroot, { recursive: true });
  fs.mkdirSync(path.join(home, 'LogFiles'), { recursive: true });
  const iis = await startIis({ home, launcher: opts.launcher ?? 'shell', env: opts.env });
  let kudu: KuduEmulator;
  try {
    kudu = await startKudu({
      siteName,
      home,
      appUrl: iis.url,
      isLocked: (rel) => iis.isLocked(rel),
      processes: () => iis.processes(),
    });
  } catch (err) {
    await iis.close();
    throw err;
  }
  return {
    siteName,
    appUrl: iis.url,
    kuduUrl: kudu.url,
    home,
    wwwroot,
    publishProfile: kudu.publishProfileXml(),
    kudu,
    iis,
    async close() {
      await iis.close();
      await kudu.close();
    },
  };
}

/**
 * The action's inputs that deploy the example app (or `extra['working-directory']`) to this site
 * at `commit`: a build for this machine, which the shell launcher runs, with the machine's Go.
 */
export function deployInputs(site: AppService, commit: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'app-name': site.siteName,
    'publish-profile': site.publishProfile,
    'go-version': toSemver(machineGoVersion()),
    'working-directory': 'example',
    goos: 'linux',
    goarch: process.arch === 'arm64' ? 'arm64' : 'amd64',
    commit,
    ...extra,
  };
}
