// The environment every program the action starts gets (go, tar): the runner's, without the
// variables that carry the action's secrets. See docs/ARCHITECTURE.md, "Shared plumbing".

/**
 * Variables no program the action starts needs and none may see: the action's inputs
 * (publish-profile and client-secret among them) and the runner's tokens for minting OIDC tokens.
 * A build can run code from the module's dependencies (-toolexec, cgo's compilers, a `go` of
 * another version named in go.mod); none of it gets the credentials to the site.
 */
export function isSecretVariable(name: string): boolean {
  const n = name.toUpperCase();
  return n.startsWith('INPUT_') || n === 'ACTIONS_ID_TOKEN_REQUEST_TOKEN' || n === 'ACTIONS_ID_TOKEN_REQUEST_URL' || n === 'ACTIONS_RUNTIME_TOKEN';
}

/** `base` (the action's own environment unless given) without the secret variables. */
export function childEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(base).filter(([name]) => !isSecretVariable(name)));
}
