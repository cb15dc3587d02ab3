// What a path looks like wherever the action shows it: the log, the job summary, the deploy record
// (_deploys.json) and the deployment messages mirrored to Kudu. A health-path may carry a token
// in its query string, and each of those places is readable by more people than the workflow's
// secrets are; the request itself still uses the full path.

/**
 * The path with every query value replaced by `***`, names and order kept: `/healthz?token=abc&v`
 * shows as `/healthz?token=***&v`. A path without a query comes back unchanged.
 */
export function redactQuery(path: string): string {
  const at = path.indexOf('?');
  if (at < 0) return path;
  const query = path
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? pair : `${pair.slice(0, eq)}=***`;
    })
    .join('&');
  return `${path.slice(0, at)}?${query}`;
}
