// The one Kudu client: VFS, zip and processes APIs over the one retry policy. See DESIGN.md §4.

import type { Target } from './target.ts';
import { NotImplementedError } from './errors.ts';

export class KuduClient {
  readonly baseUrl: string;
  constructor(target: Target, _signal: AbortSignal) {
    this.baseUrl = target.kuduUrl;
  }
  static notImplemented(): never {
    throw new NotImplementedError('Kudu client');
  }
}
