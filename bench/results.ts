// Each benchmark records its headline figures here, so `npm run bench` can print them in one
// table. Without BENCH_RESULTS set (a benchmark run on its own) this does nothing.

import * as fs from 'node:fs';

export interface Figure {
  bench: string;
  figure: string;
  value: number;
  /** Unit shown after the value: 'x' for a ratio, 's', 'failed/swap'… */
  unit: string;
  /** The goal, as text (e.g. '≤ 1.2'); '' when the issue sets none. */
  goal: string;
  met?: boolean;
}

export function recordFigure(f: Figure): void {
  const file = process.env.BENCH_RESULTS;
  if (file) fs.appendFileSync(file, `${JSON.stringify(f)}\n`);
}
