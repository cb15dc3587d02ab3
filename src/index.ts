// Entry point of the bundled action (dist/index.js), for the main step and the post entry alike
// (action.yml; src/post.ts tells which this run is).
import { run } from './main.ts';
import { isPostRun, markMainFinished, markMainStarted, runPost } from './post.ts';

if (isPostRun()) {
  await runPost();
} else {
  markMainStarted();
  await run();
  markMainFinished();
}
// Work abandoned when the deploy aborted (a token refresh the sign-in library does not stop, say)
// may still hold a socket open; the step ends with the deploy, with the exit code run() set. The
// log is flushed first: on Windows runners stdout is a pipe, which Node writes asynchronously.
const flushed = (stream: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit();
