// A publish profile (the XML the portal downloads) turned into a Kudu target with Basic auth.

import type { Config } from './inputs.ts';
import type { Target } from './target.ts';
import { NotImplementedError } from './errors.ts';

export function targetFromPublishProfile(_cfg: Config, _xml: string): Target {
  throw new NotImplementedError('publish profile');
}
