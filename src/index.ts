// Entry point of the bundled action (dist/index.js).
import { run } from './main.ts';

await run();
// Work abandoned when the deploy aborted (a token refresh the sign-in library does not stop, say)
// may still hold a socket open; the step ends with the deploy, with the exit code run() set. The
// log is flushed first: on Windows runners stdout is a pipe, which Node writes asynchronously.
const flushed = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit();
