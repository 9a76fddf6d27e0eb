import type { BundleOptions, WorkflowBundleWithSourceMap } from '@temporalio/worker';
/** The modules every run of a workflow shares (see workflow-bundle.mjs). */
export const PRELOADED_MODULES: readonly string[];
/** bundleWorkflowCode with Warden's preloads. */
export function bundleWardenWorkflows(options: BundleOptions): Promise<WorkflowBundleWithSourceMap>;
