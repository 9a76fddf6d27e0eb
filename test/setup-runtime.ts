import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log warnings and errors only; lifecycle chatter hides failures.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process.
}
