// The workflow bundle as every worker of ours loads it: the SDK's own bundler,
// with zod preloaded. A reusable V8 context evaluates every module of the
// bundle again for each workflow run; zod's own module (its classes and
// locales) was a large part of that. A preloaded module is evaluated once and
// deep-frozen by the SDK, which zod's library code survives: what it builds
// lazily, it builds on the schemas a run creates, never on its exports. Our
// schemas stay per run (zod 4 materialises members on first use: frozen, it
// would throw).
/** The modules every run of a workflow shares. */
export const PRELOADED_MODULES = ['zod'];

/** bundleWorkflowCode with our preloads; `options` as the SDK's (workflowsPath, logger, ...). */
export async function bundleWardenWorkflows(options) {
  // Loaded here, not at the top: the CLI's bundle reaches this file (for the list) and never bundles.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  return bundleWorkflowCode({ ...options, preloadModules: PRELOADED_MODULES });
}
